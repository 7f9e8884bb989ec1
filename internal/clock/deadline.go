package clock

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// The real clock's timeouts. context.WithTimeoutCause adds a runtime timer
// and deletes it for every context; every attempt of every API call makes
// one, and that was 3-5 % of a call's CPU. Here one watchdog for the whole
// process keeps every deadline, with one timer set for the earliest and
// left alone by contexts that end before it: attempts one after another
// never touch it.
//
// Two kinds of context use it:
//   - timeoutCtx, what WithTimeout returns: a context.WithCancelCause
//     context with a deadline, which the context package and net/http
//     treat as their own wherever it sits (under a middleware's values, say);
//   - attemptCtx, what RequestTimeout returns, cheaper still for a request
//     handed straight to net/http's Transport: contexts derived from it
//     join it through AfterFunc, without the map of children a
//     *cancelCtx keeps.

// watched is a deadline in a watchdog.
type watched struct {
	due   int64 // in nanoseconds from the watchdog's epoch
	index int32 // in the watchdog's heap (guarded by its mu); -1 when out
	owner interface{ expire() }
}

// newWatched is the deadline d after now, on dog's time.
func newWatched(dog *watchdog, now time.Time, d time.Duration) watched {
	return watched{due: addSaturating(now.Sub(dog.epoch), d), index: -1}
}

// orDeadlineExceeded is the cause of a timeout: cause, or, when none was
// given, context.DeadlineExceeded.
func orDeadlineExceeded(cause error) error {
	if cause == nil {
		return context.DeadlineExceeded
	}
	return cause
}

// timeoutCtx is a context.WithCancelCause context cancelled with its
// timeout's cause when its deadline passes.
type timeoutCtx struct {
	context.Context // a context.WithCancelCause of the parent
	cancel          context.CancelCauseFunc
	deadline        time.Time
	timeout         error // the cause when the deadline passes
	expired         atomic.Bool
	watched
}

// withTimeout returns a copy of parent cancelled once d has passed since
// now on dog's time (Err is then context.DeadlineExceeded and
// context.Cause is cause), when parent is, or when cancel is called.
func withTimeout(dog *watchdog, parent context.Context, now time.Time, d time.Duration, cause error) (context.Context, context.CancelFunc) {
	inner, cancelCause := context.WithCancelCause(parent)
	c := &timeoutCtx{Context: inner, cancel: cancelCause, deadline: now.Add(d),
		timeout: orDeadlineExceeded(cause), watched: newWatched(dog, now, d)}
	c.owner = c
	if d <= 0 {
		c.expire()
	} else if inner.Err() == nil {
		dog.add(&c.watched)
	}
	return c, func() {
		dog.remove(&c.watched)
		cancelCause(context.Canceled)
	}
}

// expire ends c as its deadline passing does.
func (c *timeoutCtx) expire() {
	if c.Context.Err() == nil {
		c.expired.Store(true)
	}
	c.cancel(c.timeout)
}

// Deadline is the earlier of c's deadline and its parent's.
func (c *timeoutCtx) Deadline() (time.Time, bool) {
	if pd, ok := c.Context.Deadline(); ok && pd.Before(c.deadline) {
		return pd, true
	}
	return c.deadline, true
}

// Err is context.DeadlineExceeded once the deadline has passed, as for a
// context of context.WithTimeout; otherwise what ended the context.
func (c *timeoutCtx) Err() error {
	err := c.Context.Err()
	if err != nil && c.expired.Load() && context.Cause(c.Context) == c.timeout {
		return context.DeadlineExceeded
	}
	return err
}

func (c *timeoutCtx) String() string {
	return "clock.WithTimeout(deadline " + c.deadline.String() + ")"
}

// attemptCtx is a context cancelled when its deadline passes, when its
// parent is, or by its cancel function, made for a request handed straight
// to net/http's Transport. Contexts derived from it directly join it
// through AfterFunc; one derived under another context (a value's) would
// cost the context package a goroutine, which is why only a request that
// no other code sees uses it. Its cause is read with Cause: context.Cause
// sees context.DeadlineExceeded. A parent's cancellation reaches it from a
// goroutine of the context package's (context.AfterFunc).
type attemptCtx struct {
	parent   context.Context
	dog      *watchdog
	deadline time.Time
	done     chan struct{}

	mu    sync.Mutex
	err   error // set once, when done is closed
	cause error // what Cause returns once err is set: at first, the timeout's
	// first and more are the functions registered by AfterFunc, neither
	// run nor stopped yet: one is the common case (net/http's context for
	// the request), kept without a slice.
	first  afterFunc
	more   *[]afterFunc
	nextID uint32
	// stopParent undoes the registration with a parent that can be
	// cancelled; nil when the parent never is.
	stopParent func() bool
	watched
}

type afterFunc struct {
	id uint32 // 0 for an empty slot
	f  func()
}

// withAttemptTimeout is withTimeout for an attemptCtx.
func withAttemptTimeout(dog *watchdog, parent context.Context, now time.Time, d time.Duration, cause error) (context.Context, context.CancelFunc) {
	c := &attemptCtx{parent: parent, dog: dog, deadline: now.Add(d), done: make(chan struct{}),
		cause: orDeadlineExceeded(cause), watched: newWatched(dog, now, d)}
	c.owner = c
	cancel := func() { c.cancel(context.Canceled, context.Canceled) }
	pd := parent.Done()
	if pd != nil {
		select {
		case <-pd:
			c.cancel(parent.Err(), context.Cause(parent))
			return c, cancel
		default:
		}
	}
	if d <= 0 {
		c.expire()
		return c, cancel
	}
	dog.add(&c.watched)
	if pd != nil {
		// Registered last: from here on a cancelled parent cancels c,
		// which leaves the watchdog.
		stop := context.AfterFunc(parent, func() { c.cancel(parent.Err(), context.Cause(parent)) })
		c.mu.Lock()
		ended := c.err != nil
		if !ended {
			c.stopParent = stop
		}
		c.mu.Unlock()
		if ended { // c ended meanwhile: leave the parent now
			stop()
		}
	}
	return c, cancel
}

// expire ends c as its deadline passing does.
func (c *attemptCtx) expire() { c.cancel(context.DeadlineExceeded, nil) }

func (c *attemptCtx) String() string {
	return "clock.RequestTimeout(deadline " + c.deadline.String() + ")"
}

// Deadline is the earlier of c's deadline and its parent's.
func (c *attemptCtx) Deadline() (time.Time, bool) {
	if pd, ok := c.parent.Deadline(); ok && pd.Before(c.deadline) {
		return pd, true
	}
	return c.deadline, true
}

func (c *attemptCtx) Done() <-chan struct{} { return c.done }

func (c *attemptCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *attemptCtx) Value(key any) any { return c.parent.Value(key) }

// AfterFunc calls f, in a goroutine of its own, once c is done (at once if
// it is already), unless stop is called first. The context package calls
// it to cancel the contexts derived from c.
func (c *attemptCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	c.nextID++
	id := c.nextID
	if c.first.id == 0 {
		c.first = afterFunc{id, f}
	} else {
		if c.more == nil {
			c.more = new([]afterFunc)
		}
		*c.more = append(*c.more, afterFunc{id, f})
	}
	c.mu.Unlock()
	return func() bool { return c.stopFunc(id) }
}

// stopFunc unregisters the function AfterFunc registered as id, and
// reports whether it had neither run nor been stopped.
func (c *attemptCtx) stopFunc(id uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.first.id == id {
		c.first = afterFunc{}
		return true
	}
	if c.more == nil {
		return false
	}
	for i, a := range *c.more {
		if a.id == id {
			*c.more = append((*c.more)[:i], (*c.more)[i+1:]...)
			return true
		}
	}
	return false
}

// cancel ends c with err (what Err returns) and cause (what Cause returns;
// nil for the timeout's), unless it has ended already: it closes done,
// leaves the watchdog and the parent, and starts the functions given to
// AfterFunc.
func (c *attemptCtx) cancel(err, cause error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	if cause != nil {
		c.cause = cause
	}
	first, more, stop := c.first, c.more, c.stopParent
	c.first, c.more, c.stopParent = afterFunc{}, nil, nil
	close(c.done)
	c.mu.Unlock()
	c.dog.remove(&c.watched)
	if stop != nil {
		stop()
	}
	if first.f != nil {
		go first.f()
	}
	if more != nil {
		for _, a := range *more {
			go a.f()
		}
	}
}

// Cause is context.Cause, and for a context of RequestTimeout the cause
// its deadline passing gave it.
func Cause(ctx context.Context) error {
	if c, ok := ctx.(*attemptCtx); ok {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.err == nil {
			return nil
		}
		return c.cause
	}
	return context.Cause(ctx)
}

// addSaturating is a+b, or the largest duration where that overflows (a
// timeout of math.MaxInt64 is a deadline that never comes, not one past).
func addSaturating(a, b time.Duration) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return int64(a + b)
}

// realDog is the watchdog of the real clock's deadlines.
var realDog = newWatchdog(time.Now, func(d time.Duration, f func()) timer { return time.AfterFunc(d, f) })

// timer is the part of *time.Timer a watchdog uses.
type timer interface{ Reset(time.Duration) bool }

// watchdog ends the contexts whose deadline has passed, with one
// runtime timer for all of them, set for the earliest deadline. The timer
// is not moved when the earliest context ends before it: it fires, finds
// nothing due, and is set for the next deadline. Contexts made one after
// another with the same timeout (the pipeline's attempts) thus seldom
// touch the timer: each new deadline comes after the one it is set for.
type watchdog struct {
	now       func() time.Time
	afterFunc func(time.Duration, func()) timer // time.AfterFunc
	epoch     time.Time                         // deadlines count from it

	mu    sync.Mutex
	due   []*watched // a heap: the earliest deadline first
	timer timer
	armed bool
	at    int64 // when timer fires, from epoch, if armed
}

func newWatchdog(now func() time.Time, afterFunc func(time.Duration, func()) timer) *watchdog {
	return &watchdog{now: now, afterFunc: afterFunc, epoch: now()}
}

// since is the watchdog's time now, in nanoseconds from its epoch.
func (w *watchdog) since() int64 { return int64(w.now().Sub(w.epoch)) }

func (w *watchdog) add(c *watched) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c.index = int32(len(w.due))
	w.due = append(w.due, c)
	w.up(int(c.index))
	if w.armed && w.at <= c.due {
		return
	}
	d := time.Duration(c.due - w.since())
	if w.timer == nil {
		w.timer = w.afterFunc(d, w.fire)
	} else {
		w.timer.Reset(d)
	}
	w.armed, w.at = true, c.due
}

func (w *watchdog) remove(c *watched) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := int(c.index); i >= 0 {
		w.removeAt(i)
	}
}

// fire cancels the contexts whose deadline has passed and sets the timer
// for the next one.
func (w *watchdog) fire() {
	var expired []*watched
	w.mu.Lock()
	now := w.since()
	for len(w.due) > 0 && w.due[0].due <= now {
		expired = append(expired, w.due[0])
		w.removeAt(0)
	}
	w.armed = len(w.due) > 0
	if w.armed {
		w.at = w.due[0].due
		w.timer.Reset(time.Duration(w.at - now))
	}
	w.mu.Unlock()
	for _, c := range expired {
		c.owner.expire()
	}
}

// removeAt takes the context at i out of the heap. w.mu is held.
func (w *watchdog) removeAt(i int) {
	last := len(w.due) - 1
	w.due[i].index = -1
	if i != last {
		w.due[i] = w.due[last]
		w.due[i].index = int32(i)
	}
	w.due[last] = nil
	w.due = w.due[:last]
	if i != last {
		w.down(i)
		w.up(i)
	}
}

func (w *watchdog) up(i int) {
	h := w.due
	for i > 0 {
		parent := (i - 1) / 2
		if h[parent].due <= h[i].due {
			return
		}
		w.swap(i, parent)
		i = parent
	}
}

func (w *watchdog) down(i int) {
	h := w.due
	for {
		least := i
		if l := 2*i + 1; l < len(h) && h[l].due < h[least].due {
			least = l
		}
		if r := 2*i + 2; r < len(h) && h[r].due < h[least].due {
			least = r
		}
		if least == i {
			return
		}
		w.swap(i, least)
		i = least
	}
}

func (w *watchdog) swap(i, j int) {
	h := w.due
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = int32(i), int32(j)
}
