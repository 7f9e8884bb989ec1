package stewai

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pollProbe makes polls that block until released, one release each, and
// records how many run at once and in what order they start.
type pollProbe struct {
	p        *pollers
	release  chan struct{}
	mu       sync.Mutex
	running  int
	started  []int
	finished sync.WaitGroup
	ran      []bool // whether run reported the poll run, by poll
}

func newPollProbe(conns int) *pollProbe {
	return &pollProbe{p: newPollers(conns), release: make(chan struct{})}
}

// start runs poll i on the pollers from a goroutine of its own, as a wait
// does, waiting for a poller until ctx ends; end counts the ends of its
// waiting in the queue.
func (pp *pollProbe) start(ctx context.Context, i int, end func()) {
	pp.mu.Lock()
	for len(pp.ran) <= i {
		pp.ran = append(pp.ran, false)
	}
	pp.mu.Unlock()
	pp.finished.Add(1)
	go func() {
		defer pp.finished.Done()
		poll := func() {
			pp.mu.Lock()
			pp.running++
			pp.started = append(pp.started, i)
			pp.mu.Unlock()
			<-pp.release
			pp.mu.Lock()
			pp.running--
			pp.mu.Unlock()
		}
		queued := func() (context.Context, func()) { return ctx, end }
		ran := pp.p.run(&pollJob{poll: poll, done: make(chan struct{}, 1), queued: queued})
		pp.mu.Lock()
		pp.ran[i] = ran
		pp.mu.Unlock()
	}()
}

// state returns how many polls run now, how many pollers the pollers
// count, and how many polls wait in their queue, once every goroutine of
// the bubble is blocked.
func (pp *pollProbe) state() (polls, pollers, queued int) {
	synctest.Wait()
	pp.mu.Lock()
	polls = pp.running
	pp.mu.Unlock()
	pp.p.mu.Lock()
	defer pp.p.mu.Unlock()
	return polls, pp.p.running, pp.p.queue.Len()
}

// releaseOne lets one running poll end.
func (pp *pollProbe) releaseOne() { pp.release <- struct{}{} }

func noEnd() {}

// The bound follows the protocol of the last answer: one before any
// answer, one fewer than the connections over HTTP/1.1 (at least one),
// h2PollStreams over HTTP/2, and back down when an HTTP/1.1 answer follows
// an HTTP/2 one. Polls over the bound wait in the queue, with no goroutine
// of their own beyond the wait's.
func TestPollersBoundFollowsTheProtocol(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pp := newPollProbe(4)
		for i := range 100 {
			pp.start(t.Context(), i, noEnd)
		}
		polls, pollers, queued := pp.state()
		assert.Equal(t, [3]int{1, 1, 99}, [3]int{polls, pollers, queued}, "before any answer, one poll at a time")

		pp.p.answered(1)
		polls, pollers, queued = pp.state()
		assert.Equal(t, [3]int{3, 3, 97}, [3]int{polls, pollers, queued}, "over HTTP/1.1, connections - 1")

		pp.p.answered(2)
		polls, pollers, queued = pp.state()
		assert.Equal(t, [3]int{h2PollStreams, h2PollStreams, 100 - h2PollStreams}, [3]int{polls, pollers, queued}, "over HTTP/2, h2PollStreams")

		pp.p.answered(1) // an HTTP/1.1 answer after HTTP/2 ones: back down
		polls, _, _ = pp.state()
		assert.Equal(t, h2PollStreams, polls, "polls already running go on")
		for range h2PollStreams - 3 {
			pp.releaseOne()
			polls, pollers, _ = pp.state()
			assert.Equal(t, polls, pollers, "a poller over the bound ends with its poll, and takes no other")
		}
		for range 100 - h2PollStreams + 3 {
			polls, pollers, _ = pp.state()
			require.LessOrEqual(t, polls, 3, "never above the HTTP/1.1 bound again")
			require.LessOrEqual(t, pollers, 3)
			pp.releaseOne()
		}
		pp.finished.Wait()
		polls, pollers, queued = pp.state()
		assert.Equal(t, [3]int{0, 0, 0}, [3]int{polls, pollers, queued}, "no poller is left once no poll waits")
		assert.Len(t, pp.started, 100)
	})
}

func TestPollersHTTP1Bound(t *testing.T) {
	for conns, want := range map[int]int{1: 1, 2: 1, 4: 3, DefaultMaxConnsPerHost: DefaultMaxConnsPerHost - 1, maxConnsLimit: maxConnsLimit - 1} {
		p := newPollers(conns)
		assert.Equal(t, 1, p.bound(), "%d connections: one poll before any answer", conns)
		p.answered(1)
		assert.Equal(t, want, p.bound(), "%d connections over HTTP/1.1", conns)
		p.answered(2)
		assert.Equal(t, h2PollStreams, p.bound(), "%d connections over HTTP/2", conns)
		p.answered(1)
		assert.Equal(t, want, p.bound(), "%d connections, HTTP/1.1 again", conns)
	}
}

// Polls that wait for a poller go out in the order they came.
func TestPollersFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pp := newPollProbe(4)
		for i := range 20 {
			pp.start(t.Context(), i, noEnd)
			synctest.Wait() // queued in this order
		}
		for range 5 {
			pp.state()
			pp.releaseOne() // one poller: strictly one after the other
		}
		pp.p.answered(1) // three pollers take the next three at once
		pp.state()
		pp.mu.Lock()
		assert.ElementsMatch(t, []int{5, 6, 7}, pp.started[5:])
		pp.mu.Unlock()
		for i := 8; i < 20; i++ {
			pp.releaseOne()
			pp.state()
			pp.mu.Lock()
			assert.Equal(t, i, pp.started[len(pp.started)-1], "a freed poller takes the first poll waiting")
			pp.mu.Unlock()
		}
		for range 3 {
			pp.releaseOne()
		}
		pp.finished.Wait()
		assert.Equal(t, []int{0, 1, 2, 3, 4}, pp.started[:5])
		assert.Len(t, pp.started, 20)
	})
}

// A poll waiting in the queue ends with its context without running: it
// leaves the queue, its waiting ends once, and the polls behind it move
// up.
func TestPollersQueuedPollEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pp := newPollProbe(4)
		pp.start(t.Context(), 0, noEnd)
		synctest.Wait()
		ctx, cancel := context.WithCancel(t.Context())
		ends := 0
		pp.start(ctx, 1, func() { ends++ }) // called with pollers.mu held
		synctest.Wait()
		pp.start(t.Context(), 2, noEnd)
		_, _, queued := pp.state()
		require.Equal(t, 2, queued)

		cancel()
		polls, pollers, queued := pp.state()
		assert.Equal(t, [3]int{1, 1, 1}, [3]int{polls, pollers, queued}, "the cancelled poll left the queue")
		pp.mu.Lock()
		assert.False(t, pp.ran[1], "run reports that the poll did not run")
		pp.mu.Unlock()
		pp.p.mu.Lock()
		assert.Equal(t, 1, ends, "its waiting ended once")
		pp.p.mu.Unlock()

		pp.releaseOne()
		pp.state()
		pp.releaseOne()
		pp.finished.Wait()
		assert.Equal(t, []int{0, 2}, pp.started, "the cancelled poll never ran")
		assert.Equal(t, []bool{true, false, true}, pp.ran)
		_, pollers, queued = pp.state()
		assert.Equal(t, [2]int{0, 0}, [2]int{pollers, queued})
	})
}
