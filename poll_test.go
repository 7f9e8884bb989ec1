package stewai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scheduleInterval is the Python SDK's un-jittered interval before poll n+1.
func scheduleInterval(n int, initial, maxInterval time.Duration) time.Duration {
	d := float64(initial)
	for range n {
		d *= 1.5
	}
	return min(time.Duration(d), maxInterval)
}

func TestWaitSchedule(t *testing.T) {
	for _, tc := range []struct {
		name          string
		opts          []WaitOption
		initial, maxi time.Duration
	}{
		{"defaults", nil, 500 * time.Millisecond, 5 * time.Second},
		{"custom", []WaitOption{WithPollInterval(2 * time.Second), WithMaxPollInterval(20 * time.Second)}, 2 * time.Second, 20 * time.Second},
		{"interval above the default max is lowered", []WaitOption{WithPollInterval(10 * time.Second)}, 5 * time.Second, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := setup(t)
			statuses := make([]Status, 15)
			for i := range statuses {
				statuses[i] = StatusRunning
			}
			polls := statusSequence(t, env, "r1", append(statuses, StatusDone)...)
			run, err := env.client.Runs.Wait(testContext(t), "r1", tc.opts...)
			require.NoError(t, err)
			assert.Equal(t, StatusDone, run.Status)
			assert.Equal(t, int64(16), polls.Load(), "polls until the terminal status, no more")

			sleeps := env.clock.Sleeps()
			require.Len(t, sleeps, 15, "one delay between consecutive polls, none before the first")
			jittered := false
			for i, got := range sleeps {
				c := scheduleInterval(i, tc.initial, tc.maxi)
				lo, hi := time.Duration(0.8*float64(c)), min(time.Duration(1.2*float64(c))+1, tc.maxi)
				assert.True(t, got >= lo && got <= hi, "delay %d = %s, want current %s ± 20 %% within max %s", i, got, c, tc.maxi)
				jittered = jittered || got != c
			}
			assert.True(t, jittered, "delays are jittered")
		})
	}
}

func TestWaitTimeout(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, runJSON("r1", StatusQueued))
	})
	var others atomic.Int64
	env.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { others.Add(1) })

	start := env.clock.Now()
	// First delay 1.5 s ± 20 %; the next interval (≥ 1.8 s) exceeds the
	// ≤ 0.8 s left, so it must be clamped.
	run, err := env.client.Runs.Wait(testContext(t), "r1", WithTimeout(2*time.Second), WithPollInterval(1500*time.Millisecond))
	require.ErrorIs(t, err, ErrWaitTimeout)
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "r1", te.RunID)
	assert.Equal(t, 2*time.Second, te.Timeout)
	assert.Equal(t, StatusQueued, te.LastStatus)
	assert.NoError(t, te.Err)
	assert.Equal(t, "stewai: run r1 still queued after waiting 2s (the run goes on)", err.Error())
	require.NotNil(t, run)
	assert.Equal(t, StatusQueued, run.Status)

	sleeps := env.clock.Sleeps()
	require.Len(t, sleeps, 2)
	assert.Equal(t, 2*time.Second-sleeps[0], sleeps[1], "the last delay is clamped to the time left")
	assert.Equal(t, 2*time.Second, env.clock.Now().Sub(start), "the wait ends at its deadline")
	assert.Equal(t, int64(2), env.requests.Load(), "no poll at or after the deadline")
	assert.Zero(t, others.Load(), "a timeout does not cancel the run: nothing but polls was sent")
}

func TestWaitTerminalStatuses(t *testing.T) {
	for _, tc := range []struct {
		status Status
		want   error
	}{
		{StatusFailed, ErrRunFailed},
		{StatusCancelled, ErrRunCancelled},
		{StatusBlocked, ErrRunBlocked},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			env := setup(t)
			statusSequence(t, env, "r1", StatusQueued, StatusRunning, tc.status)
			run, err := env.client.Runs.Wait(testContext(t), "r1")
			require.ErrorIs(t, err, tc.want)
			for _, other := range []error{ErrRunFailed, ErrRunCancelled, ErrRunBlocked, ErrWaitTimeout} {
				if other != tc.want {
					assert.NotErrorIs(t, err, other)
				}
			}
			var re *RunError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, "r1", re.RunID)
			assert.Equal(t, tc.status, re.Run.Status)
			assert.Contains(t, string(re.Run.Raw), `"recipe_id"`, "the whole run travels with the error")
			assert.Equal(t, "stewai: run r1 "+string(tc.status), err.Error())
			assert.Same(t, re.Run, run)
		})
	}
}

func TestWaitUnknownStatusKeepsPolling(t *testing.T) {
	env := setup(t)
	polls := statusSequence(t, env, "r1", "paused", "", "awaiting_approval", StatusDone)
	run, err := env.client.Runs.Wait(testContext(t), "r1")
	require.NoError(t, err)
	assert.Equal(t, StatusDone, run.Status)
	assert.Equal(t, int64(4), polls.Load())
}

func TestWaitThroughTransientFailures(t *testing.T) {
	env := setup(t)
	var n atomic.Int64
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			writeJSON(w, 200, runJSON("r1", StatusRunning))
		case 2, 3: // rate limited without Retry-After: the Python SDK gives up here
			writeJSON(w, 429, map[string]any{"detail": "slow down"})
		case 4:
			w.WriteHeader(503)
		case 5:
			hijackAndClose(t, w)
		case 6:
			w.WriteHeader(504)
		default:
			writeJSON(w, 200, runJSON("r1", StatusDone))
		}
	})
	run, err := env.client.Runs.Wait(testContext(t), "r1")
	require.NoError(t, err)
	assert.Equal(t, StatusDone, run.Status)
	// One poll per delay: no retry bursts inside a wait. (net/http itself
	// may replay the GET once on the dropped keep-alive connection.)
	polls := int64(len(env.clock.Sleeps()) + 1)
	assert.GreaterOrEqual(t, polls, int64(6))
	assert.LessOrEqual(t, n.Load()-polls, int64(1))
}

func TestWaitRetryAfter(t *testing.T) {
	env := setup(t)
	var n atomic.Int64
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 2 {
			w.Header().Set("Retry-After", "10")
			w.WriteHeader(429)
			return
		}
		writeJSON(w, 200, runJSON("r1", []Status{StatusRunning, "", StatusRunning, StatusDone}[min(n.Load()-1, 3)]))
	})
	_, err := env.client.Runs.Wait(testContext(t), "r1")
	require.NoError(t, err)
	sleeps := env.clock.Sleeps()
	require.Len(t, sleeps, 3)
	assert.Equal(t, 10*time.Second, sleeps[1], "the server's Retry-After is slept exactly")
	assert.InDelta(t, 750*time.Millisecond, sleeps[2], float64(150*time.Millisecond)+1, "and the schedule resumes where it was")
}

func TestWaitRetryAfterPastDeadline(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		writeJSON(w, 429, map[string]any{"detail": "slow down"})
	})
	run, err := env.client.Runs.Wait(testContext(t), "r1", WithTimeout(5*time.Second))
	require.ErrorIs(t, err, ErrWaitTimeout)
	assert.ErrorIs(t, err, ErrRateLimited, "the last poll's error is kept")
	assert.Equal(t, &Run{ID: "r1"}, run, "no poll succeeded: the run carries its id only")
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	assert.Empty(t, te.LastStatus)
	assert.Contains(t, err.Error(), "still unknown after waiting 5s")
	assert.Contains(t, err.Error(), "429 Too Many Requests: slow down")
	assert.Equal(t, []time.Duration{5 * time.Second}, env.clock.Sleeps(), "the sleep is capped to the deadline")
}

func TestWaitEndsOnPermanentErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   error
	}{{404, ErrNotFound}, {401, ErrAuthentication}, {403, ErrAuthentication}, {400, nil}} {
		env := setup(t)
		var n atomic.Int64
		env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				writeJSON(w, 200, runJSON("r1", StatusRunning))
				return
			}
			writeJSON(w, tc.status, map[string]any{"detail": "no"})
		})
		run, err := env.client.Runs.Wait(testContext(t), "r1")
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, tc.status, apiErr.StatusCode)
		if tc.want != nil {
			assert.ErrorIs(t, err, tc.want)
		}
		assert.Equal(t, int64(2), n.Load(), "status %d ends the wait at once", tc.status)
		require.NotNil(t, run)
		assert.Equal(t, StatusRunning, run.Status)
	}
}

func TestWaitDeadlineBoundsSlowPolls(t *testing.T) {
	env := setup(t) // request timeout 60 s by default
	arrived := make(chan struct{}, 1)
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		env.clock.hold(r)
	})
	errc := make(chan error, 1)
	go func() {
		_, err := env.client.Runs.Wait(testContext(t), "r1", WithTimeout(30*time.Second))
		errc <- err
	}()
	<-arrived // held until the wait's deadline, well before the request timeout
	err := <-errc
	require.ErrorIs(t, err, ErrWaitTimeout)
	assert.ErrorIs(t, err, ErrRequestTimeout, "the hanging poll is the last error")
	assert.Equal(t, int64(1), env.requests.Load())
}

func TestOnStatusChange(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("POST /runs/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusAccepted, runJSON("r1", StatusQueued))
	})
	statusSequence(t, env, "r1", StatusQueued, StatusRunning, StatusRunning, StatusDone)
	var seen []Status
	_, err := env.client.Runs.Create(testContext(t), CreateRunParams{RecipeID: "x"},
		OnStatusChange(func(r *Run) { seen = append(seen, r.Status) }))
	require.NoError(t, err)
	assert.Equal(t, []Status{StatusQueued, StatusRunning, StatusDone}, seen)
}

func TestWaitReturnsNotFoundBeforeAnyRun(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, map[string]any{"detail": "Not found."})
	})
	run, err := env.client.Runs.Wait(testContext(t), "r1")
	require.NotNil(t, run, "a usable id always comes back with a run")
	assert.Equal(t, &Run{ID: "r1"}, run)
	assert.True(t, errors.Is(err, ErrNotFound))
}

// An answer about another run is not the run waited for, however
// terminal it looks.
func TestWaitRejectsAnotherRun(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("GET /runs/r-mine/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, runJSON("r-other", StatusDone))
	})
	run, err := env.client.Runs.Wait(testContext(t), "r-mine")
	assert.ErrorIs(t, err, ErrMalformedResponse)
	assert.Equal(t, &Run{ID: "r-mine"}, run, "the other run is not handed back as ours")

	var got []watched
	for run, err := range env.client.Runs.Watch(testContext(t), "r-mine") {
		got = append(got, watched{run.Status, err})
		assert.Equal(t, "r-mine", run.ID)
	}
	require.Len(t, got, 1)
	assert.ErrorIs(t, got[0].err, ErrMalformedResponse)
}

// A usable id comes back with a run carrying it, whatever the error: here
// a context done before the first poll, and a nil context.
func TestWaitRunNeverNil(t *testing.T) {
	env := setup(t)
	polls := statusSequence(t, env, "r1", StatusDone)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	run, err := env.client.Runs.Wait(ctx, "r1")
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, &Run{ID: "r1"}, run)

	n := 0
	for run, err := range env.client.Runs.Watch(ctx, "r1") {
		n++
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, &Run{ID: "r1"}, run)
	}
	assert.Equal(t, 1, n)
	//lint:ignore SA1012 a nil context is what is tested
	run, err = env.client.Runs.Wait(nil, "r1")
	assert.ErrorIs(t, err, ErrInvalidParams)
	assert.Equal(t, &Run{ID: "r1"}, run)
	assert.Zero(t, polls.Load(), "nothing sent")

	run, err = env.client.Runs.Wait(ctx, "..")
	assert.ErrorIs(t, err, ErrInvalidParams)
	assert.Nil(t, run, "an unusable id has no run")
}

func TestWaitDefaultTimeout(t *testing.T) {
	env := setup(t)
	statusSequence(t, env, "r1", StatusRunning)
	start := env.clock.Now()
	_, err := env.client.Runs.Wait(testContext(t), "r1")
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 300*time.Second, te.Timeout, "the Python SDK's default")
	assert.Equal(t, 300*time.Second, env.clock.Now().Sub(start))
	for _, d := range env.clock.Sleeps() {
		assert.LessOrEqual(t, d, 5*time.Second, "the default maximum interval")
	}
}

// Retry-After inside a wait is capped like everywhere else, and floored at
// the wait's own schedule.
func TestWaitRetryAfterBounds(t *testing.T) {
	t.Run("capped at 60 s", func(t *testing.T) {
		env := setup(t)
		var n atomic.Int64
		env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			writeJSON(w, http.StatusOK, runJSON("r1", StatusDone))
		})
		run, err := env.client.Runs.Wait(testContext(t), "r1")
		require.NoError(t, err, "the run was done: the wait must see it, not sleep to its deadline")
		assert.Equal(t, StatusDone, run.Status)
		assert.Equal(t, []time.Duration{MaxRetryAfter}, env.clock.Sleeps())
	})
	t.Run("floored at the schedule", func(t *testing.T) {
		env := setup(t)
		var n atomic.Int64
		env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.Header().Set("Retry-After", "0.001")
			w.WriteHeader(http.StatusTooManyRequests)
		})
		_, err := env.client.Runs.Wait(testContext(t), "r1", WithTimeout(2*time.Second))
		require.ErrorIs(t, err, ErrWaitTimeout)
		assert.LessOrEqual(t, n.Load(), int64(6), "a tiny Retry-After does not make the wait poll faster than its schedule")
		for _, d := range env.clock.Sleeps() {
			assert.GreaterOrEqual(t, d, 400*time.Millisecond, "no delay under the first interval's floor (500 ms - 20 %%), but the last, clamped to the deadline")
			if d < 400*time.Millisecond {
				break
			}
		}
	})
}

// A status this package does not know keeps the wait going; the server's
// text then reaches the TimeoutError and the debug log only on one short
// line, without the key, however the server echoes it.
func TestUnknownStatusShownSafely(t *testing.T) {
	var logs bytes.Buffer
	env := setup(t, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	env.mux.HandleFunc("GET /runs/r/", func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		status := "waiting on " + key + "\nlevel=ERROR msg=forged " + strings.Repeat("x", 1000)
		writeJSON(w, http.StatusOK, map[string]any{"id": "r", "status": status})
	})
	_, err := env.client.Runs.Wait(testContext(t), "r", WithTimeout(2*time.Second))
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	assert.NotContains(t, err.Error(), testKey)
	assert.NotContains(t, err.Error(), "\n")
	assert.Less(t, len(te.LastStatus), 100, "cut short")
	assert.NotContains(t, logs.String(), testKey)
	assert.NotContains(t, logs.String(), "\nlevel=ERROR msg=forged", "no forged log line")
}

// TestQueuedPollsOnTheRealClock runs waits on the real clock (the time of a
// synctest bubble) with more polls than pollers, so that most polls wait
// in the queue, where one timer per wait bounds them all: every wait ends
// with its run after the same polls, and a wait whose deadline passes in
// the queue ends with a *TimeoutError, its poll never sent.
func TestQueuedPollsOnTheRealClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		polls := map[string]int{}
		rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			id := strings.Split(strings.TrimPrefix(req.URL.Path, "/v1/runs/"), "/")[0]
			mu.Lock()
			polls[id]++
			n := polls[id]
			mu.Unlock()
			time.Sleep(time.Second) // the server's latency
			status := "running"
			if n == 3 && id != "never" {
				status = "done"
			}
			body := fmt.Sprintf(`{"id":%q,"recipe_id":"r","status":%q}`, id, status)
			return &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
		})
		c, err := NewClient(WithHTTPClient(&http.Client{Transport: rt}), WithAPIKey("sk_test_0123456789"), WithBaseURL("https://api.test/v1"))
		require.NoError(t, err)
		const waits = 200 // over the 63 pollers a client without a cap has over HTTP/1.1
		var wg sync.WaitGroup
		errs := make([]error, waits)
		for i := range waits {
			wg.Add(1)
			go func() {
				defer wg.Done()
				run, err := c.Runs.Wait(context.Background(), fmt.Sprint("run", i), WithPollInterval(time.Second))
				if err == nil && run.Status != StatusDone {
					err = fmt.Errorf("run %s is %s", run.ID, run.Status)
				}
				errs[i] = err
			}()
		}
		synctest.Wait() // every wait is polling or queued
		start := time.Now()
		_, err = c.Runs.Wait(context.Background(), "never", WithTimeout(1500*time.Millisecond), WithPollInterval(time.Second))
		var te *TimeoutError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, 1500*time.Millisecond, time.Since(start), "the deadline ends the queued poll's waiting")
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		mu.Lock()
		defer mu.Unlock()
		assert.Zero(t, polls["never"], "the queued poll was never sent")
		for i := range waits {
			assert.Equal(t, 3, polls[fmt.Sprint("run", i)])
		}
	})
}
