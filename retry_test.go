package stewai

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
		{"capped", func(time.Time) string { return "3600" }, MaxRetryAfter},
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
		env.clock.hold(r) // a server that never answers
	})
	errc := make(chan error, 1)
	go func() {
		_, err := env.client.Runs.Get(testContext(t), "r1")
		errc <- err
	}()
	for range 3 { // the first attempt and two retries each time out
		<-arrived
	}
	err := <-errc
	require.ErrorIs(t, err, ErrRequestTimeout)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "the caller's context did not expire")
	assert.Contains(t, err.Error(), "no complete answer within 10s")
	assert.Equal(t, 0, env.clock.Timers(), "every attempt timer is stopped or fired")
}

// Intervals near the largest Duration neither overflow nor wrap to zero:
// the schedule stays at its maximum.
func TestScheduleDoesNotOverflow(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.9, 0.999} {
		s := newSchedule(math.MaxInt64, math.MaxInt64, 1.5, 0.2, func() float64 { return r })
		for range 5 {
			assert.Greater(t, s.next(), time.Duration(math.MaxInt64/2), "rand %v", r)
		}
		assert.Greater(t, s.floor(), time.Duration(0))
	}
	s := newSchedule(9e18, 9e18, 1.5, 0.2, func() float64 { return 0.9 })
	assert.Greater(t, s.next(), time.Duration(0))
}
