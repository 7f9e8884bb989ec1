package stewai

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

const testKey = "sk-live-test-0123456789abcdef"

// epoch is where fake clocks start.
var epoch = time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)

// testClock is the virtual clock of a test's client, as stewaitest uses
// it, recording the sleeps it is asked for.
type testClock struct {
	*clock.Virtual
	mu      sync.Mutex
	sleeps  []time.Duration
	onSleep func(time.Duration)
}

func (c *testClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	hook := c.onSleep
	c.mu.Unlock()
	if hook != nil {
		hook(d)
	}
	return c.Virtual.Sleep(ctx, d)
}

// Sleeps returns the durations passed to Sleep so far, in order.
func (c *testClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// OnSleep sets a function called at the start of every Sleep.
func (c *testClock) OnSleep(fn func(time.Duration)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onSleep = fn
}

// Timers returns how many wake-ups are pending.
func (c *testClock) Timers() int {
	_, n := c.Pending()
	return n
}

// hold keeps r, as a server that does not answer, until the client goes
// away: on the virtual clock its call is asleep meanwhile, so time moves
// on to the client's timeouts.
func (c *testClock) hold(r *http.Request) {
	tag, _ := clock.Tagged(r)
	_ = c.SleepFor(r.Context(), tag, 1000*time.Hour)
}

// testEnv is a client wired to an httptest server that serves mux under
// /v1/, on a virtual clock. Requests outside /v1/ fail the test, so a wrong
// absolute path shows up.
type testEnv struct {
	client   *Client
	mux      *http.ServeMux
	clock    *testClock
	server   *httptest.Server
	requests atomic.Int64 // HTTP requests received
	conns    atomic.Int64 // connections accepted
	open     atomic.Int64 // connections open now
	maxOpen  atomic.Int64 // the most connections open at once
}

func setup(t testing.TB, opts ...Option) *testEnv {
	t.Helper()
	env := &testEnv{mux: http.NewServeMux(), clock: &testClock{Virtual: clock.NewVirtual(epoch, 1)}}
	env.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.requests.Add(1)
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			t.Errorf("request outside the base URL: %s %s", r.Method, r.URL)
			http.Error(w, "outside base URL", http.StatusTeapot)
			return
		}
		http.StripPrefix("/v1", env.mux).ServeHTTP(w, r)
	}))
	env.server.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			env.conns.Add(1)
			n := env.open.Add(1)
			for m := env.maxOpen.Load(); n > m && !env.maxOpen.CompareAndSwap(m, n); m = env.maxOpen.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			env.open.Add(-1)
		}
	}
	env.server.Start()
	t.Cleanup(env.server.Close)
	all := append([]Option{WithAPIKey(testKey), WithBaseURL(env.server.URL + "/v1"), withClock(env.clock), config.WithBeneath(env.clock.Tagging)}, opts...)
	c, err := NewClient(all...)
	require.NoError(t, err)
	env.client = c
	return env
}

// testContext returns a context cancelled when the test ends.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// runJSON is a run object as the server sends it.
func runJSON(id string, status Status) map[string]any {
	return map[string]any{
		"id": id, "recipe_id": "01JEXAMPLE00000000000000000", "status": string(status),
		"created_at": "2026-01-15T10:30:00Z", "duration_ms": 0,
	}
}

// statusSequence answers GET runs/{id}/ with each status in turn, repeating
// the last one, and counts the polls.
func statusSequence(t *testing.T, env *testEnv, id string, statuses ...Status) *atomic.Int64 {
	t.Helper()
	var polls atomic.Int64
	env.mux.HandleFunc("GET /runs/"+id+"/", func(w http.ResponseWriter, r *http.Request) {
		n := int(polls.Add(1)) - 1
		writeJSON(w, http.StatusOK, runJSON(id, statuses[min(n, len(statuses)-1)]))
	})
	return &polls
}

func testMethod(t *testing.T, r *http.Request, want string) {
	t.Helper()
	assert.Equal(t, want, r.Method)
}

// readBody returns the request body as a string.
func readBody(t *testing.T, r *http.Request) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	return string(b)
}
