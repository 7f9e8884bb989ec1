package stewai

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewai/stewai-go/internal/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testKey = "sk-live-test-0123456789abcdef"

// epoch is where fake clocks start.
var epoch = time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)

// testEnv is a client wired to an httptest server that serves mux under
// /v1/, on a fake clock. Requests outside /v1/ fail the test, so a wrong
// absolute path shows up.
type testEnv struct {
	client   *Client
	mux      *http.ServeMux
	clock    *clock.Fake
	server   *httptest.Server
	requests atomic.Int64 // HTTP requests received
	conns    atomic.Int64 // connections accepted
}

func setup(t testing.TB, opts ...Option) *testEnv {
	t.Helper()
	env := &testEnv{mux: http.NewServeMux(), clock: clock.NewFake(epoch)}
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
		if s == http.StateNew {
			env.conns.Add(1)
		}
	}
	env.server.Start()
	t.Cleanup(env.server.Close)
	all := append([]Option{WithAPIKey(testKey), WithBaseURL(env.server.URL + "/v1"), withClock(env.clock)}, opts...)
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
