package clock

import (
	"context"
	"math"
	"sync"
	"time"
)

// deadlineCtx is the real clock's WithTimeout: a context cancelled when
// its deadline passes, when its parent is, or by its cancel function.
//
// It does what context.WithTimeoutCause does at a fraction of the cost,
// which matters because every attempt of every API call makes one: no
// runtime timer of its own (one watchdog timer serves every deadline of
// the process), and no map of children (it implements AfterFunc, which the
// context package uses instead to cancel the contexts derived from it,
// such as net/http's for the request).
type deadlineCtx struct {
	parent context.Context
	dog    *watchdog
	due    int64 // the deadline, in nanoseconds from dog.epoch
	done   chan struct{}

	mu    sync.Mutex
	err   error // set once, when done is closed
	cause error // what Cause returns once err is set: at first, the timeout's
	// first and more are the functions registered by AfterFunc, neither
	// run nor stopped yet: one is the common case (net/http's context for
	// the request), kept without a slice.
	first  afterFunc
	more   *[]afterFunc
	nextID uint32
	index  int32 // in dog's heap (guarded by dog.mu); -1 when out
	// stopParent undoes the registration with a parent that can be
	// cancelled; nil when the parent never is.
	stopParent func() bool
}

type afterFunc struct {
	id uint32 // 0 for an empty slot
	f  func()
}

// withDeadline returns a copy of parent cancelled with cause once d has
// passed since now, on dog's time (Err is then context.DeadlineExceeded,
// Cause is cause), when parent is, or when cancel is called.
func withDeadline(dog *watchdog, parent context.Context, now time.Time, d time.Duration, cause error) (context.Context, context.CancelFunc) {
	c := &deadlineCtx{
		parent: parent,
		dog:    dog,
		due:    addSaturating(now.Sub(dog.epoch), d),
		done:   make(chan struct{}),
		cause:  cause,
		index:  -1,
	}
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
		c.cancel(context.DeadlineExceeded, cause)
		return c, cancel
	}
	dog.add(c)
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

// addSaturating is a+b, or the largest duration where that overflows (a
// timeout of math.MaxInt64 is a deadline that never comes, not one past).
func addSaturating(a, b time.Duration) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return int64(a + b)
}

// Deadline is the earlier of c's deadline and its parent's.
func (c *deadlineCtx) Deadline() (time.Time, bool) {
	own := c.dog.epoch.Add(time.Duration(c.due))
	if pd, ok := c.parent.Deadline(); ok && pd.Before(own) {
		return pd, true
	}
	return own, true
}

func (c *deadlineCtx) Done() <-chan struct{} { return c.done }

func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *deadlineCtx) Value(key any) any { return c.parent.Value(key) }

// AfterFunc calls f, in a goroutine of its own, once c is done (at once if
// it is already), unless stop is called first. The context package calls
// it to cancel the contexts derived from c.
func (c *deadlineCtx) AfterFunc(f func()) (stop func() bool) {
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
func (c *deadlineCtx) stopFunc(id uint32) bool {
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

// cancel ends c with err (what Err returns) and cause (what Cause
// returns; nil for the timeout's), unless it has ended already: it closes done, leaves the
// watchdog and the parent, and starts the functions given to AfterFunc.
func (c *deadlineCtx) cancel(err, cause error) {
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
	if c.dog != nil {
		c.dog.remove(c)
	}
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

// Cause is context.Cause for the contexts of every Clock's WithTimeout:
// once the time given has passed, the cause given.
func Cause(ctx context.Context) error {
	if c, ok := ctx.(*deadlineCtx); ok {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.err == nil {
			return nil
		}
		return c.cause
	}
	return context.Cause(ctx)
}

// realDog is the watchdog of the real clock's deadlines.
var realDog = newWatchdog(time.Now, func(d time.Duration, f func()) timer { return time.AfterFunc(d, f) })

// timer is the part of *time.Timer a watchdog uses.
type timer interface{ Reset(time.Duration) bool }

// watchdog cancels deadlineCtxs whose deadline has passed, with one
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
	due   []*deadlineCtx // a heap: the earliest deadline first
	timer timer
	armed bool
	at    int64 // when timer fires, from epoch, if armed
}

func newWatchdog(now func() time.Time, afterFunc func(time.Duration, func()) timer) *watchdog {
	return &watchdog{now: now, afterFunc: afterFunc, epoch: now()}
}

// since is the watchdog's time now, in nanoseconds from its epoch.
func (w *watchdog) since() int64 { return int64(w.now().Sub(w.epoch)) }

func (w *watchdog) add(c *deadlineCtx) {
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

func (w *watchdog) remove(c *deadlineCtx) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := int(c.index); i >= 0 {
		w.removeAt(i)
	}
}

// fire cancels the contexts whose deadline has passed and sets the timer
// for the next one.
func (w *watchdog) fire() {
	var expired []*deadlineCtx
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
		c.cancel(context.DeadlineExceeded, nil) // nil: the timeout's cause
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
