package stewai

import (
	"bytes"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewClientAPIKey(t *testing.T) {
	t.Run("missing everywhere", func(t *testing.T) {
		t.Setenv("STEWAI_API_KEY", "")
		c, err := NewClient()
		assert.Nil(t, c)
		assert.ErrorIs(t, err, ErrMissingAPIKey)
	})
	t.Run("explicit empty key", func(t *testing.T) {
		t.Setenv("STEWAI_API_KEY", "sk-from-env")
		_, err := NewClient(WithAPIKey("  "))
		assert.ErrorIs(t, err, ErrMissingAPIKey, "an explicit empty key is a bug, not a request for the env key")
	})
	t.Run("bad characters are rejected without echoing the key", func(t *testing.T) {
		_, err := NewClient(WithAPIKey("sk-live-abc\r\nX-Evil: 1"))
		require.ErrorIs(t, err, ErrInvalidParams)
		assert.NotContains(t, err.Error(), "sk-live-abc")
	})

	for _, tc := range []struct {
		name, env string
		opts      []Option
		want      string
	}{
		{"from env", "sk-env", nil, "sk-env"},
		{"env trimmed", "  sk-env\n", nil, "sk-env"},
		{"option wins", "sk-env", []Option{WithAPIKey("sk-opt")}, "sk-opt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("STEWAI_API_KEY", tc.env)
			var got string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Get("Authorization")
				writeJSON(w, 200, runJSON("r1", StatusDone))
			}))
			defer srv.Close()
			c, err := NewClient(append(tc.opts, WithBaseURL(srv.URL))...)
			require.NoError(t, err)
			_, err = c.Runs.Get(testContext(t), "r1")
			require.NoError(t, err)
			assert.Equal(t, "Bearer "+tc.want, got)
		})
	}
}

func TestBaseURL(t *testing.T) {
	// The request path for Get("r1") under each base URL.
	for _, tc := range []struct {
		name, env, opt, wantPath string
	}{
		{"option without slash", "", "/v1", "/v1/runs/r1/"},
		{"option with slash", "", "/v1/", "/v1/runs/r1/"},
		{"deeper prefix", "", "/proxy/stewai/v1", "/proxy/stewai/v1/runs/r1/"},
		{"root", "", "", "/runs/r1/"},
		{"from env", "/envbase/v1", "", "/envbase/v1/runs/r1/"},
		{"option wins over env", "/envbase/v1", "/v1", "/v1/runs/r1/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.URL.Path
				writeJSON(w, 200, runJSON("r1", StatusDone))
			}))
			defer srv.Close()
			t.Setenv("STEWAI_BASE_URL", "")
			if tc.env != "" {
				t.Setenv("STEWAI_BASE_URL", srv.URL+tc.env)
			}
			opts := []Option{WithAPIKey(testKey)}
			if tc.opt != "" || tc.env == "" {
				opts = append(opts, WithBaseURL(srv.URL+tc.opt))
			}
			c, err := NewClient(opts...)
			require.NoError(t, err)
			_, err = c.Runs.Get(testContext(t), "r1")
			require.NoError(t, err)
			assert.Equal(t, tc.wantPath, got)
		})
	}

	t.Run("default", func(t *testing.T) {
		t.Setenv("STEWAI_BASE_URL", "")
		c, err := NewClient(WithAPIKey(testKey))
		require.NoError(t, err)
		assert.Equal(t, DefaultBaseURL+"/", c.core.baseURL)
	})

	for _, bad := range []string{"", "api.stewai.com/v1", "ftp://api.stewai.com", "https://", "https://api.stewai.com/v1?x=1",
		"https://api.stewai.com/v1#frag", "https://user:pw@api.stewai.com/v1", "http://[::1", "https://api.stewai.com/v1?"} {
		t.Run("rejects "+bad, func(t *testing.T) {
			_, err := NewClient(WithAPIKey(testKey), WithBaseURL(bad))
			assert.ErrorIs(t, err, ErrInvalidParams)
			assert.NotContains(t, err.Error(), "pw", "credentials are not echoed")
		})
	}
	t.Run("rejects a bad env value by name", func(t *testing.T) {
		t.Setenv("STEWAI_BASE_URL", "ftp://x")
		_, err := NewClient(WithAPIKey(testKey))
		require.ErrorIs(t, err, ErrInvalidParams)
		assert.Contains(t, err.Error(), "STEWAI_BASE_URL")
	})
}

func TestOptionsValidate(t *testing.T) {
	for name, opt := range map[string]Option{
		"nil http client":      WithHTTPClient(nil),
		"negative retries":     WithMaxRetries(-1),
		"zero request timeout": WithRequestTimeout(0),
		"negative timeout":     WithRequestTimeout(-time.Second),
		"zero response cap":    WithMaxResponseBytes(0),
		"user agent with CRLF": WithUserAgent("app/1\r\nX-Evil: 1"),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := NewClient(WithAPIKey(testKey), opt)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, ErrInvalidParams)
		})
	}
	t.Run("nil options are skipped", func(t *testing.T) {
		_, err := NewClient(WithAPIKey(testKey), nil)
		assert.NoError(t, err)
	})
}

func TestHeaders(t *testing.T) {
	env := setup(t, WithUserAgent("my-service/1.2"))
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "Bearer "+testKey, r.Header.Get("Authorization"))
		assert.Equal(t, "stewai-go/"+Version+" my-service/1.2", r.Header.Get("User-Agent"))
		assert.Equal(t, "application/json", r.Header.Get("Accept"))
		assert.Empty(t, r.Header.Get("Content-Type"), "a GET has no body")
		assert.Empty(t, r.Header.Get("Idempotency-Key"), "GETs need no idempotency key")
		writeJSON(w, 200, runJSON("r1", StatusDone))
	})
	_, err := env.client.Runs.Get(testContext(t), "r1")
	require.NoError(t, err)

	plain := setup(t)
	plain.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "stewai-go/"+Version, r.Header.Get("User-Agent"))
		writeJSON(w, 200, runJSON("r1", StatusDone))
	})
	_, err = plain.client.Runs.Get(testContext(t), "r1")
	require.NoError(t, err)
}

func TestHTTPClientNotMutated(t *testing.T) {
	var used atomic.Bool
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Store(true)
		return http.DefaultTransport.RoundTrip(r)
	})}
	env := setup(t, WithHTTPClient(hc))
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, runJSON("r1", StatusDone))
	})
	_, err := env.client.Runs.Get(testContext(t), "r1")
	require.NoError(t, err)
	assert.True(t, used.Load(), "the caller's transport carries the requests")
	assert.Nil(t, hc.CheckRedirect, "the caller's client is left as it was")
}

func TestSilentByDefault(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	env := setup(t)
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	_, err := env.client.Runs.Get(testContext(t), "r1")
	require.Error(t, err)
	assert.Empty(t, logs.String(), "no logger given: nothing logged, not even to slog's default")
}

func TestLoggingDescribesRequestsAndRetries(t *testing.T) {
	var logs bytes.Buffer
	env := setup(t, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	var n atomic.Int64
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(503)
			return
		}
		writeJSON(w, 200, runJSON("r1", StatusDone))
	})
	_, err := env.client.Runs.Get(testContext(t), "r1")
	require.NoError(t, err)
	out := logs.String()
	assert.Contains(t, out, `level=WARN msg="stewai: retrying" method=GET path=runs/r1/ attempt=1 delay=`)
	assert.Contains(t, out, "status=503")
	assert.Contains(t, out, "attempt=2 status=200")
}

// WithMaxConnsPerHost is bounded: a huge cap once overflowed the pollers'
// bounds derived from it. Out of range is ErrInvalidParams, never a panic
// or a hang; the largest cap allowed works.
func TestMaxConnsPerHostBounds(t *testing.T) {
	for _, n := range []int{math.MaxInt, math.MaxInt32, 1 << 60, 1<<16 + 1, 0, -1, math.MinInt} {
		c, err := NewClient(WithAPIKey(testKey), WithMaxConnsPerHost(n))
		assert.Nil(t, c, "%d", n)
		require.ErrorIs(t, err, ErrInvalidParams, "%d", n)
		assert.Contains(t, err.Error(), "WithMaxConnsPerHost")
	}
	env := setup(t, WithMaxConnsPerHost(65536))
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, runJSON("r1", StatusDone))
	})
	run, err := env.client.Runs.Wait(testContext(t), "r1")
	require.NoError(t, err, "65536 is accepted, and waits run")
	assert.Equal(t, StatusDone, run.Status)
	env.client.CloseIdleConnections()
}
