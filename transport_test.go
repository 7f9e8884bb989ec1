package stewai

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewai/stewai-go/internal/clock"
	"github.com/stewai/stewai-go/internal/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pollRig serves 200 waits of runs w0..w199, each done at its first poll,
// and a run "other", after a first answer that lifts the pollers to the
// HTTP/2 bound. The first h2PollStreams polls are answered at once; later
// ones are held until release is closed, so that the test sees who gets a
// connection while polls hold theirs.
type pollRig struct {
	mu        sync.Mutex
	polls     int      // polls received
	held      []string // remote addresses of the polls held now
	pollProto []int    // ProtoMajor of each poll as received
	other     string   // remote address of GET runs/other/
	heldAtGet []string // remote addresses of the polls held when it came
	released  bool     // release was closed before GET runs/other/ came
	heldCh    chan struct{}
	release   chan struct{}
	once      sync.Once
}

// isClosed reports whether ch is closed.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// letGo releases every held poll, and every poll to come.
func (g *pollRig) letGo() { g.once.Do(func() { close(g.release) }) }

func newPollRig() *pollRig {
	return &pollRig{heldCh: make(chan struct{}, 256), release: make(chan struct{})}
}

func (g *pollRig) serve(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/runs/"), "/")
	if id == "other" {
		g.mu.Lock()
		g.other, g.heldAtGet = r.RemoteAddr, append([]string(nil), g.held...)
		g.released = isClosed(g.release)
		g.mu.Unlock()
		writeJSON(w, http.StatusOK, runJSON(id, StatusDone))
		return
	}
	g.mu.Lock()
	g.polls++
	hold := g.polls > h2PollStreams && !isClosed(g.release)
	g.pollProto = append(g.pollProto, r.ProtoMajor)
	if hold {
		g.held = append(g.held, r.RemoteAddr)
	}
	g.mu.Unlock()
	if hold {
		g.heldCh <- struct{}{}
		select {
		case <-g.release:
		case <-time.After(20 * time.Second):
			// Only when the test has failed: a poll kept GET runs/other/
			// waiting. Let all go, so that the test ends and says so.
			g.letGo()
		}
	}
	writeJSON(w, http.StatusOK, runJSON(id, StatusDone))
}

// run starts the waits on c, whose pollers have been set to limit by the
// answers so far, and checks that once HTTP/1.1 answers come the bound is back to
// conns - 1: with polls holding all but one connection, GET runs/other/
// takes the free one, while those polls are still held.
func (g *pollRig) run(t *testing.T, c *Client, conns, limit int) {
	t.Helper()
	ctx := testContext(t)
	c.core.pollers.mu.Lock()
	got := c.core.pollers.bound()
	c.core.pollers.mu.Unlock()
	require.Equal(t, limit, got, "the pollers' bound after the first answers")

	var waits sync.WaitGroup
	var failed atomic.Int64
	for i := range 200 {
		waits.Add(1)
		go func() {
			defer waits.Done()
			if _, err := c.Runs.Wait(ctx, fmt.Sprintf("w%d", i)); err != nil {
				failed.Add(1)
			}
		}()
	}
	for range conns - 1 {
		<-g.heldCh // the polls that hold all connections but one
	}
	run, err := c.Runs.Get(ctx, "other")
	require.NoError(t, err)
	assert.Equal(t, "other", run.ID)
	g.mu.Lock()
	assert.False(t, g.released, "GET runs/other/ came before any held poll was let go")
	assert.Len(t, g.heldAtGet, conns-1, "polls held when GET runs/other/ came")
	assert.NotContains(t, g.heldAtGet, g.other, "GET runs/other/ had a connection no poll held")
	g.mu.Unlock()
	g.letGo()
	waits.Wait()
	assert.Zero(t, failed.Load())

	g.mu.Lock()
	assert.Equal(t, 200, g.polls, "one poll per wait")
	for _, p := range g.pollProto {
		assert.Equal(t, 1, p, "the polls went over HTTP/1.1")
	}
	g.mu.Unlock()
	p := c.core.pollers
	p.mu.Lock()
	assert.Equal(t, conns-1, p.bound(), "the HTTP/1.1 answers brought the bound back down")
	assert.Zero(t, p.running, "no poller left")
	p.mu.Unlock()
}

// A TLS server that speaks HTTP/2 on its first connection and HTTP/1.1 on
// the next ones (as behind a load balancer whose backends differ): the
// HTTP/2 answer must not lift the pollers for good. On 4 connections, 200
// concurrent waits leave one connection to an unrelated Runs.Get.
func TestPollersFollowTheProtocolOnTheWire(t *testing.T) {
	const conns = 4
	g := newPollRig()
	var handshakes atomic.Int64
	var warmProto atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/runs/warm/" {
			warmProto.Store(int64(r.ProtoMajor))
			writeJSON(w, http.StatusOK, runJSON("warm", StatusDone))
			return
		}
		g.serve(w, r)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		cfg := srv.TLS.Clone()
		cfg.GetConfigForClient = nil
		if handshakes.Add(1) > 1 {
			cfg.NextProtos = []string{"http/1.1"}
		}
		return cfg, nil
	}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost = conns, conns
	t.Cleanup(tr.CloseIdleConnections)
	clk := &testClock{Virtual: clock.NewVirtual(epoch, 1)}
	c, err := NewClient(WithAPIKey(testKey), WithBaseURL(srv.URL+"/v1"), WithHTTPClient(&http.Client{Transport: tr}),
		withClock(clk), config.WithBeneath(clk.Tagging))
	require.NoError(t, err)

	_, err = c.Runs.Get(testContext(t), "warm")
	require.NoError(t, err)
	require.Equal(t, int64(2), warmProto.Load(), "the first answer came over HTTP/2")
	c.CloseIdleConnections()          // the next connections speak HTTP/1.1
	g.run(t, c, conns, h2PollStreams) // the first answer came over TLS-negotiated HTTP/2
	assert.Equal(t, int64(1+conns), handshakes.Load(), "one HTTP/2 connection, then the cap of HTTP/1.1 ones")
}

// An HTTP/1.1 server whose status line says HTTP/2.0 (written through a
// hijacked connection): Go reports ProtoMajor 2 for that answer, but no TLS
// handshake chose HTTP/2, so the bound is not lifted at all.
func TestPollersNotLiftedByAnHTTP2StatusLine(t *testing.T) {
	const conns = 4
	g := newPollRig()
	env := setup(t, WithMaxConnsPerHost(conns))
	env.mux.HandleFunc("GET /runs/warm/", func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if !assert.NoError(t, err) {
			return
		}
		defer conn.Close()
		body := `{"id": "warm", "status": "done"}`
		fmt.Fprintf(buf, "HTTP/2.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
		_ = buf.Flush()
	})
	env.mux.HandleFunc("GET /runs/{id}/", func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "/v1" + r.URL.Path // as the rig expects it
		g.serve(w, r)
	})
	_, err := env.client.Runs.Get(testContext(t), "warm")
	require.NoError(t, err)
	g.run(t, env.client, conns, conns-1) // a status line that says HTTP/2.0 over plain HTTP lifts nothing
	assert.LessOrEqual(t, env.maxOpen.Load(), int64(1+conns))
	env.client.CloseIdleConnections()
}

// connServer is a server answering GET runs/{id}/ that tells when a
// connection of its closes.
func connServer(t *testing.T) (*httptest.Server, chan struct{}) {
	closed := make(chan struct{}, 16)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, runJSON("r1", StatusDone))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, closed
}

// CloseIdleConnections closes the connections the client keeps idle, on
// its own transport and on the transport of a client given with
// WithHTTPClient, through the middleware around them.
func TestCloseIdleConnections(t *testing.T) {
	pass := func(r *http.Request, next MiddlewareNext) (*http.Response, error) { return next(r) }
	for name, opts := range map[string]func() []Option{
		"own transport":             func() []Option { return nil },
		"WithHTTPClient":            func() []Option { return []Option{WithHTTPClient(&http.Client{Transport: &http.Transport{}})} },
		"own transport, middleware": func() []Option { return []Option{WithMiddleware(pass)} },
		"WithHTTPClient, middleware": func() []Option {
			return []Option{WithHTTPClient(&http.Client{Transport: &http.Transport{}}), WithMiddleware(pass)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv, closed := connServer(t)
			c, err := NewClient(append([]Option{WithAPIKey(testKey), WithBaseURL(srv.URL + "/v1")}, opts()...)...)
			require.NoError(t, err)
			_, err = c.Runs.Get(testContext(t), "r1")
			require.NoError(t, err)
			require.Empty(t, closed, "the connection is kept idle")
			c.CloseIdleConnections()
			select {
			case <-closed:
			case <-time.After(10 * time.Second): // only when the test fails
				t.Fatal("the idle connection was not closed")
			}
		})
	}
	assert.NotPanics(t, func() {
		var c *Client
		c.CloseIdleConnections()
		(&Client{}).CloseIdleConnections()
	}, "a nil or zero client does nothing")
}

// A program that replaced http.DefaultTransport with a round tripper of
// its own (instrumentation, a proxy dialer) keeps it: the client's
// requests go through it. Not parallel: it swaps a global.
func TestReplacedDefaultTransportIsKept(t *testing.T) {
	orig := http.DefaultTransport
	t.Cleanup(func() {
		http.DefaultTransport = orig
		orig.(*http.Transport).CloseIdleConnections()
	})
	var through atomic.Int64
	http.DefaultTransport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		through.Add(1)
		return orig.RoundTrip(r)
	})
	srv, _ := connServer(t)
	for _, opts := range [][]Option{nil, {WithMaxConnsPerHost(4)}} {
		c, err := NewClient(append([]Option{WithAPIKey(testKey), WithBaseURL(srv.URL + "/v1")}, opts...)...)
		require.NoError(t, err)
		_, err = c.Runs.Get(testContext(t), "r1")
		require.NoError(t, err)
		assert.NotPanics(t, c.CloseIdleConnections)
	}
	assert.Equal(t, int64(2), through.Load(), "every request went through the program's round tripper")
}

// clockLog is a slog.Handler that notes the virtual time of each record,
// taken on the goroutine that logs it (within its call).
type clockLog struct {
	clock *testClock
	mu    *sync.Mutex
	at    *[]time.Duration
}

func (h clockLog) Enabled(context.Context, slog.Level) bool { return true }
func (h clockLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "stewai: poll" {
		h.mu.Lock()
		*h.at = append(*h.at, h.clock.Now().Sub(epoch))
		h.mu.Unlock()
	}
	return nil
}
func (h clockLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h clockLog) WithGroup(string) slog.Handler      { return h }

// A wait queued for a poller sees its deadline on time: when its queue
// timer fires, its call wakes, and virtual time does not run on to the next
// wake-up (a 30 s server hold) before the wait has reacted.
func TestQueuedPollDeadlineOnTime(t *testing.T) {
	var mu sync.Mutex
	var polledAt []time.Duration
	env := setup(t)
	env.client.core.log = slog.New(clockLog{clock: env.clock, mu: &mu, at: &polledAt})
	held := make(chan struct{})
	env.mux.HandleFunc("GET /runs/slow/", func(w http.ResponseWriter, r *http.Request) {
		close(held)
		tag, _ := clock.Tagged(r)
		_ = env.clock.SleepFor(r.Context(), tag, 30*time.Second) // a server 30 s slow
		writeJSON(w, http.StatusOK, runJSON("slow", StatusDone))
	})
	ctx := testContext(t)
	_, leave := env.clock.Enter(context.Background()) // time stands still while the waits line up
	aDone := make(chan error, 1)
	go func() { _, err := env.client.Runs.Wait(ctx, "slow"); aDone <- err }()
	<-held // A's poll holds the only poller (no answer yet: a bound of 1)
	bDone := make(chan error, 1)
	go func() { _, err := env.client.Runs.Wait(ctx, "b", WithTimeout(5*time.Second)); bDone <- err }()
	for queued := 0; queued != 1; {
		p := env.client.core.pollers
		p.mu.Lock()
		queued = p.queue.Len()
		p.mu.Unlock()
		runtime.Gosched()
	}
	leave()
	require.ErrorIs(t, <-bDone, ErrWaitTimeout)
	require.NoError(t, <-aDone)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, polledAt)
	assert.Equal(t, 5*time.Second, polledAt[0], "B's queued poll gave up at its 5 s deadline")
}
