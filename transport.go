package stewai

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stewai/stewai-go/internal/config"
)

// maxConnsLimit bounds WithMaxConnsPerHost: far more connections than any
// API host serves one client, and small enough that the pollers' bounds
// derived from it cannot overflow.
const maxConnsLimit = 1 << 16

// transport builds the client's HTTP client: the caller's (WithHTTPClient)
// or the SDK's own transport, with the caller's middleware around it and
// what a fake installs beneath it. The caller's client is never changed: a
// copy carries the wrapped transport.
// closeIdle closes the idle connections of the transport beneath the
// wrappers, which do not pass the call on.
func httpClient(s *config.Settings) (hc *http.Client, closeIdle func(), err error) {
	var c http.Client
	var base http.RoundTripper
	if s.HTTPClient != nil {
		if s.MaxConnsPerHost != 0 {
			return nil, nil, invalidf("WithMaxConnsPerHost applies to the SDK's own transport: with WithHTTPClient, set MaxConnsPerHost on your transport")
		}
		c, base = *s.HTTPClient, s.HTTPClient.Transport
		if base == nil {
			base = http.DefaultTransport
		}
	} else {
		base = ownTransport(maxConns(s))
	}
	closeIdle = func() {
		if t, ok := base.(interface{ CloseIdleConnections() }); ok {
			t.CloseIdleConnections()
		}
	}
	if s.Beneath != nil {
		base = s.Beneath(base)
	}
	c.Transport = chain(s.Middleware, base)
	return &c, closeIdle, nil
}

// ownTransport returns the SDK's own transport: a clone of
// http.DefaultTransport (proxy from the environment, HTTP/2) whose
// connections to the API host are capped at n, with an idle pool that keeps
// as many. A program that replaced http.DefaultTransport with a round
// tripper of its own (instrumentation, a proxy dialer) keeps it: the SDK
// uses it as given, and the connection cap is then that round tripper's
// business (the pollers still bound how many polls run at once).
func ownTransport(n int) http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t = t.Clone()
	t.MaxConnsPerHost = n
	t.MaxIdleConnsPerHost = n
	t.MaxIdleConns = max(t.MaxIdleConns, n)
	return t
}

// maxConns is the cap on connections of the SDK's own transport.
func maxConns(s *config.Settings) int {
	if s.MaxConnsPerHost == 0 {
		return DefaultMaxConnsPerHost
	}
	return s.MaxConnsPerHost
}

// pollConns is how many connections the pollers may count on: the SDK's
// cap, or the one on the caller's transport, or the default.
func pollConns(s *config.Settings) int {
	if s.HTTPClient != nil {
		if t, ok := s.HTTPClient.Transport.(*http.Transport); ok && t.MaxConnsPerHost > 0 {
			return min(t.MaxConnsPerHost, maxConnsLimit)
		}
		return DefaultMaxConnsPerHost
	}
	return maxConns(s)
}

// roundTripFunc is a RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// chain wraps base in mw, the first outermost.
func chain(mw []config.Middleware, base http.RoundTripper) http.RoundTripper {
	rt := base
	for i := len(mw) - 1; i >= 0; i-- {
		m, next := mw[i], rt.RoundTrip
		rt = roundTripFunc(func(r *http.Request) (*http.Response, error) { return m(r, next) })
	}
	return rt
}

// maxRedirects bounds a chain of redirects within the API host.
const maxRedirects = 10

// errTooManyRedirects ends a chain of redirects within the API host.
var errTooManyRedirects = errors.New("stopped after 10 redirects")

// sameHostOnly returns a copy of hc (or of a default client) whose redirects
// never leave base's scheme and host: the request carrying the key and the
// body is not re-sent anywhere else. A redirect elsewhere is returned as the
// answer, which the pipeline reports as an *APIError.
func sameHostOnly(hc *http.Client, base *url.URL) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	}
	userCheck := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != base.Scheme || !strings.EqualFold(req.URL.Host, base.Host) {
			return http.ErrUseLastResponse
		}
		if userCheck != nil {
			return userCheck(req, via)
		}
		if len(via) >= maxRedirects {
			return errTooManyRedirects
		}
		return nil
	}
	return &c
}

// Waits do not send their own polls: a client runs them on pollers, a
// bounded set of goroutines started on demand that end as soon as no poll
// is waiting for one.
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
// How many polls run at once follows the protocol of the answers as they
// come, the last one deciding:
//   - before any answer, one: the first connection tells the protocol
//     before others are dialled (over https, HTTP/2 or HTTP/1.1 is only
//     known once a TLS handshake has chosen it);
//   - over HTTP/1.1, where a connection carries one request at a time, one
//     fewer than the connections allowed (at least one): a call that is not
//     a poll always finds a connection that no poll holds;
//   - over HTTP/2, where one connection carries many streams,
//     h2PollStreams: a few connections' worth at common stream limits,
//     with streams to spare for other calls.
// Polls that wait for a poller go out in the order they came (FIFO).

// h2PollStreams is how many polls run at once once the API answers over
// HTTP/2: under the 100 concurrent streams most servers allow on one
// connection (Go's allow 250), so that polls do not make the transport
// dial more connections and other calls still find streams.
const h2PollStreams = 64

// pollers runs the polls of waits on a bounded number of goroutines.
type pollers struct {
	mu      sync.Mutex
	h1      int      // the bound over HTTP/1.1
	running int      // pollers running
	queue   jobQueue // waiting for a poller
	// limit is how many polls may run at once now. It changes under mu,
	// and is read without it by answered's fast path: most answers come
	// over the protocol the last one did, and change nothing.
	limit atomic.Int64
}

// pollJob is one poll to run, as its wait describes it. A wait has one,
// reused from poll to poll: its polls never overlap.
type pollJob struct {
	poll func()
	// done, with room for one, is told when poll has run.
	done chan struct{}
	// queued is called, with pollers.mu held, only when the poll has to
	// wait for a poller: it returns the context that bounds the waiting,
	// and end, called (with pollers.mu held) when the waiting ends.
	queued func() (ctx context.Context, end func())

	resume     func() // end, while the job waits
	taken      bool   // a poller has it; set under pollers.mu
	prev, next *pollJob
}

// jobQueue is a FIFO of jobs, linked through the jobs themselves: queueing
// a poll allocates nothing.
type jobQueue struct {
	head, tail *pollJob
	n          int
}

func (q *jobQueue) Len() int { return q.n }

func (q *jobQueue) pushBack(j *pollJob) {
	j.prev, j.next = q.tail, nil
	if q.tail == nil {
		q.head = j
	} else {
		q.tail.next = j
	}
	q.tail = j
	q.n++
}

func (q *jobQueue) remove(j *pollJob) {
	if j.prev == nil {
		q.head = j.next
	} else {
		j.prev.next = j.next
	}
	if j.next == nil {
		q.tail = j.prev
	} else {
		j.next.prev = j.prev
	}
	j.prev, j.next = nil, nil
	q.n--
}

// newPollers returns pollers for a transport that allows conns connections.
func newPollers(conns int) *pollers {
	p := &pollers{h1: max(1, conns-1)}
	p.limit.Store(1)
	return p
}

// protocolOf is the major version of the protocol an answer really came
// over: 2 only when TLS negotiated HTTP/2 for its connection. A status line
// that merely says HTTP/2.0 (Go then reports ProtoMajor 2), or HTTP/2
// without TLS, counts as HTTP/1.1: the pollers never lift their bound on
// the word of an answer alone.
func protocolOf(resp *http.Response) int {
	if resp.ProtoMajor == 2 && resp.TLS != nil && resp.TLS.NegotiatedProtocol == "h2" {
		return 2
	}
	return 1
}

// answered sets the bound from the protocol of an answer (its major
// version), and starts pollers for waiting polls when the bound rises.
func (p *pollers) answered(protoMajor int) {
	limit := p.h1
	if protoMajor >= 2 {
		limit = h2PollStreams
	}
	if p.bound() == limit {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bound() == limit {
		return
	}
	p.limit.Store(int64(limit))
	for p.running < limit && p.queue.Len() > 0 {
		p.running++
		go p.work(p.take())
	}
}

// bound is how many polls may run at once now.
func (p *pollers) bound() int { return int(p.limit.Load()) }

// take removes the first waiting job from the queue. p.mu is held.
func (p *pollers) take() *pollJob {
	job := p.queue.head
	p.queue.remove(job)
	job.taken = true
	job.resume() // awake before it runs: no time passes in the handover
	return job
}

// run runs job.poll on a poller and returns once it has run. It returns
// false, without running it, when the context job.queued gave ends before
// a poller is free.
func (p *pollers) run(job *pollJob) bool {
	job.taken = false
	p.mu.Lock()
	if p.running < p.bound() && p.queue.Len() == 0 {
		p.running++
		job.taken = true
		p.mu.Unlock()
		go p.work(job)
		<-job.done
		return true
	}
	ctx, end := job.queued()
	job.resume = end
	p.queue.pushBack(job)
	p.mu.Unlock()
	select {
	case <-job.done:
		return true
	case <-ctx.Done():
	}
	p.mu.Lock()
	if !job.taken {
		p.queue.remove(job)
		job.resume()
		p.mu.Unlock()
		return false
	}
	p.mu.Unlock()
	<-job.done // a poller took it as ctx ended: it runs, and ends soon
	return true
}

// work runs job, then every job waiting while the bound allows, and ends
// when none is waiting: no poller outlives the polls. The next job is
// taken, or the poller counted out, before the last one's end is told: a
// wait that polls again at once finds the poller free, never queued behind
// a poller that is only on its way out.
func (p *pollers) work(job *pollJob) {
	for job != nil {
		job.poll()
		p.mu.Lock()
		var next *pollJob
		if p.running > p.bound() || p.queue.Len() == 0 {
			p.running--
		} else {
			next = p.take()
		}
		p.mu.Unlock()
		job.done <- struct{}{}
		job = next
	}
}
