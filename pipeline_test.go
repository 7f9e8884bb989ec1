package stewai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	assert.LessOrEqual(t, env.maxOpen.Load(), int64(8), "never more connections open at once than the cap")
	// Bursts reuse idle connections: without the idle pool sized to the cap,
	// 500 calls from 100 goroutines dial hundreds. (Under a heavy load the
	// transport may close and replace one now and then: open at once is the
	// cap's measure.)
	assert.LessOrEqual(t, env.conns.Load(), int64(16), "connections reused")
	env.client.CloseIdleConnections()

	_, err := NewClient(WithAPIKey(testKey), WithHTTPClient(&http.Client{}), WithMaxConnsPerHost(4))
	assert.ErrorIs(t, err, ErrInvalidParams, "a caller's client is used as given")
	_, err = NewClient(WithAPIKey(testKey), WithMaxConnsPerHost(0))
	assert.ErrorIs(t, err, ErrInvalidParams)
}

// A user's http.Client.Timeout is a request timeout, not the caller's
// context ending.
func TestHTTPClientTimeoutIsARequestTimeout(t *testing.T) {
	env := setup(t, WithHTTPClient(&http.Client{Timeout: 20 * time.Millisecond}), WithMaxRetries(1))
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	_, err := env.client.Runs.Get(testContext(t), "r1")
	require.ErrorIs(t, err, ErrRequestTimeout)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "the caller's context has no deadline")
	assert.Contains(t, err.Error(), "http.Client's timeout")
	// Counted by the client: under load the retry's 20 ms may run out
	// before the server has taken the request.
	assert.Contains(t, err.Error(), "(after 2 attempts)", "a timeout is transient: retried")
}

// zeros yields n zero bytes, 32 KiB a read, as a chunked body arrives.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n, 32<<10)
	z.n -= k
	return int(k), nil
}

// allocatedBy is the bytes f allocates: the least of three runs, so that
// another goroutine allocating meanwhile does not count.
func allocatedBy(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// An oversized answer of unknown length costs memory near the limit:
// readBounded allocates at most twice the limit in all (1.5 times at its
// peak, while it grows), against 2.5 times for io.ReadAll, the baseline
// measured in the same run.
func TestOversizedAnswerMemory(t *testing.T) {
	const limit = 8 << 20
	baseline := allocatedBy(func() { _, _ = io.ReadAll(io.LimitReader(&zeros{4 * limit}, limit+1)) })
	var got []byte
	var over bool
	ours := allocatedBy(func() { got, over, _ = readBounded(&zeros{4 * limit}, limit, -1) })
	t.Logf("allocated %.2fx the limit, io.ReadAll %.2fx", float64(ours)/limit, float64(baseline)/limit)
	assert.Len(t, got, limit, "read to the limit and no further")
	assert.True(t, over)
	assert.Less(t, ours, uint64(limit)*21/10)
	assert.Less(t, ours, baseline*9/10)

	env := setup(t, WithMaxResponseBytes(limit), WithMaxRetries(0))
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK) // chunked: no Content-Length to reject it by
		chunk := make([]byte, 64<<10)
		for range (4 * limit) / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	_, err := env.client.Runs.Get(testContext(t), "r1")
	require.ErrorIs(t, err, ErrResponseTooLarge)
}

func TestReadBounded(t *testing.T) {
	for _, tc := range []struct {
		size, limit, hint int64
		want              int
		over              bool
	}{
		{0, 10, -1, 0, false}, {5, 10, -1, 5, false}, {10, 10, -1, 10, false}, {11, 10, -1, 10, true}, {25, 10, -1, 10, true},
		{5, 10, 5, 5, false}, {2000, 4096, 2000, 2000, false}, {5000, 4096, -1, 4096, true}, {4096, 4096, 4096, 4096, false},
	} {
		b, over, err := readBounded(bytes.NewReader(make([]byte, tc.size)), tc.limit, tc.hint)
		require.NoError(t, err)
		assert.Len(t, b, tc.want, "%+v", tc)
		assert.Equal(t, tc.over, over, "%+v", tc)
		assert.LessOrEqual(t, int64(cap(b)), tc.limit, "never grown past the limit: %+v", tc)
	}
}

// TestAttemptContextFollowsWhoSeesTheRequest: an attempt's context is the
// real clock's lighter one only when the request goes straight to
// net/http's transport; with a middleware or a caller's round tripper
// (which may put it under a context with values), it is the one the
// context package treats as its own.
func TestAttemptContextFollowsWhoSeesTheRequest(t *testing.T) {
	passThrough := func(req *http.Request, next MiddlewareNext) (*http.Response, error) { return next(req) }
	rt := roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("unused") })
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"own transport", nil, "clock.RequestTimeout("},
		{"caller's *http.Transport", []Option{WithHTTPClient(&http.Client{Transport: &http.Transport{}})}, "clock.RequestTimeout("},
		{"middleware", []Option{WithMiddleware(passThrough)}, "clock.WithTimeout("},
		{"caller's round tripper", []Option{WithHTTPClient(&http.Client{Transport: rt})}, "clock.WithTimeout("},
	} {
		c, err := NewClient(append([]Option{WithAPIKey("sk_test_0123456789"), WithBaseURL("https://api.test/v1")}, tc.opts...)...)
		require.NoError(t, err)
		ctx, cancel := c.core.requestTimeoutCtx(context.Background(), time.Minute, ErrRequestTimeout)
		assert.True(t, strings.HasPrefix(fmt.Sprint(ctx), tc.want), "%s: %s", tc.name, ctx)
		cancel()
	}
}
