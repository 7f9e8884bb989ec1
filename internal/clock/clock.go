// Package clock abstracts time so that waits, retry sleeps and request
// timeouts can run on virtual time in tests.
package clock

import (
	"context"
	"math/rand/v2"
	"time"
)

// Clock is the source of time for the SDK.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep pauses for d, or until ctx is done, in which case it returns
	// ctx.Err() at once.
	Sleep(ctx context.Context, d time.Duration) error
	// WithTimeout returns a copy of ctx that is cancelled with cause once d
	// has passed on this clock (context.Cause then returns cause), or when
	// ctx is. The returned cancel releases its resources; call it when done.
	WithTimeout(ctx context.Context, d time.Duration, cause error) (context.Context, context.CancelFunc)
	// Jitter returns a number in [0, 1) for the jitter of retry and poll
	// schedules. A Virtual clock draws it from a seeded source, so that a
	// test's schedules repeat from run to run.
	Jitter() float64
	// Enter marks the start of a call (an SDK method, from its start to its
	// end), returning the context to run it with and leave, to call when it
	// ends. Idle marks ctx's call as waiting on something other than the
	// clock (a loop body of the caller's, a free poller) until resume is
	// called. Only a Virtual clock counts calls, to know when every one is
	// asleep; on the others both do nothing.
	Enter(ctx context.Context) (context.Context, func())
	Idle(ctx context.Context) (resume func())
}

func noop() {}

// Real is the wall clock.
var Real Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	if ctx.Done() == nil { // never cancelled: no timer to make and stop
		time.Sleep(d)
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (realClock) Enter(ctx context.Context) (context.Context, func()) { return ctx, noop }
func (realClock) Idle(context.Context) func()                         { return noop }
func (realClock) Jitter() float64                                     { return rand.Float64() }

// WithTimeout is context.WithTimeoutCause made cheaper: one runtime timer
// serves every deadline (deadline.go). Inside a testing/synctest bubble,
// whose time is the bubble's own, it is context.WithTimeoutCause.
func (realClock) WithTimeout(ctx context.Context, d time.Duration, cause error) (context.Context, context.CancelFunc) {
	now := time.Now()
	if inBubble(now) {
		return context.WithTimeoutCause(ctx, d, cause)
	}
	return withTimeout(realDog, ctx, now, d, cause)
}

// RequestTimeout is the real clock's WithTimeout for the context of a
// request handed straight to net/http's Transport, with no code of anyone
// else's between them (no middleware, no round tripper of the caller's):
// cheaper, as long as no context with a value is made under it. Read its
// cause with Cause.
func RequestTimeout(ctx context.Context, d time.Duration, cause error) (context.Context, context.CancelFunc) {
	now := time.Now()
	if inBubble(now) {
		return context.WithTimeoutCause(ctx, d, cause)
	}
	return withAttemptTimeout(realDog, ctx, now, d, cause)
}

// inBubble reports whether now was read inside a testing/synctest bubble,
// whose times have no monotonic reading.
func inBubble(now time.Time) bool { return now == now.Round(0) }
