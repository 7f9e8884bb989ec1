package stewai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// joined returns the errors an errors.Join holds, in order.
func joined(t *testing.T, err error) []error {
	t.Helper()
	j, ok := err.(interface{ Unwrap() []error })
	require.True(t, ok, "an errors.Join: %T %v", err, err)
	return j.Unwrap()
}

func TestWaitAllOrderAndJoinedErrors(t *testing.T) {
	env := setup(t)
	pollsA := statusSequence(t, env, "a", StatusQueued, StatusRunning, StatusDone)
	statusSequence(t, env, "b", StatusFailed)
	statusSequence(t, env, "c", StatusRunning, StatusBlocked)
	statusSequence(t, env, "d", StatusRunning) // never ends
	env.mux.HandleFunc("GET /runs/e/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
	})
	start := env.clock.Now()
	ids := []string{"a", "b", "a", "c", "d", "e"}
	runs, err := env.client.Runs.WaitAll(testContext(t), ids, WithTimeout(30*time.Second))

	require.Len(t, runs, len(ids))
	want := []Status{StatusDone, StatusFailed, StatusDone, StatusBlocked, StatusRunning, ""}
	for i, run := range runs {
		require.NotNil(t, run, "result %d", i)
		assert.Equal(t, ids[i], run.ID, "result %d is the last state of ids[%d]", i, i)
		assert.Equal(t, want[i], run.Status, "result %d", i)
	}
	assert.Same(t, runs[0], runs[2], "a repeated id is waited once, reported at each place")
	assert.Equal(t, int64(3), pollsA.Load(), "a repeated id is polled as one run")
	assert.Equal(t, 30*time.Second, env.clock.Now().Sub(start), "WithTimeout bounds the whole call")

	errs := joined(t, err)
	require.Len(t, errs, 4, "one error per run that is not done, in the order of ids: %v", err)
	var re *RunError
	require.ErrorAs(t, errs[0], &re)
	assert.Equal(t, "b", re.RunID)
	assert.ErrorIs(t, errs[0], ErrRunFailed)
	require.ErrorAs(t, errs[1], &re)
	assert.Equal(t, "c", re.RunID)
	assert.ErrorIs(t, errs[1], ErrRunBlocked)
	var te *TimeoutError
	require.ErrorAs(t, errs[2], &te)
	assert.Equal(t, "d", te.RunID)
	assert.Equal(t, StatusRunning, te.LastStatus)
	assert.ErrorIs(t, errs[3], ErrNotFound)
	for _, target := range []error{ErrRunFailed, ErrRunBlocked, ErrWaitTimeout, ErrNotFound} {
		assert.ErrorIs(t, err, target)
	}
}

func TestWaitAllDone(t *testing.T) {
	env := setup(t)
	for _, id := range []string{"a", "b"} {
		statusSequence(t, env, id, StatusRunning, StatusDone)
	}
	runs, err := env.client.Runs.WaitAll(testContext(t), []string{"b", "a"})
	require.NoError(t, err, "nil when every run is done")
	assert.Equal(t, "b", runs[0].ID)
	assert.Equal(t, "a", runs[1].ID)

	runs, err = env.client.Runs.WaitAll(testContext(t), nil)
	assert.NoError(t, err)
	assert.Empty(t, runs)
	for range env.client.Runs.WaitEach(testContext(t), nil) {
		t.Error("nothing to yield")
	}
}

func TestWaitAllInvalidIDsSendNothing(t *testing.T) {
	env := setup(t)
	for _, ids := range [][]string{{"a", ""}, {"..", "a"}, {"a", " "}, {"."}} {
		runs, err := env.client.Runs.WaitAll(testContext(t), ids)
		assert.ErrorIs(t, err, ErrInvalidParams, "%q", ids)
		assert.Nil(t, runs)
		n := 0
		for run, err := range env.client.Runs.WaitEach(testContext(t), ids) {
			n++
			assert.Nil(t, run)
			assert.ErrorIs(t, err, ErrInvalidParams)
		}
		assert.Equal(t, 1, n, "the error is yielded once")
	}
	_, err := env.client.Runs.WaitAll(testContext(t), []string{"a"}, NoWait())
	assert.ErrorIs(t, err, ErrInvalidParams)
	_, err = env.client.Runs.WaitAll(testContext(t), []string{"a", ""})
	assert.ErrorContains(t, err, "runIDs[1]", "the error says which id")
	assert.Zero(t, env.requests.Load())
}

// For usable ids, every result carries its id, whatever the error: a
// context already done, or a nil one.
func TestWaitAllContextDone(t *testing.T) {
	env := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	runs, err := env.client.Runs.WaitAll(ctx, []string{"a", "b", "a"})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Len(t, joined(t, err), 3)
	require.Len(t, runs, 3)
	for i, id := range []string{"a", "b", "a"} {
		assert.Equal(t, &Run{ID: id}, runs[i])
	}
	var got []string
	for run, err := range env.client.Runs.WaitEach(ctx, []string{"a", "b"}) {
		assert.ErrorIs(t, err, context.Canceled)
		got = append(got, run.ID)
	}
	assert.ElementsMatch(t, []string{"a", "b"}, got)

	//lint:ignore SA1012 a nil context is what is tested
	runs, err = env.client.Runs.WaitAll(nil, []string{"a"})
	assert.ErrorIs(t, err, ErrInvalidParams)
	assert.Equal(t, []*Run{{ID: "a"}}, runs)
	assert.Zero(t, env.requests.Load())
}

// Runs are yielded as they end, each with the error Wait would return.
func TestWaitEachCompletionOrder(t *testing.T) {
	env := setup(t)
	statusSequence(t, env, "slow", StatusQueued, StatusRunning, StatusRunning, StatusRunning, StatusDone)
	statusSequence(t, env, "fast", StatusDone)
	statusSequence(t, env, "middle", StatusRunning, StatusRunning, StatusFailed)
	var got []string
	var errs []error
	for run, err := range env.client.Runs.WaitEach(testContext(t), []string{"slow", "fast", "middle", "fast"}) {
		got = append(got, run.ID+":"+string(run.Status))
		errs = append(errs, err)
	}
	assert.Equal(t, []string{"fast:done", "middle:failed", "slow:done"}, got, "completion order, each run once")
	assert.NoError(t, errs[0])
	assert.ErrorIs(t, errs[1], ErrRunFailed)
	assert.NoError(t, errs[2])
}

// The loop body is the caller's code: time moves on while it runs (here, a
// wait of its own on the same clock, which needs it to).
func TestWaitEachLoopBodyOnTheClock(t *testing.T) {
	env := setup(t)
	statusSequence(t, env, "a", StatusRunning, StatusDone)
	statusSequence(t, env, "b", StatusRunning, StatusRunning, StatusRunning, StatusDone)
	statusSequence(t, env, "c", StatusRunning, StatusRunning, StatusRunning, StatusRunning, StatusRunning, StatusDone)
	inner := statusSequence(t, env, "inner", StatusRunning, StatusRunning, StatusDone)
	ctx := testContext(t)
	var got []string
	for run, err := range env.client.Runs.WaitEach(ctx, []string{"c", "b", "a"}) {
		require.NoError(t, err)
		if len(got) == 0 {
			start := env.clock.Now()
			run, err := env.client.Runs.Wait(ctx, "inner")
			require.NoError(t, err)
			assert.Equal(t, StatusDone, run.Status)
			assert.Greater(t, env.clock.Now().Sub(start), time.Second, "time moved for the body's own wait")
		}
		got = append(got, run.ID)
	}
	assert.Equal(t, []string{"a", "b", "c"}, got)
	assert.Equal(t, int64(3), inner.Load())
}

// break stops every poll at once: no goroutine stays, no poll follows.
func TestWaitEachBreakStopsEveryPoll(t *testing.T) {
	// Polls are counted as the client sends them: one sent just before the
	// break may still reach the server after it, cancelled.
	var polls atomic.Int64
	env := setup(t, WithMiddleware(func(r *http.Request, next MiddlewareNext) (*http.Response, error) {
		polls.Add(1)
		return next(r)
	}))
	env.mux.HandleFunc("GET /runs/{id}/", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		status := StatusRunning
		if id == "r0" {
			status = StatusDone
		}
		writeJSON(w, http.StatusOK, runJSON(id, status))
	})
	ids := make([]string, 300)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%d", i)
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var brokeAt time.Time
	for run, err := range env.client.Runs.WaitEach(testContext(t), ids) {
		require.NoError(t, err)
		require.Equal(t, "r0", run.ID)
		brokeAt = env.clock.Now()
		break
	}
	// The loop body is the caller's code: time may move on while it runs
	// (the waits asleep), by a poll's delay at most, never to the timeout.
	assert.Less(t, env.clock.Now().Sub(brokeAt), DefaultMaxPollInterval, "the waits stopped at once, not at their timeout")
	after := polls.Load()
	calls, timers := env.clock.Pending()
	assert.Zero(t, calls, "no wait is left on the clock")
	assert.Zero(t, timers, "no sleep or timer is left")
	env.client.CloseIdleConnections()
	assert.Equal(t, after, polls.Load(), "no poll after break")
}

// OnStatusChange is called for the runs of a batch one at a time.
func TestWaitAllOnStatusChangeOneAtATime(t *testing.T) {
	env := setup(t)
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%d", i)
		statusSequence(t, env, ids[i], StatusQueued, StatusRunning, StatusDone)
	}
	var in atomic.Int64
	seen := map[string]int{}
	_, err := env.client.Runs.WaitAll(testContext(t), ids, OnStatusChange(func(r *Run) {
		assert.Equal(t, int64(1), in.Add(1), "one callback at a time")
		seen[r.ID]++ // unguarded: -race checks the calls are serialized
		in.Add(-1)
	}))
	require.NoError(t, err)
	for _, id := range ids {
		assert.Equal(t, 3, seen[id], id)
	}
}

// Hundreds of runs on one client, all waited at once, under -race.
func TestWaitAllAtScale(t *testing.T) {
	env := setup(t)
	var polls atomic.Int64
	env.mux.HandleFunc("GET /runs/{id}/", func(w http.ResponseWriter, r *http.Request) {
		polls.Add(1)
		id := r.PathValue("id")
		status := StatusRunning
		if env.clock.Now().Sub(epoch) >= 20*time.Second {
			status = StatusDone
			if id[len(id)-1] == '7' {
				status = StatusFailed
			}
		}
		writeJSON(w, http.StatusOK, runJSON(id, status))
	})
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%03d", i)
	}
	runs, err := env.client.Runs.WaitAll(testContext(t), ids)
	errs := joined(t, err)
	assert.Len(t, errs, 50, "the runs ending in 7 failed")
	for i, run := range runs {
		assert.Equal(t, ids[i], run.ID)
		assert.True(t, run.Status.IsTerminal())
		if ids[i][3] == '7' {
			assert.True(t, errors.Is(errs[i/10], ErrRunFailed))
		}
	}
	assert.Less(t, polls.Load(), int64(500*12), "each run on its own schedule")
}
