package clock

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestFakeSleepAdvances(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewFake(start)
	assert.NoError(t, c.Sleep(context.Background(), 3*time.Second))
	assert.NoError(t, c.Sleep(context.Background(), 0))
	assert.Equal(t, start.Add(3*time.Second), c.Now())
	assert.Equal(t, []time.Duration{3 * time.Second, 0}, c.Sleeps())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, c.Sleep(ctx, time.Second), context.Canceled)
	assert.Equal(t, start.Add(3*time.Second), c.Now(), "a cancelled sleep does not move time")
}

func TestFakeTimers(t *testing.T) {
	c := NewFake(time.Time{})
	fired := make(chan string, 3)
	c.AfterFunc(2*time.Second, func() { fired <- "a" })
	stopB := c.AfterFunc(5*time.Second, func() { fired <- "b" })
	assert.Equal(t, 2, c.Timers())
	c.Advance(time.Second)
	assert.Empty(t, fired)
	c.Advance(time.Second)
	assert.Equal(t, "a", <-fired)
	assert.True(t, stopB(), "b was pending")
	assert.False(t, stopB(), "and is stopped only once")
	c.Advance(time.Hour)
	assert.Equal(t, 0, c.Timers())
	assert.Empty(t, fired)
}

func TestRealSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, Real.Sleep(ctx, time.Hour), context.Canceled, "returns at once")
	assert.NoError(t, Real.Sleep(context.Background(), 0))
}
