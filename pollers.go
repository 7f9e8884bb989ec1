package stewai

import (
	"context"
	"sync/atomic"
)

// Waits do not send their own polls: a client with its own transport runs
// them on pollers, a bounded set of goroutines started on demand that end
// as soon as no poll is waiting for one.
//
// Why: a goroutine's stack grows to the deepest call it makes and keeps
// that size while it sleeps. A wait that sent its own polls would go
// through net/http's client on every poll and keep an 8 KiB stack through
// all its sleeps; ten thousand waits cost 80 MiB of stacks that way, which
// the garbage collector also counts in its heap goal. And when more polls
// are due than the transport has connections, each would queue a built
// request (header map, contexts, a timer) inside the transport, whose
// queue costs more CPU than the polls themselves. On pollers, a waiting
// goroutine stays shallow (4 KiB), and a poll is built only when a poller
// takes it.
//
// Over HTTP/1.1 a connection carries one request at a time, so there are
// as many pollers as the transport allows connections (WithMaxConnsPerHost).
// Over HTTP/2 a connection carries many, and the pollers must not be what
// limits them: from the first answer that comes over HTTP/2, the client
// allows pollersPerConn times as many.
//
// A client given WithHTTPClient has no pollers: its waits poll on their
// own goroutines, as many at once as the caller's transport allows.

// pollersPerConn is how many polls may run at once per allowed connection
// once the API has answered over HTTP/2.
const pollersPerConn = 16

// pollers runs the polls of waits on a bounded number of goroutines.
type pollers struct {
	jobs chan pollJob // polls handed to a running poller
	// slots holds one token per running poller, and the reserve: tokens
	// that hold back the pollers HTTP/1.1 has no use for.
	slots    chan struct{}
	reserve  int
	released atomic.Bool // the reserve is gone: the API speaks HTTP/2
}

// pollJob is one poll to run and the channel its end is told on.
type pollJob struct {
	poll func()
	done chan<- struct{}
}

// newPollers returns pollers for a transport that allows conns connections.
func newPollers(conns int) *pollers {
	n := conns * pollersPerConn
	p := &pollers{jobs: make(chan pollJob), slots: make(chan struct{}, n), reserve: n - conns}
	for range p.reserve {
		p.slots <- struct{}{}
	}
	return p
}

// multiplexed lifts the reserve, once: an answer came over HTTP/2.
func (p *pollers) multiplexed() {
	if p.released.Load() || !p.released.CompareAndSwap(false, true) {
		return
	}
	for range p.reserve { // never blocks: the reserve's tokens are in slots
		<-p.slots
	}
}

// run runs poll on a poller and returns once it has run. done is the
// caller's channel, with room for one, reused from poll to poll. run
// returns false, without running poll, when ctx ends before a poller is
// free.
func (p *pollers) run(ctx context.Context, poll func(), done chan struct{}) bool {
	job := pollJob{poll, done}
	select {
	case p.jobs <- job: // a poller that just finished took it
	case p.slots <- struct{}{}: // room for one more poller
		go p.work(job)
	case <-ctx.Done():
		return false
	}
	<-done
	return true
}

// work runs job, then every job handed over while it runs, and ends when
// none is waiting: no poller outlives the polls.
func (p *pollers) work(job pollJob) {
	for {
		job.poll()
		job.done <- struct{}{}
		select {
		case job = <-p.jobs:
		default:
			<-p.slots
			return
		}
	}
}
