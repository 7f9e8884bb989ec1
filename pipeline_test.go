package stewai

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRedirects(t *testing.T) {
	var otherHits atomic.Int64
	var otherAuth atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		otherAuth.Store(r.Header.Get("Authorization"))
		writeJSON(w, 200, runJSON("r1", StatusDone))
	}))
	defer other.Close()

	t.Run("to another host: not followed, key not sent", func(t *testing.T) {
		env := setup(t)
		env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/v1/runs/r1/", http.StatusFound)
		})
		_, err := env.client.Runs.Get(testContext(t), "r1")
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusFound, apiErr.StatusCode)
		assert.Zero(t, otherHits.Load(), "nothing reaches the other host")
		assert.Equal(t, int64(1), env.requests.Load(), "a redirect is not retried")
	})
	t.Run("within the API host: followed with the key", func(t *testing.T) {
		env := setup(t)
		env.mux.HandleFunc("GET /runs/old/", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/v1/runs/r1/", http.StatusMovedPermanently)
		})
		env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
			assert.Equal(t, "Bearer "+testKey, r.Header.Get("Authorization"))
			writeJSON(w, 200, runJSON("r1", StatusDone))
		})
		run, err := env.client.Runs.Get(testContext(t), "old")
		require.NoError(t, err)
		assert.Equal(t, "r1", run.ID)
	})
	t.Run("an endless loop ends", func(t *testing.T) {
		env := setup(t)
		env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/v1/runs/r1/", http.StatusFound)
		})
		_, err := env.client.Runs.Get(testContext(t), "r1")
		require.ErrorIs(t, err, errTooManyRedirects)
		assert.Equal(t, int64(maxRedirects), env.requests.Load(), "the chain stops at the limit and is not retried")
	})
}

func TestConnectionReuse(t *testing.T) {
	env := setup(t)
	big := strings.Repeat("x", 100<<10)
	env.mux.HandleFunc("GET /runs/ok/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, runJSON("ok", StatusDone))
	})
	env.mux.HandleFunc("GET /runs/missing/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, map[string]any{"detail": "not found", "padding": big}) // more than the kept 64 KiB
	})
	ctx := testContext(t)
	for range 5 {
		_, err := env.client.Runs.Get(ctx, "ok")
		require.NoError(t, err)
		_, err = env.client.Runs.Get(ctx, "missing")
		require.ErrorIs(t, err, ErrNotFound)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Len(t, apiErr.Body, maxErrorBodyBytes, "the error body is kept up to its cap")
	}
	assert.Equal(t, int64(1), env.conns.Load(), "ten sequential calls share one connection")
}

func TestResponseBodies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		ctype   string
		want    error
		opts    []Option
		wantMsg string
	}{
		{"empty", "", "application/json", ErrMalformedResponse, nil, "empty body"},
		{"HTML", "<html><body>Bad gateway</body></html>", "text/html", ErrMalformedResponse, nil, "text/html"},
		{"wrong JSON type", `["r1"]`, "application/json", ErrMalformedResponse, nil, "cannot unmarshal array"},
		{"not a run", `{"ok": true}`, "application/json", ErrMalformedResponse, nil, "run object has no id"},
		{"null", `null`, "application/json", ErrMalformedResponse, nil, "run object has no id"},
		{"truncated JSON", `{"id": "r1", "stat`, "application/json", ErrMalformedResponse, nil, "unexpected end of JSON"},
		{"too large", `{"id": "r1", "padding": "` + strings.Repeat("x", 2000) + `"}`, "application/json", ErrResponseTooLarge,
			[]Option{WithMaxResponseBytes(1000)}, "over the 1000-byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := setup(t, tc.opts...)
			env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				fmt.Fprint(w, tc.body)
			})
			_, err := env.client.Runs.Get(testContext(t), "r1")
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.wantMsg)
			assert.Equal(t, int64(1), env.requests.Load(), "a complete but bad answer is not retried")
		})
	}
	t.Run("too large without Content-Length", func(t *testing.T) {
		env := setup(t, WithMaxResponseBytes(1000))
		env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
			for range 10 {
				fmt.Fprint(w, strings.Repeat(" ", 500))
				http.NewResponseController(w).Flush() // chunked: no length known up front
			}
		})
		_, err := env.client.Runs.Get(testContext(t), "r1")
		require.ErrorIs(t, err, ErrResponseTooLarge)
	})
}

func TestConcurrentUse(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("GET /runs/{id}/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, runJSON(r.PathValue("id"), StatusDone))
	})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("run-%d", i)
			run, err := env.client.Runs.Get(testContext(t), id)
			if err == nil && run.ID != id {
				err = errors.New("wrong run " + run.ID + " for " + id)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

// Many concurrent calls on one default client share a capped set of
// connections: bursts reuse idle ones instead of dialling anew (Go's default
// transport keeps 2 idle per host, so every burst above that dialled).
func TestDefaultTransportCapsConnections(t *testing.T) {
	env := setup(t, WithMaxConnsPerHost(8))
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, runJSON("r1", StatusDone))
	})
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				_, err := env.client.Runs.Get(testContext(t), "r1")
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(500), env.requests.Load())
	assert.LessOrEqual(t, env.conns.Load(), int64(8), "never more connections than the cap")
	env.client.CloseIdleConnections()

	_, err := NewClient(WithAPIKey(testKey), WithHTTPClient(&http.Client{}), WithMaxConnsPerHost(4))
	assert.ErrorIs(t, err, ErrInvalidParams, "a caller's client is used as given")
	_, err = NewClient(WithAPIKey(testKey), WithMaxConnsPerHost(0))
	assert.ErrorIs(t, err, ErrInvalidParams)
}
