package stewai

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stewai/stewai-go/internal/clock"
)

// Client-wide pacing of polls. A wait's own schedule (retry.go) spaces its
// polls; two things space the polls of all a client's waits together:
//
//   - a rate-limit answer: a 429 with Retry-After on any request of the
//     client pauses every poll until the time it names (capped at
//     MaxRetryAfter; a later 429 moves the end later, never adds up), so
//     that one answer slows the client rather than one wait at a time;
//   - WithPollRate: at most so many polls in a second, in the order the
//     pollers start them (first come, first served).
//
// Both are checked on the poller, when a poll is about to be sent, and the
// poll waits there: a poll that waited for a poller still sees a pause that
// began meanwhile, and polls held back go out in the order they came.

// pause is the end of the client's pause of polls, on its clock.
type pause struct {
	until atomic.Int64 // UnixNano; 0: never paused
}

// extend moves the end of the pause to t, when that is later.
func (p *pause) extend(t time.Time) {
	n := t.UnixNano()
	for {
		cur := p.until.Load()
		if n <= cur || p.until.CompareAndSwap(cur, n) {
			return
		}
	}
}

// left returns how long the pause lasts from now, or 0.
func (p *pause) left(now time.Time) time.Duration {
	n := p.until.Load()
	if n == 0 {
		return 0
	}
	return max(0, time.Unix(0, n).Sub(now))
}

// maxPollBurst bounds the polls a rate gate lets out at once, and so the
// slots it remembers.
const maxPollBurst = 1024

// maxPollWindow bounds the span a rate gate looks back on, for rates so
// low that it would overflow.
const maxPollWindow = time.Duration(1 << 60)

// rateGate hands out the times at which polls may go out: at most burst of
// them in any span of window (burst/rate seconds: a whole number of polls
// per second gives at most that many in any second, all at once if they
// are due at once). Slots are handed out in the order asked for and never
// go back in time; a slot given back no longer counts.
type rateGate struct {
	mu     sync.Mutex
	window time.Duration
	burst  int
	slots  []time.Time // handed out and still within a window of now or later, in order
}

// newRateGate returns the gate of WithPollRate(perSecond), or nil for
// no bound (perSecond 0).
func newRateGate(perSecond float64) *rateGate {
	if !(perSecond > 0) {
		return nil
	}
	burst := int(min(max(1, math.Floor(perSecond)), maxPollBurst))
	window := maxPollWindow
	if w := float64(burst) / perSecond * float64(time.Second); w < float64(maxPollWindow) {
		window = time.Duration(math.Ceil(w))
	}
	return &rateGate{window: window, burst: burst}
}

// reserve returns the time, now or later, at which the next poll may go
// out. A slot at or after deadline is not handed out (the poll cannot use
// it): the caller gets it back only to see it is too late.
func (g *rateGate) reserve(now, deadline time.Time) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	// Slots a window old no longer bound anything.
	old := 0
	for old < len(g.slots) && !g.slots[old].Add(g.window).After(now) {
		old++
	}
	g.slots = append(g.slots[:0], g.slots[old:]...)
	slot := now
	if n := len(g.slots); n > 0 {
		slot = later(slot, g.slots[n-1]) // never before a slot handed out
		if n >= g.burst {
			slot = later(slot, g.slots[n-g.burst].Add(g.window))
		}
	}
	if slot.Before(deadline) {
		g.slots = append(g.slots, slot)
	}
	return slot
}

// release gives back a slot that reserve handed out and the poll did not
// use, so that it holds back no later poll.
func (g *rateGate) release(slot time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := len(g.slots) - 1; i >= 0; i-- {
		if g.slots[i].Equal(slot) {
			g.slots = append(g.slots[:i], g.slots[i+1:]...)
			return
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// noteAnswer pauses polls after a 429 that came with a Retry-After.
func (c *core) noteAnswer(status int, retryAfter time.Duration) {
	if status == 429 && retryAfter > 0 {
		c.paused.extend(c.clock.Now().Add(min(retryAfter, MaxRetryAfter)))
	}
}

// pace holds a poll on its poller until it may go out, within the wait's
// deadline: while the client's polls are paused it waits for the pause to
// end, and under WithPollRate for the poll's slot. Holding its poller, the
// poll keeps its place: pollers take polls in the order they were queued.
// A slot the poll does not use (its wait ended, or a pause began while it
// waited) is given back.
func (c *core) pace(ctx context.Context, r *request, deadline time.Time) error {
	clk := c.clock
	for {
		now := clk.Now()
		if left := c.paused.left(now); left > 0 {
			if err := sleepUntil(ctx, clk, now, earlier(now.Add(left), deadline)); err != nil {
				return errCanceled(r, err)
			}
			if !clk.Now().Before(deadline) {
				return errNoTimeLeft(r)
			}
			continue
		}
		if c.gate == nil {
			return nil
		}
		slot := c.gate.reserve(now, deadline)
		if !slot.Before(deadline) {
			return errNoTimeLeft(r)
		}
		if err := sleepUntil(ctx, clk, now, slot); err != nil {
			c.gate.release(slot)
			return errCanceled(r, err)
		}
		if c.paused.left(clk.Now()) == 0 {
			return nil
		}
		c.gate.release(slot) // a pause began meanwhile: wait it out first
	}
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// sleepUntil sleeps on clk from now until t.
func sleepUntil(ctx context.Context, clk clock.Clock, now, t time.Time) error {
	if d := t.Sub(now); d > 0 {
		return clk.Sleep(ctx, d)
	}
	return nil
}
