package clock

import (
	"container/heap"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Virtual is a clock for fakes shared by many goroutines, on the model of
// testing/synctest: time stands still while any call using the clock is
// doing something, and jumps to the earliest wake-up only when every call
// is asleep. Any number of concurrent calls then see exactly the time they
// would see in real time, whatever the scheduling: no call's deadline runs
// out on time another goroutine slept.
//
// A call is what Enter starts: an SDK method, from its start to its end. It
// is awake, except while it sleeps (Sleep), while its loop body runs
// elsewhere (Idle), or while the request it sent is held by the server on
// this clock (SleepFor, with the tag BeginRoundTrip gave the request). A
// timer of the call firing (WithTimeout) wakes it.
type Virtual struct {
	mu     sync.Mutex
	rand   *rand.Rand // jitter, seeded
	now    time.Time
	awake  int // calls that are not asleep
	calls  map[uint64]*call
	wakeAt wakeups
	ids    uint64
}

// NewVirtual returns a virtual clock that reads start until it moves, whose
// jitter comes from a source seeded with seed.
func NewVirtual(start time.Time, seed int64) *Virtual {
	return &Virtual{now: start, calls: map[uint64]*call{}, rand: rand.New(rand.NewPCG(uint64(seed), 0x5745_5741_4954))}
}

// Jitter returns the next number of the clock's seeded source.
func (v *Virtual) Jitter() float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.rand.Float64()
}

// call is the state of one call on the clock.
type call struct {
	id       uint64
	asleep   bool // as last counted in Virtual.awake
	sleeping bool // in Sleep
	idle     int  // Idle depth
	rt       uint64
	serverRT uint64 // the round trip the server holds on this clock
	kicked   bool   // a timer fired during the round trip or the idling
}

// isAsleep: a call is asleep in Sleep, and while it is idle or its round
// trip is held by the server, until one of its timers fires: then its
// goroutine has something to do (the timer ended what it waited for), and
// time must stand still until it has done it.
func (c *call) isAsleep() bool {
	return c.sleeping || ((c.idle > 0 || c.rt != 0 && c.serverRT == c.rt) && !c.kicked)
}

type callKey struct{ v *Virtual }

// callOf returns ctx's call on v, or nil.
func (v *Virtual) callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{v}).(*call)
	return c
}

// Now returns the virtual time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// Enter starts a call, awake, unless ctx is in one already. leave ends it.
func (v *Virtual) Enter(ctx context.Context) (context.Context, func()) {
	if v.callOf(ctx) != nil {
		return ctx, func() {}
	}
	v.mu.Lock()
	v.ids++
	c := &call{id: v.ids}
	v.calls[c.id] = c
	v.awake++
	v.mu.Unlock()
	return context.WithValue(ctx, callKey{v}, c), func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		delete(v.calls, c.id)
		if !c.asleep {
			v.awake--
		}
		v.advance()
	}
}

// Idle marks ctx's call as asleep until resume: an iterator does it while
// its caller's loop body runs, which may wait on other calls.
func (v *Virtual) Idle(ctx context.Context) (resume func()) {
	c := v.callOf(ctx)
	if c == nil {
		return func() {}
	}
	v.mu.Lock()
	if c.idle == 0 && c.rt == 0 {
		c.kicked = false // a new idling: no timer has fired in it yet
	}
	c.idle++
	v.update(c)
	v.mu.Unlock()
	return func() {
		v.mu.Lock()
		c.idle--
		v.update(c)
		v.mu.Unlock()
	}
}

// update recounts c after a change of its state and moves time on when
// every call is asleep. v.mu is held.
func (v *Virtual) update(c *call) {
	v.recount(c)
	v.advance()
}

// recount counts c as awake or asleep after a change of its state. v.mu is
// held.
func (v *Virtual) recount(c *call) {
	if asleep := c.isAsleep(); asleep != c.asleep {
		c.asleep = asleep
		if asleep {
			v.awake--
		} else {
			v.awake++
		}
	}
}

// advance fires wake-ups in time order while every call is asleep. v.mu is
// held.
func (v *Virtual) advance() {
	for v.awake == 0 && len(v.wakeAt) > 0 {
		w := heap.Pop(&v.wakeAt).(*wakeup)
		if w.at.After(v.now) {
			v.now = w.at
		}
		w.fired = true
		w.fire(v)
	}
}

// Sleep waits until d has passed on the clock, or ctx is done.
func (v *Virtual) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	ctx, leave := v.Enter(ctx)
	defer leave()
	c := v.callOf(ctx)
	return v.wait(ctx, d, c, func(sleeping bool) { c.sleeping = sleeping })
}

// wait parks the caller until a wake-up d from now, setting the call's
// state with mark(true) meanwhile; ctx's end removes the wake-up.
func (v *Virtual) wait(ctx context.Context, d time.Duration, c *call, mark func(bool)) error {
	done := make(chan struct{})
	v.mu.Lock()
	w := v.schedule(d, func(v *Virtual) {
		mark(false)
		v.recount(c)
		close(done)
	})
	mark(true)
	v.update(c)
	v.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		v.mu.Lock()
		if !w.fired {
			heap.Remove(&v.wakeAt, w.index)
			mark(false)
			v.update(c)
		}
		v.mu.Unlock()
		return ctx.Err()
	}
}

// schedule adds a wake-up d from now. v.mu is held.
func (v *Virtual) schedule(d time.Duration, fire func(*Virtual)) *wakeup {
	v.ids++
	w := &wakeup{at: v.now.Add(d), seq: v.ids, fire: fire}
	heap.Push(&v.wakeAt, w)
	return w
}

// WithTimeout returns a context cancelled with cause when the clock has
// moved d on; its firing wakes the call of ctx. A timer set while the call
// is in a round trip puts the call back to waiting for it, if the server
// holds it: a stall check that found progress arms the next one.
func (v *Virtual) WithTimeout(ctx context.Context, d time.Duration, cause error) (context.Context, context.CancelFunc) {
	tctx, cancel := context.WithCancelCause(ctx)
	c := v.callOf(ctx)
	v.mu.Lock()
	if c != nil && c.rt != 0 && c.kicked {
		c.kicked = false
		v.update(c)
	}
	w := v.schedule(d, func(v *Virtual) {
		cancel(cause)
		if c != nil {
			c.kicked = true
			v.recount(c)
		}
	})
	v.mu.Unlock()
	return tctx, func() {
		v.mu.Lock()
		if !w.fired {
			heap.Remove(&v.wakeAt, w.index)
		}
		v.mu.Unlock()
		cancel(context.Canceled)
	}
}

// BeginRoundTrip marks ctx's call as sending a request and returns a tag
// for it, to pass to the server (which gives it to SleepFor), and end, to
// call when the round trip is over. Outside a call the tag is "". What
// carries the tag to the server is the business of whoever installs the
// clock (stewaitest tags requests in a round tripper beneath the SDK's
// transport); the SDK never calls this.
func (v *Virtual) BeginRoundTrip(ctx context.Context) (tag string, end func()) {
	c := v.callOf(ctx)
	if c == nil {
		return "", func() {}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ids++
	c.rt, c.kicked = v.ids, false
	rt := c.rt
	return fmt.Sprintf("%d.%d", c.id, rt), func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		if c.rt == rt {
			c.rt, c.kicked = 0, false
			v.update(c)
		}
	}
}

// SleepFor waits d on the clock on behalf of the request tagged tag (the
// server holding it, as a slow server would): its call counts as asleep
// meanwhile. With an unknown tag it sleeps as a call of its own.
func (v *Virtual) SleepFor(ctx context.Context, tag string, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	v.mu.Lock()
	c, rt := v.roundTrip(tag)
	v.mu.Unlock()
	if c == nil {
		return v.Sleep(ctx, d)
	}
	return v.wait(ctx, d, c, func(holding bool) {
		if holding {
			c.serverRT = rt
		} else if c.serverRT == rt {
			c.serverRT = 0
		}
	})
}

// roundTrip finds the call and round trip a tag names, if the call is
// still in that round trip. v.mu is held.
func (v *Virtual) roundTrip(tag string) (*call, uint64) {
	id, rt, ok := strings.Cut(tag, ".")
	if !ok {
		return nil, 0
	}
	cid, err1 := strconv.ParseUint(id, 10, 64)
	rid, err2 := strconv.ParseUint(rt, 10, 64)
	c := v.calls[cid]
	if err1 != nil || err2 != nil || c == nil || c.rt != rid {
		return nil, 0
	}
	return c, rid
}

// Pending returns the number of calls in progress and of wake-ups
// scheduled, for tests.
func (v *Virtual) Pending() (calls, wakeups int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.calls), len(v.wakeAt)
}

// wakeup is a sleeper to wake or a timer to fire at a time; seq orders
// wake-ups at the same time by when they were scheduled.
type wakeup struct {
	at    time.Time
	seq   uint64
	fire  func(*Virtual) // called by advance with v.mu held; must not advance
	fired bool
	index int
}

// wakeups is a min-heap of wake-ups by time, then seq.
type wakeups []*wakeup

func (h wakeups) Len() int { return len(h) }
func (h wakeups) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h wakeups) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *wakeups) Push(x any) {
	w := x.(*wakeup)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *wakeups) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return w
}

// CallHeader carries a request's tag (BeginRoundTrip) from a client on a
// Virtual clock to a fake server on the same clock, which passes it to
// SleepFor. It is set by Tagging, beneath the SDK's transport, and removed
// by the server before anything else sees the request.
const CallHeader = "Stewaitest-Call"

// Tagging wraps rt so that each request it sends carries its call's tag in
// CallHeader (an empty value outside a call), and its call counts as in a
// round trip until the answer's headers are in.
func (v *Virtual) Tagging(rt http.RoundTripper) http.RoundTripper {
	return tagging{v, rt}
}

type tagging struct {
	v  *Virtual
	rt http.RoundTripper
}

func (t tagging) RoundTrip(req *http.Request) (*http.Response, error) {
	tag, end := t.v.BeginRoundTrip(req.Context())
	defer end()
	r := *req // a RoundTripper must not change the caller's request
	r.Header = req.Header.Clone()
	r.Header.Set(CallHeader, tag)
	return t.rt.RoundTrip(&r)
}

// CloseIdleConnections passes the call on to the wrapped transport.
func (t tagging) CloseIdleConnections() {
	if c, ok := t.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Tagged reports whether r came through Tagging, and returns its tag.
func Tagged(r *http.Request) (tag string, ok bool) {
	vals, ok := r.Header[CallHeader]
	if !ok || len(vals) == 0 {
		return "", false
	}
	return vals[0], true
}
