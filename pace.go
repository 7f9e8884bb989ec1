package stewai

import (
	"context"
	"errors"
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
// Both are checked on the poller, when a poll is about to be sent: a poll
// that waited for a poller still sees a pause that began meanwhile.

// errPaused is what a poll that was not sent, because the client's polls
// are paused, tells its wait; the wait sleeps until the pause ends.
var errPaused = errors.New("stewai: polls paused after a rate-limit answer")

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
// go back in time.
type rateGate struct {
	mu     sync.Mutex
	window time.Duration
	slots  []time.Time // the last burst slots handed out, a ring
	next   int         // the oldest slot in the ring
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
	return &rateGate{window: window, slots: make([]time.Time, burst)}
}

// reserve returns the time, now or later, at which the next poll may go
// out. A slot at or after deadline is not handed out (the poll cannot use
// it): the caller gets it back only to see it is too late.
func (g *rateGate) reserve(now, deadline time.Time) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	slot := now
	if oldest := g.slots[g.next]; !oldest.IsZero() {
		slot = later(slot, oldest.Add(g.window))
	}
	last := g.slots[(g.next+len(g.slots)-1)%len(g.slots)]
	slot = later(slot, last)
	if !slot.Before(deadline) {
		return slot
	}
	g.slots[g.next] = slot
	g.next = (g.next + 1) % len(g.slots)
	return slot
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

// pace holds a poll on its poller until it may go out: it returns errPaused
// while the client's polls are paused, and otherwise waits for the poll's
// slot under WithPollRate, within the wait's deadline. A pause that begins
// while it waits for its slot still holds the poll back.
func (c *core) pace(ctx context.Context, r *request, deadline time.Time) error {
	clk := c.clock
	if c.paused.left(clk.Now()) > 0 {
		return errPaused
	}
	if c.gate == nil {
		return nil
	}
	now := clk.Now()
	slot := c.gate.reserve(now, deadline)
	if !slot.Before(deadline) {
		return errNoTimeLeft(r)
	}
	if err := sleepUntil(ctx, clk, now, slot); err != nil {
		return errCanceled(r, err)
	}
	if c.paused.left(clk.Now()) > 0 {
		return errPaused
	}
	return nil
}

// sleepUntil sleeps on clk from now until t.
func sleepUntil(ctx context.Context, clk clock.Clock, now, t time.Time) error {
	if d := t.Sub(now); d > 0 {
		return clk.Sleep(ctx, d)
	}
	return nil
}
