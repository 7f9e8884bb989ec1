package clock

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// until yields the processor until cond holds: the goroutines it waits for
// are runnable, so no real time is spent waiting.
func until(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}

func TestVirtualSleepersEachSeeTheirOwnTime(t *testing.T) {
	v := NewVirtual(start)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	// Every call starts before any sleeps, so they all start at the same
	// virtual time.
	ctxs, leaves := make([]context.Context, 100), make([]func(), 100)
	for i := range 100 {
		ctxs[i], leaves[i] = v.Enter(context.Background())
	}
	for i := range 100 {
		ctx, leave := ctxs[i], leaves[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer leave()
			for _, d := range []time.Duration{time.Duration(i+1) * time.Millisecond, time.Second, 3 * time.Second} {
				before := v.Now()
				if err := v.Sleep(ctx, d); err != nil {
					errs <- err
					return
				}
				if got := v.Now().Sub(before); got != d {
					errs <- errors.New("slept " + got.String() + ", want " + d.String())
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, start.Add(100*time.Millisecond+4*time.Second), v.Now(), "calls that start together end at the last wake-up, no later")
}

func TestVirtualStandsStillWhileACallIsAwake(t *testing.T) {
	v := NewVirtual(start)
	_, leaveA := v.Enter(context.Background()) // a call doing something
	woke := make(chan time.Time, 1)
	go func() {
		ctx, leave := v.Enter(context.Background())
		defer leave()
		_ = v.Sleep(ctx, time.Second)
		woke <- v.Now()
	}()
	until(func() bool { _, w := v.Pending(); return w == 1 })
	assert.Equal(t, start, v.Now(), "time stands still while call A is awake")
	assert.Empty(t, woke)
	leaveA()
	assert.Equal(t, start.Add(time.Second), <-woke, "and moves once every call is asleep")
}

func TestVirtualIdleLetsTimeMove(t *testing.T) {
	v := NewVirtual(start)
	ctxA, leaveA := v.Enter(context.Background())
	defer leaveA()
	resume := v.Idle(ctxA) // A's caller runs a loop body that waits on B
	ctxB, leaveB := v.Enter(context.Background())
	require.NoError(t, v.Sleep(ctxB, 2*time.Second))
	leaveB()
	resume()
	assert.Equal(t, start.Add(2*time.Second), v.Now())
}

func TestVirtualTimeoutWakesAHeldCall(t *testing.T) {
	v := NewVirtual(start)
	ctx, leave := v.Enter(context.Background())
	defer leave()
	tctx, cancel := v.WithTimeout(ctx, 5*time.Second, errors.New("attempt timed out"))
	defer cancel()
	tag, end := v.BeginRoundTrip(tctx)
	require.NotEmpty(t, tag)

	// The server holds the request for 10 s, longer than the timeout.
	serverCtx, serverGone := context.WithCancel(context.Background())
	held := make(chan error, 1)
	go func() { held <- v.SleepFor(serverCtx, tag, 10*time.Second) }()

	<-tctx.Done()
	assert.EqualError(t, context.Cause(tctx), "attempt timed out")
	assert.Equal(t, start.Add(5*time.Second), v.Now(), "time moved to the timeout, not to the server's wake-up")
	end()        // the client gives up the round trip
	serverGone() // and the server sees the client go away
	assert.ErrorIs(t, <-held, context.Canceled)
	assert.Equal(t, start.Add(5*time.Second), v.Now())
	calls, wakeups := v.Pending()
	assert.Equal(t, 1, calls)
	assert.Zero(t, wakeups, "the server's wake-up was removed")
}

func TestVirtualServerLatencyShorterThanTimeout(t *testing.T) {
	v := NewVirtual(start)
	ctx, leave := v.Enter(context.Background())
	tctx, cancel := v.WithTimeout(ctx, 5*time.Second, errors.New("timeout"))
	tag, end := v.BeginRoundTrip(tctx)
	require.NoError(t, v.SleepFor(context.Background(), tag, 2*time.Second), "the server's hold ends first")
	end()
	assert.Equal(t, start.Add(2*time.Second), v.Now())
	assert.NoError(t, tctx.Err(), "the timeout did not fire")
	cancel()
	leave() // no call is awake now: an unknown tag sleeps as a call of its own
	assert.NoError(t, v.SleepFor(context.Background(), "not-a-tag", time.Second))
	assert.Equal(t, start.Add(3*time.Second), v.Now())
}

func TestVirtualSleepCancelled(t *testing.T) {
	v := NewVirtual(start)
	ctx, cancel := context.WithCancel(context.Background())
	_, leaveA := v.Enter(context.Background()) // keeps time still
	done := make(chan error, 1)
	go func() { done <- v.Sleep(ctx, time.Hour) }()
	until(func() bool { _, w := v.Pending(); return w == 1 })
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	leaveA()
	calls, wakeups := v.Pending()
	assert.Zero(t, calls)
	assert.Zero(t, wakeups)
	assert.Equal(t, start, v.Now(), "a cancelled sleep does not move time")
}
