package stewai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewai/stewai-go/internal/clock"
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

func TestKeyNeverPrinted(t *testing.T) {
	env := setup(t)
	c := env.client
	holder := struct {
		client *Client
		value  Client
	}{c, *c}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		for _, v := range []any{c, *c, holder, c.Runs, c.Storage, &holder} {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, testKey, "verb %s on %T", verb, v)
			assert.NotContains(t, out, fmt.Sprintf("%x", testKey), "verb %s on %T", verb, v)
		}
	}
	assert.Contains(t, c.String(), env.server.URL, "String still says where the client points")
}

func TestKeyNotInErrorsOrLogs(t *testing.T) {
	var logs bytes.Buffer
	env := setup(t, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	// A server that echoes the key back in its error body.
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, map[string]any{"detail": "invalid key " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")})
	})
	_, err := env.client.Runs.Get(testContext(t), "r1")
	require.ErrorIs(t, err, ErrAuthentication)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.NotContains(t, err.Error(), testKey)
	assert.NotContains(t, string(apiErr.Body), testKey)
	assert.Contains(t, apiErr.Message, "invalid key [REDACTED]")
	assert.NotContains(t, fmt.Sprintf("%+v %#v", apiErr, apiErr), testKey)

	assert.Contains(t, logs.String(), "path=runs/r1/", "debug logging is on")
	assert.NotContains(t, logs.String(), testKey)
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

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

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

func TestRetriesTransientStatuses(t *testing.T) {
	for _, status := range []int{408, 429, 500, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			env := setup(t)
			var n atomic.Int64
			env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) <= 2 {
					w.WriteHeader(status)
					return
				}
				writeJSON(w, 200, runJSON("r1", StatusDone))
			})
			run, err := env.client.Runs.Get(testContext(t), "r1")
			require.NoError(t, err)
			assert.Equal(t, "r1", run.ID)
			assert.Equal(t, int64(3), n.Load())
			// Capped exponential backoff with ±25 % jitter: ~500 ms, then ~1 s.
			sleeps := env.clock.Sleeps()
			require.Len(t, sleeps, 2)
			assert.InDelta(t, 500*time.Millisecond, sleeps[0], float64(125*time.Millisecond)+1)
			assert.InDelta(t, time.Second, sleeps[1], float64(250*time.Millisecond)+1)
		})
	}
}

func TestRetriesAreBounded(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []Option
		attempts int64
	}{
		{"default 2 retries", nil, 3},
		{"WithMaxRetries(0)", []Option{WithMaxRetries(0)}, 1},
		{"WithMaxRetries(5)", []Option{WithMaxRetries(5)}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := setup(t, tc.opts...)
			env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 503, map[string]any{"detail": "overloaded"})
			})
			_, err := env.client.Runs.Get(testContext(t), "r1")
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, 503, apiErr.StatusCode)
			assert.Equal(t, "overloaded", apiErr.Message)
			assert.Equal(t, tc.attempts, env.requests.Load())
			if tc.attempts > 1 {
				assert.Contains(t, err.Error(), fmt.Sprintf("after %d attempts", tc.attempts))
			}
			for _, d := range env.clock.Sleeps() {
				assert.LessOrEqual(t, d, retryMax, "backoff is capped")
			}
		})
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 409, 422, 501} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			env := setup(t)
			env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, status, map[string]any{"detail": "no"})
			})
			_, err := env.client.Runs.Get(testContext(t), "r1")
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, status, apiErr.StatusCode)
			assert.Equal(t, int64(1), env.requests.Load())
			assert.Empty(t, env.clock.Sleeps())
		})
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header func(now time.Time) string
		want   time.Duration
	}{
		{"seconds", func(time.Time) string { return "7" }, 7 * time.Second},
		{"fractional seconds", func(time.Time) string { return "1.5" }, 1500 * time.Millisecond},
		{"HTTP date", func(now time.Time) string { return now.Add(12 * time.Second).UTC().Format(http.TimeFormat) }, 12 * time.Second},
		{"capped", func(time.Time) string { return "3600" }, maxRetryWait},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := setup(t)
			var n atomic.Int64
			env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					w.Header().Set("Retry-After", tc.header(env.clock.Now()))
					w.WriteHeader(429)
					return
				}
				writeJSON(w, 200, runJSON("r1", StatusDone))
			})
			_, err := env.client.Runs.Get(testContext(t), "r1")
			require.NoError(t, err)
			assert.Equal(t, []time.Duration{tc.want}, env.clock.Sleeps())
		})
	}

	t.Run("exposed on the error", func(t *testing.T) {
		env := setup(t, WithMaxRetries(0))
		env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(429)
		})
		_, err := env.client.Runs.Get(testContext(t), "r1")
		require.ErrorIs(t, err, ErrRateLimited)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, 30*time.Second, apiErr.RetryAfter)
	})
}

func TestRetriesDroppedConnections(t *testing.T) {
	env := setup(t)
	var n atomic.Int64
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			hijackAndClose(t, w)
			return
		}
		writeJSON(w, 200, runJSON("r1", StatusDone))
	})
	run, err := env.client.Runs.Get(testContext(t), "r1")
	require.NoError(t, err)
	assert.Equal(t, "r1", run.ID)
	assert.GreaterOrEqual(t, n.Load(), int64(2))
}

// hijackAndClose drops the connection without answering.
func hijackAndClose(t *testing.T, w http.ResponseWriter) {
	t.Helper()
	conn, _, err := http.NewResponseController(w).Hijack()
	require.NoError(t, err)
	conn.Close()
}

func TestRequestTimeout(t *testing.T) {
	env := setup(t, WithRequestTimeout(10*time.Second))
	arrived := make(chan struct{})
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done() // a server that never answers
	})
	errc := make(chan error, 1)
	go func() {
		_, err := env.client.Runs.Get(testContext(t), "r1")
		errc <- err
	}()
	for range 3 { // the first attempt and two retries each time out
		<-arrived
		env.clock.Advance(10 * time.Second)
	}
	err := <-errc
	require.ErrorIs(t, err, ErrRequestTimeout)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "the caller's context did not expire")
	assert.Contains(t, err.Error(), "no complete answer within 10s")
	assert.Equal(t, 0, env.clock.Timers(), "every attempt timer is stopped or fired")
}

func TestCancelDuringRetrySleep(t *testing.T) {
	env := setup(t)
	ctx, cancel := context.WithCancel(testContext(t))
	env.clock.OnSleep(func(time.Duration) { cancel() })
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	_, err := env.client.Runs.Get(ctx, "r1")
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int64(1), env.requests.Load(), "no attempt after the cancel")
}

func TestCancelDuringRetrySleepRealClock(t *testing.T) {
	// On the real clock: the sleep (60 s asked by Retry-After) must end
	// when the context is cancelled, not when the timer fires.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(503)
	}))
	defer srv.Close()
	sleeping := make(chan struct{}, 1)
	c, err := NewClient(WithAPIKey(testKey), WithBaseURL(srv.URL), withClock(notifyingClock{clock.Real, sleeping}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(testContext(t))
	go func() { <-sleeping; cancel() }()
	_, err = c.Runs.Get(ctx, "r1")
	assert.ErrorIs(t, err, context.Canceled)
}

// notifyingClock signals each Sleep before delegating it.
type notifyingClock struct {
	clock.Clock
	sleeping chan<- struct{}
}

func (c notifyingClock) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case c.sleeping <- struct{}{}:
	default:
	}
	return c.Clock.Sleep(ctx, d)
}

func TestCancelMidRequest(t *testing.T) {
	env := setup(t)
	ctx, cancel := context.WithCancel(testContext(t))
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	})
	_, err := env.client.Runs.Get(ctx, "r1")
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int64(1), env.requests.Load())
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
