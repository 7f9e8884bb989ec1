package clock

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errTimeout = errors.New("timed out")

// fakeTime is a watchdog's time, moved by hand: its one timer fires, in
// the caller of advance, when the time reaches it.
type fakeTime struct {
	mu     sync.Mutex
	now    time.Time
	at     time.Time // when the timer fires; zero when not set
	f      func()
	made   int // timers made
	resets int
}

func newDog() (*watchdog, *fakeTime) {
	ft := &fakeTime{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return newWatchdog(ft.Now, ft.afterFunc), ft
}

func (ft *fakeTime) Now() time.Time {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.now
}

func (ft *fakeTime) afterFunc(d time.Duration, f func()) timer {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.made++
	ft.f, ft.at = f, ft.now.Add(d)
	return ft
}

func (ft *fakeTime) Reset(d time.Duration) bool {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.resets++
	ft.at = ft.now.Add(d)
	return true
}

// advance moves the time by d, firing the timer when it is due.
func (ft *fakeTime) advance(d time.Duration) {
	ft.mu.Lock()
	ft.now = ft.now.Add(d)
	due := !ft.at.IsZero() && !ft.at.After(ft.now)
	if due {
		ft.at = time.Time{}
	}
	f := ft.f
	ft.mu.Unlock()
	if due {
		f()
	}
}

func isDone(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// kinds are the two contexts of the watchdog: WithTimeout's and
// RequestTimeout's. Each test holds for both unless it says otherwise.
var kinds = []struct {
	name string
	make func(*watchdog, context.Context, time.Time, time.Duration, error) (context.Context, context.CancelFunc)
}{{"WithTimeout", withTimeout}, {"RequestTimeout", withAttemptTimeout}}

// forKinds runs test for each kind.
func forKinds(t *testing.T, test func(*testing.T, deadlineFunc)) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) { test(t, k.make) })
	}
}

type deadlineFunc = func(*watchdog, context.Context, time.Time, time.Duration, error) (context.Context, context.CancelFunc)

func TestDeadlinePassesWithItsCause(t *testing.T) { forKinds(t, testDeadlinePassesWithItsCause) }

func testDeadlinePassesWithItsCause(t *testing.T, withDeadline deadlineFunc) {
	dog, ft := newDog()
	ctx, cancel := withDeadline(dog, context.Background(), ft.Now(), 5*time.Second, errTimeout)
	defer cancel()
	dl, ok := ctx.Deadline()
	assert.True(t, ok)
	assert.Equal(t, ft.Now().Add(5*time.Second), dl)

	ft.advance(5*time.Second - 1)
	assert.False(t, isDone(ctx), "not before its deadline")
	assert.NoError(t, ctx.Err())
	assert.NoError(t, Cause(ctx))

	ft.advance(1)
	assert.True(t, isDone(ctx), "done at its deadline")
	assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
	assert.Equal(t, errTimeout, Cause(ctx))
	cancel() // after the deadline: changes nothing
	assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
	assert.Equal(t, errTimeout, Cause(ctx))
}

func TestDeadlineOfTheLongestTimeout(t *testing.T) { forKinds(t, testDeadlineOfTheLongestTimeout) }

func testDeadlineOfTheLongestTimeout(t *testing.T, withDeadline deadlineFunc) {
	dog, ft := newDog()
	ft.advance(time.Hour) // the epoch is behind: its offset plus the timeout overflows
	ctx, cancel := withDeadline(dog, context.Background(), ft.Now(), math.MaxInt64, errTimeout)
	defer cancel()
	ft.advance(24 * time.Hour)
	assert.False(t, isDone(ctx), "a deadline that never comes, not one past")
}

func TestDeadlineCancelledFirst(t *testing.T) { forKinds(t, testDeadlineCancelledFirst) }

func testDeadlineCancelledFirst(t *testing.T, withDeadline deadlineFunc) {
	dog, ft := newDog()
	ctx, cancel := withDeadline(dog, context.Background(), ft.Now(), time.Second, errTimeout)
	cancel()
	assert.True(t, isDone(ctx))
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
	assert.ErrorIs(t, Cause(ctx), context.Canceled)
	assert.Empty(t, dog.due, "a cancelled context leaves the watchdog")
	ft.advance(time.Hour)
	assert.ErrorIs(t, ctx.Err(), context.Canceled, "its deadline passing later changes nothing")
}

func TestDeadlineEndsWithItsParent(t *testing.T) { forKinds(t, testDeadlineEndsWithItsParent) }

func testDeadlineEndsWithItsParent(t *testing.T, withDeadline deadlineFunc) {
	dog, ft := newDog()
	parentErr := errors.New("caller gone")
	parent, cancelParent := context.WithCancelCause(context.Background())
	ctx, cancel := withDeadline(dog, parent, ft.Now(), time.Minute, errTimeout)
	defer cancel()
	cancelParent(parentErr)
	<-ctx.Done() // at once for WithTimeout's; from a goroutine for RequestTimeout's
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
	assert.Equal(t, parentErr, Cause(ctx))
	cancel()
	dog.mu.Lock()
	assert.Empty(t, dog.due, "out of the watchdog once cancelled")
	dog.mu.Unlock()

	// A parent already done, or no time at all, end it at once.
	ctx, cancel = withDeadline(dog, parent, ft.Now(), time.Minute, errTimeout)
	defer cancel()
	assert.True(t, isDone(ctx))
	assert.Equal(t, parentErr, Cause(ctx))
	ctx, cancel = withDeadline(dog, context.Background(), ft.Now(), 0, errTimeout)
	defer cancel()
	assert.True(t, isDone(ctx))
	assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
	assert.Equal(t, errTimeout, Cause(ctx))
	assert.Empty(t, dog.due)
}

func TestDeadlineKeepsTheParentsValuesAndEarlierDeadline(t *testing.T) {
	forKinds(t, testDeadlineKeepsTheParentsValuesAndEarlierDeadline)
}

func testDeadlineKeepsTheParentsValuesAndEarlierDeadline(t *testing.T, withDeadline deadlineFunc) {
	type key struct{}
	dog, ft := newDog()
	parent, cancelParent := context.WithDeadline(context.WithValue(context.Background(), key{}, "v"), ft.Now().Add(time.Second))
	defer cancelParent()
	ctx, cancel := withDeadline(dog, parent, ft.Now(), time.Minute, errTimeout)
	defer cancel()
	assert.Equal(t, "v", ctx.Value(key{}))
	dl, _ := ctx.Deadline()
	assert.Equal(t, ft.Now().Add(time.Second), dl, "the parent's deadline, which comes first")
}

// TestDeadlineEndsWhatDerivesFromIt: contexts derived with the context
// package (as net/http derives one for each request), and functions
// given to context.AfterFunc, end with it; a stopped one is not called.
func TestDeadlineEndsWhatDerivesFromIt(t *testing.T) { forKinds(t, testDeadlineEndsWhatDerivesFromIt) }

func testDeadlineEndsWhatDerivesFromIt(t *testing.T, withDeadline deadlineFunc) {
	dog, ft := newDog()
	ctx, cancel := withDeadline(dog, context.Background(), ft.Now(), time.Second, errTimeout)
	defer cancel()
	child, cancelChild := context.WithCancelCause(ctx)
	defer cancelChild(nil)
	grandchild, cancelGrandchild := context.WithCancel(child)
	defer cancelGrandchild()
	called := make(chan struct{})
	context.AfterFunc(ctx, func() { close(called) })
	stop := context.AfterFunc(ctx, func() { t.Error("a stopped function was called") })
	assert.True(t, stop())
	left, cancelLeft := context.WithCancel(ctx)
	cancelLeft() // a child that ends first unregisters itself
	assert.True(t, isDone(left))

	ft.advance(time.Second)
	<-child.Done() // at once for WithTimeout's; from a goroutine for RequestTimeout's
	<-grandchild.Done()
	<-called
	if _, light := ctx.(*attemptCtx); !light {
		assert.Equal(t, errTimeout, context.Cause(child), "the cause reaches what derives from it")
		assert.Equal(t, errTimeout, context.Cause(grandchild))
	}
	assert.False(t, stop(), "stopping after the end stops nothing")

	// Registered once ctx is done: called at once.
	late := make(chan struct{})
	context.AfterFunc(ctx, func() { close(late) })
	<-late
}

// TestDeadlineUnderValuesJoinsWithoutAGoroutine: under a context that
// carries a value (a middleware's, say), a context derived from
// WithTimeout's (as net/http derives one for each request) is found by the
// context package as one of its own: no goroutine per derived context.
// (RequestTimeout's is for requests that no such code sees.)
func TestDeadlineUnderValuesJoinsWithoutAGoroutine(t *testing.T) {
	type key struct{}
	dog, ft := newDog()
	ctx, cancel := withTimeout(dog, context.Background(), ft.Now(), time.Minute, errTimeout)
	defer cancel()
	valued := context.WithValue(ctx, key{}, "v")
	before := runtime.NumGoroutine()
	var cancels []context.CancelFunc
	for range 100 {
		_, c := context.WithCancel(valued)
		cancels = append(cancels, c)
	}
	assert.Less(t, runtime.NumGoroutine()-before, 10, "no goroutine per derived context")
	for _, c := range cancels {
		c()
	}
	assert.Contains(t, fmt.Sprint(ctx), "clock.WithTimeout", "printed without reading its state unguarded")
}

// TestWatchdogOrder: deadlines pass in their order whatever the order they
// were set in, and contexts made one after another with the same timeout
// (the pipeline's attempts) never move the timer.
func TestWatchdogOrder(t *testing.T) { forKinds(t, testWatchdogOrder) }

func testWatchdogOrder(t *testing.T, withDeadline deadlineFunc) {
	dog, ft := newDog()
	var ctxs []context.Context
	for _, d := range []time.Duration{3, 1, 2} {
		ctx, cancel := withDeadline(dog, context.Background(), ft.Now(), d*time.Second, errTimeout)
		defer cancel()
		ctxs = append(ctxs, ctx)
	}
	assert.Equal(t, 1, ft.made)
	assert.Equal(t, 1, ft.resets, "moved once, for the 1 s deadline set after the 3 s one")
	for i, want := range [][3]bool{{false, true, false}, {false, true, true}, {true, true, true}} {
		ft.advance(time.Second)
		assert.Equal(t, want, [3]bool{isDone(ctxs[0]), isDone(ctxs[1]), isDone(ctxs[2])}, "after %d s", i+1)
	}

	dog, ft = newDog()
	for range 1000 {
		_, cancel := withDeadline(dog, context.Background(), ft.Now(), time.Minute, errTimeout)
		ft.advance(time.Millisecond)
		cancel()
	}
	assert.Equal(t, 1, ft.made)
	assert.Equal(t, 0, ft.resets, "one timer, set once, for 1,000 attempts one after another")
	ft.advance(time.Minute) // fires, finds nothing due, is left unset
	ctx, cancel := withDeadline(dog, context.Background(), ft.Now(), time.Minute, errTimeout)
	defer cancel()
	assert.Equal(t, 1, ft.resets, "set again for the next deadline")
	ft.advance(time.Minute)
	assert.True(t, isDone(ctx))
}

// TestWatchdogConcurrent makes, cancels and expires contexts from many
// goroutines at once (run with -race): every one ends, with the right
// error, and the watchdog is left empty.
func TestWatchdogConcurrent(t *testing.T) { forKinds(t, testWatchdogConcurrent) }

func testWatchdogConcurrent(t *testing.T, withDeadline deadlineFunc) {
	dog, ft := newDog()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				ctx, cancel := withDeadline(dog, context.Background(), ft.Now(), time.Duration(i%3)*time.Millisecond, errTimeout)
				child, cancelChild := context.WithCancel(ctx)
				if (g+i)%2 == 0 {
					cancel()
				}
				ft.advance(time.Millisecond)
				cancel()
				<-child.Done()
				cancelChild()
				if err := ctx.Err(); !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("ended with %v", err)
				}
			}
		}()
	}
	wg.Wait()
	dog.mu.Lock()
	defer dog.mu.Unlock()
	assert.Empty(t, dog.due)
}

func TestRealWithTimeout(t *testing.T) {
	ctx, cancel := Real.WithTimeout(context.Background(), time.Hour, errTimeout)
	_, ok := ctx.(*timeoutCtx)
	assert.True(t, ok, "outside a synctest bubble, the watchdog's context")
	cancel()
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
	ctx, cancel = RequestTimeout(context.Background(), time.Hour, errTimeout)
	_, ok = ctx.(*attemptCtx)
	assert.True(t, ok)
	cancel()
	assert.ErrorIs(t, ctx.Err(), context.Canceled)

	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := Real.WithTimeout(context.Background(), time.Second, errTimeout)
		defer cancel()
		_, ok := ctx.(*timeoutCtx)
		assert.False(t, ok, "inside a bubble, context.WithTimeoutCause")
		time.Sleep(time.Second) // the bubble's time
		synctest.Wait()
		require.True(t, isDone(ctx), "inside a bubble, the deadline is on the bubble's time")
		assert.Equal(t, errTimeout, Cause(ctx))
	})
}

// TestDeadlineCutsARequestInFlight: net/http derives its own context from
// the request's; when the deadline passes, the request in flight ends, over
// HTTP/1.1 and over HTTP/2, and the server sees its request cancelled.
func TestDeadlineCutsARequestInFlight(t *testing.T) { forKinds(t, testDeadlineCutsARequestInFlight) }

func testDeadlineCutsARequestInFlight(t *testing.T, withDeadline deadlineFunc) {
	for _, h2 := range []bool{false, true} {
		arrived, gone := make(chan struct{}), make(chan struct{})
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(arrived)
			<-r.Context().Done() // never answers
			close(gone)
		}))
		srv.EnableHTTP2 = h2
		srv.StartTLS()
		dog, ft := newDog()
		ctx, cancel := withDeadline(dog, context.Background(), ft.Now(), time.Minute, errTimeout)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		client := srv.Client()
		errc := make(chan error, 1)
		go func() {
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		<-arrived
		ft.advance(time.Minute)
		err = <-errc
		assert.True(t, errors.Is(err, errTimeout) || errors.Is(err, context.DeadlineExceeded), "h2=%v: %v", h2, err)
		assert.Equal(t, errTimeout, Cause(ctx))
		<-gone
		cancel()
		client.CloseIdleConnections()
		srv.Close()
	}
}
