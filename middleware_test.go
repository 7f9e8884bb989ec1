package stewai

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tracer is a middleware that logs each request's way in and out.
type tracer struct {
	mu  sync.Mutex
	log []string
}

func (tr *tracer) layer(name string) Middleware {
	return func(req *http.Request, next MiddlewareNext) (*http.Response, error) {
		tr.add(name + ">" + req.Method + " " + req.URL.Path)
		if name == "outer" { // a clone with a header of its own, as a middleware should
			req = req.Clone(req.Context())
			req.Header.Set("X-Outer", "1")
		} else {
			tr.add("inner saw X-Outer=" + req.Header.Get("X-Outer"))
		}
		resp, err := next(req)
		tr.add("<" + name)
		return resp, err
	}
}

func (tr *tracer) add(s string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.log = append(tr.log, s)
}

// Every request, polls and retries included, passes through the
// middleware in the order given, the first outermost.
func TestMiddlewareSeesEveryRequestInOrder(t *testing.T) {
	tr := &tracer{}
	env := setup(t, WithMiddleware(tr.layer("outer"), tr.layer("inner")))
	var failedOnce atomic.Bool
	var outerAtServer atomic.Int64
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Outer") == "1" {
			outerAtServer.Add(1)
		}
		if failedOnce.CompareAndSwap(false, true) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"detail": "try again"})
			return
		}
		writeJSON(w, http.StatusOK, runJSON("r1", StatusRunning))
	})
	statusSequence(t, env, "r2", StatusQueued, StatusRunning, StatusDone)
	ctx := testContext(t)
	_, err := env.client.Runs.Get(ctx, "r1") // a 503, then a retry
	require.NoError(t, err)
	_, err = env.client.Runs.Wait(ctx, "r2") // three polls
	require.NoError(t, err)

	one := func(path string) []string {
		return []string{"outer>GET /v1/" + path, "inner>GET /v1/" + path, "inner saw X-Outer=1", "<inner", "<outer"}
	}
	var want []string
	for _, p := range []string{"runs/r1/", "runs/r1/", "runs/r2/", "runs/r2/", "runs/r2/"} {
		want = append(want, one(p)...)
	}
	assert.Equal(t, want, tr.log)
	assert.Equal(t, int64(5), env.requests.Load(), "the server saw what the middleware saw")
	assert.Equal(t, int64(2), outerAtServer.Load(), "the outer layer's change reached the server")
}

// Middleware runs inside the SDK's own transport: its connection cap and
// the shared pollers hold, and the middleware still sees every request.
func TestMiddlewareKeepsTheConnectionCap(t *testing.T) {
	var seen, inFlight, most atomic.Int64
	count := func(req *http.Request, next MiddlewareNext) (*http.Response, error) {
		seen.Add(1)
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		defer inFlight.Add(-1)
		return next(req)
	}
	env := setup(t, WithMaxConnsPerHost(3), WithMiddleware(count))
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%d", i)
		statusSequence(t, env, ids[i], StatusQueued, StatusRunning, StatusDone)
	}
	_, err := env.client.Runs.WaitAll(testContext(t), ids)
	require.NoError(t, err)
	assert.Equal(t, int64(600), seen.Load(), "every poll through the middleware")
	assert.Equal(t, env.requests.Load(), seen.Load())
	assert.LessOrEqual(t, env.maxOpen.Load(), int64(3), "the connection cap holds")
	assert.LessOrEqual(t, most.Load(), int64(2), "the pollers' bound holds: one connection stays free for other calls")
}

// With WithHTTPClient, middleware wraps the caller's transport, and the
// caller's client is not changed.
func TestMiddlewareWrapsTheCallersTransport(t *testing.T) {
	env := setup(t)
	statusSequence(t, env, "r1", StatusDone)
	var viaCaller atomic.Int64
	caller := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		viaCaller.Add(1)
		return env.clock.Tagging(http.DefaultTransport).RoundTrip(r)
	})}
	before := caller.Transport
	tr := &tracer{}
	c, err := NewClient(WithAPIKey(testKey), WithBaseURL(env.server.URL+"/v1"), withClock(env.clock),
		WithHTTPClient(caller), WithMiddleware(tr.layer("outer")))
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	_, err = c.Runs.Wait(testContext(t), "r1")
	require.NoError(t, err)
	assert.Equal(t, []string{"outer>GET /v1/runs/r1/", "<outer"}, tr.log)
	assert.Equal(t, int64(1), viaCaller.Load())
	assert.NotNil(t, before)
	assert.Equal(t, fmt.Sprintf("%p", before), fmt.Sprintf("%p", caller.Transport), "the caller's client is not changed")
}

func TestWithMiddlewareNil(t *testing.T) {
	_, err := NewClient(WithAPIKey(testKey), WithMiddleware(nil))
	assert.ErrorIs(t, err, ErrInvalidParams)
	_, err = NewClient(WithAPIKey(testKey), WithMiddleware())
	assert.NoError(t, err, "no middleware is fine")
}
