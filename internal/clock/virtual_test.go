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
	v := NewVirtual(start, 1)
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
	v := NewVirtual(start, 1)
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
	v := NewVirtual(start, 1)
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
	v := NewVirtual(start, 1)
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
	v := NewVirtual(start, 1)
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
	v := NewVirtual(start, 1)
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

// Two clocks with the same seed give the same jitter; another seed, other
// numbers.
func TestVirtualJitterIsSeeded(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b, c := NewVirtual(start, 7), NewVirtual(start, 7), NewVirtual(start, 8)
	var same, other int
	for range 100 {
		x, y, z := a.Jitter(), b.Jitter(), c.Jitter()
		if x < 0 || x >= 1 {
			t.Fatalf("jitter %v is outside [0, 1)", x)
		}
		if x == y {
			same++
		}
		if x == z {
			other++
		}
	}
	if same != 100 || other > 1 {
		t.Fatalf("same seed agreed %d/100 times, other seed %d/100", same, other)
	}
}

// A timer armed again while the server holds the call's round trip puts
// the call back to sleep: time moves on to the server's wake-up.
func TestVirtualTimerArmedAgainDuringAHeldRoundTrip(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := NewVirtual(start, 1)
	ctx, leave := v.Enter(context.Background())
	defer leave()
	tag, end := v.BeginRoundTrip(ctx)
	defer end()
	held := make(chan error, 1)
	go func() { held <- v.SleepFor(context.Background(), tag, 10*time.Second) }()
	first, stop1 := v.WithTimeout(ctx, 3*time.Second, errors.New("window"))
	defer stop1()
	<-first.Done() // fired at 3 s: the call is awake
	second, stop2 := v.WithTimeout(ctx, 30*time.Second, errors.New("window"))
	defer stop2()
	if err := <-held; err != nil { // reached only if time moved on to 10 s
		t.Fatal(err)
	}
	if got := v.Now().Sub(start); got != 10*time.Second {
		t.Fatalf("the server's hold ended at %s, want 10s", got)
	}
	if second.Err() != nil {
		t.Fatal("the second window fired early")
	}
}
