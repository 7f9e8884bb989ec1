// Package clock abstracts time so that waits, retry sleeps and request
// timeouts can run on virtual time in tests.
package clock

import (
	"context"
	"sort"
	"sync"
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
	// Enter marks the start of a call that uses the clock, returning the
	// context to run it with and leave, to call when it ends. Only a
	// Virtual clock counts calls; the others return ctx and a no-op.
	Enter(ctx context.Context) (context.Context, func())
	// Idle marks ctx's call as waiting on its caller (an iterator's loop
	// body) until resume is called.
	Idle(ctx context.Context) (resume func())
	// BeginRoundTrip marks ctx's call as sending a request until end is
	// called. A non-empty tag is to be sent in the CallHeader header, so
	// that a server on the same Virtual clock can hold the request (see
	// Virtual.SleepFor). Only a Virtual clock returns one.
	BeginRoundTrip(ctx context.Context) (tag string, end func())
	// Waiting tells the clock that a timer of ctx's call fired without
	// ending what the call waits for (a stall check that found progress):
	// the call goes back to waiting. Only a Virtual clock keeps track.
	Waiting(ctx context.Context)
}

// CallHeader carries a request's tag from a client on a Virtual clock to a
// fake server on the same clock. No other server sees it.
const CallHeader = "Stewaitest-Call"

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
func (realClock) Waiting(context.Context)                             {}
func (realClock) Idle(context.Context) func()                         { return noop }
func (realClock) BeginRoundTrip(context.Context) (string, func())     { return "", noop }

// WithTimeout is context.WithTimeoutCause: a runtime timer, no goroutine.
func (realClock) WithTimeout(ctx context.Context, d time.Duration, cause error) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, cause)
}

// Fake is a virtual clock. Sleep returns at once after moving the clock
// forward, so code that sleeps runs instantly and deterministically; timers
// set with AfterFunc fire when the clock passes them.

type Fake struct {
	mu      sync.Mutex
	start   time.Time
	skipped time.Duration
	timers  []*fakeTimer
	sleeps  []time.Duration
	onSleep func(d time.Duration)
}

type fakeTimer struct {
	at    time.Time
	f     func()
	fired bool
}

// NewFake returns a virtual clock that reads start until it is advanced.
func NewFake(start time.Time) *Fake { return &Fake{start: start} }

// Now returns the virtual time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nowLocked()
}

func (f *Fake) nowLocked() time.Time {
	return f.start.Add(f.skipped)
}

// Sleep records d, moves the clock forward by d and returns without
// waiting. It returns ctx.Err() when ctx is done, before or after the hook
// set by OnSleep has run.
func (f *Fake) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	f.sleeps = append(f.sleeps, d)
	hook := f.onSleep
	f.mu.Unlock()
	if hook != nil {
		hook(d)
	}
	if d > 0 {
		f.Advance(d)
	}
	return ctx.Err()
}

// OnSleep sets a function called at the start of every Sleep, with its
// duration, before the clock moves.
func (f *Fake) OnSleep(fn func(d time.Duration)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onSleep = fn
}

// Sleeps returns the durations passed to Sleep so far, in order.
func (f *Fake) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// Advance moves the clock forward by d and runs the timers that are due, in
// deadline order, before it returns.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.skipped += d
	now := f.nowLocked()
	var due []*fakeTimer
	kept := f.timers[:0]
	for _, t := range f.timers {
		if !t.at.After(now) {
			t.fired = true
			due = append(due, t)
		} else {
			kept = append(kept, t)
		}
	}
	f.timers = kept
	f.mu.Unlock()
	sort.SliceStable(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}

// Enter does nothing: a Fake moves only when told to.
func (f *Fake) Enter(ctx context.Context) (context.Context, func()) { return ctx, noop }

// Idle does nothing.
func (f *Fake) Idle(context.Context) func() { return noop }

// Waiting does nothing.
func (f *Fake) Waiting(context.Context) {}

// BeginRoundTrip does nothing.
func (f *Fake) BeginRoundTrip(context.Context) (string, func()) { return "", noop }

// WithTimeout returns a context cancelled with cause when the clock passes
// d from now, by Advance, Sleep or (on a skipping clock) the wall clock.
func (f *Fake) WithTimeout(ctx context.Context, d time.Duration, cause error) (context.Context, context.CancelFunc) {
	tctx, cancel := context.WithCancelCause(ctx)
	stop := f.AfterFunc(d, func() { cancel(cause) })
	return tctx, func() { stop(); cancel(context.Canceled) }
}

// AfterFunc calls fn once the virtual clock has moved d past now.
func (f *Fake) AfterFunc(d time.Duration, fn func()) func() bool {
	f.mu.Lock()
	t := &fakeTimer{at: f.nowLocked().Add(d), f: fn}
	if d <= 0 {
		t.fired = true
		f.mu.Unlock()
		fn()
		return func() bool { return false }
	}
	f.timers = append(f.timers, t)
	f.mu.Unlock()
	return func() bool { return f.take(t) }
}

// take removes t from the pending timers and reports whether it was still
// pending, so that each timer fires or stops exactly once.
func (f *Fake) take(t *fakeTimer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.fired {
		return false
	}
	t.fired = true
	for i, p := range f.timers {
		if p == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			break
		}
	}
	return true
}

// Timers returns how many AfterFunc timers are pending.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}
