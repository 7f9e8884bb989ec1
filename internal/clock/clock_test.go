package clock

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRealSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, Real.Sleep(ctx, time.Hour), context.Canceled, "returns at once")
	assert.NoError(t, Real.Sleep(context.Background(), 0))
}
