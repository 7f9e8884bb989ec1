package stewai

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// watched is one value a Watch yielded.
type watched struct {
	status Status
	err    error
}

func watchAll(ctx context.Context, s *RunsService, id string, opts ...WaitOption) []watched {
	var got []watched
	for run, err := range s.Watch(ctx, id, opts...) {
		w := watched{err: err}
		if run != nil {
			w.status = run.Status
		}
		got = append(got, w)
	}
	return got
}

func TestWatchYieldsOnChangeOnly(t *testing.T) {
	env := setup(t)
	polls := statusSequence(t, env, "r1", StatusQueued, StatusQueued, StatusRunning, "paused", StatusRunning, StatusRunning, StatusDone)
	var seen []Status
	got := watchAll(testContext(t), env.client.Runs, "r1", OnStatusChange(func(r *Run) { seen = append(seen, r.Status) }))
	assert.Equal(t, []watched{{StatusQueued, nil}, {StatusRunning, nil}, {"paused", nil}, {StatusRunning, nil}, {StatusDone, nil}}, got)
	assert.Equal(t, int64(7), polls.Load())
	assert.Len(t, env.clock.Sleeps(), 6, "Wait's schedule: one delay between polls")
	assert.Equal(t, []Status{StatusQueued, StatusRunning, "paused", StatusRunning, StatusDone}, seen, "OnStatusChange sees what Watch yields")
}

func TestWatchTerminalErrors(t *testing.T) {
	for status, want := range map[Status]error{StatusFailed: ErrRunFailed, StatusCancelled: ErrRunCancelled, StatusBlocked: ErrRunBlocked} {
		env := setup(t)
		statusSequence(t, env, "r1", StatusRunning, status)
		got := watchAll(testContext(t), env.client.Runs, "r1")
		require.Len(t, got, 2)
		assert.Equal(t, watched{StatusRunning, nil}, got[0])
		assert.Equal(t, status, got[1].status, "the terminal run comes with its error")
		var runErr *RunError
		require.ErrorAs(t, got[1].err, &runErr)
		assert.ErrorIs(t, got[1].err, want)
		assert.Equal(t, "r1", runErr.RunID)
	}
}

func TestWatchSkipsTransientFailures(t *testing.T) {
	env := setup(t)
	var n atomic.Int64
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			writeJSON(w, 200, runJSON("r1", StatusRunning))
		case 2, 3:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			writeJSON(w, 200, runJSON("r1", StatusDone))
		}
	})
	got := watchAll(testContext(t), env.client.Runs, "r1")
	assert.Equal(t, []watched{{StatusRunning, nil}, {StatusDone, nil}}, got)
	assert.Equal(t, int64(4), n.Load())
}

func TestWatchEndsOnceWithTheLastRun(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		env := setup(t)
		statusSequence(t, env, "r1", StatusQueued, StatusRunning)
		got := watchAll(testContext(t), env.client.Runs, "r1", WithTimeout(20*time.Second))
		require.Len(t, got, 3)
		assert.Equal(t, StatusRunning, got[2].status, "the last run seen comes with the timeout")
		var te *TimeoutError
		require.ErrorAs(t, got[2].err, &te)
		assert.Equal(t, StatusRunning, te.LastStatus)
	})
	t.Run("not found", func(t *testing.T) {
		env := setup(t)
		got := watchAll(testContext(t), env.client.Runs, "gone")
		require.Len(t, got, 1)
		assert.ErrorIs(t, got[0].err, ErrNotFound)
	})
	t.Run("invalid", func(t *testing.T) {
		env := setup(t)
		for _, got := range [][]watched{
			watchAll(testContext(t), env.client.Runs, ""),
			watchAll(testContext(t), env.client.Runs, "r1", NoWait()),
		} {
			require.Len(t, got, 1)
			assert.ErrorIs(t, got[0].err, ErrInvalidParams)
		}
		assert.Zero(t, env.requests.Load())
	})
	t.Run("context", func(t *testing.T) {
		env := setup(t)
		statusSequence(t, env, "r1", StatusQueued, StatusRunning)
		ctx, cancel := context.WithCancel(testContext(t))
		defer cancel()
		var got []watched
		for run, err := range env.client.Runs.Watch(ctx, "r1") {
			got = append(got, watched{run.Status, err})
			cancel() // the loop goes on to receive the end
		}
		require.Len(t, got, 2)
		assert.Equal(t, StatusQueued, got[1].status)
		assert.ErrorIs(t, got[1].err, context.Canceled)
	})
}

func TestWatchBreakStopsPolling(t *testing.T) {
	env := setup(t)
	polls := statusSequence(t, env, "r1", StatusQueued, StatusRunning, StatusDone)
	for run, err := range env.client.Runs.Watch(testContext(t), "r1") {
		require.NoError(t, err)
		assert.Equal(t, StatusQueued, run.Status)
		break
	}
	assert.Equal(t, int64(1), polls.Load(), "no poll after break")
	assert.Empty(t, env.clock.Sleeps(), "and no sleep: polling stopped at once")
	// TestMain's goleak check fails the package if a goroutine was left.
}

func TestOutputs(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("GET /runs/r1/steps/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"run": {"id": "r1"}, "steps": [
		  {"id": "s_text", "status": "done", "output_flat": {"type": "text", "primary": "hello"}},
		  {"id": "s_json", "status": "done", "output_flat": {"type": "json", "primary": {"a": 1}}},
		  {"id": "s_none", "status": "done", "output_flat": {"type": "none", "primary": "ignored"}},
		  {"id": "s_null", "status": "done", "output_flat": {"type": "text", "primary": null}},
		  {"id": "s_missing", "status": "done", "output_flat": {"type": "media"}},
		  {"id": "s_pending", "status": "queued", "output_flat": null},
		  {"id": "s_zero", "status": "done", "output_flat": {"type": "json", "primary": 0}}]}`))
	})
	out, err := env.client.Runs.Outputs(testContext(t), "r1")
	require.NoError(t, err)
	assert.Len(t, out, 3)
	text, ok := out["s_text"].Text()
	assert.True(t, ok)
	assert.Equal(t, "hello", text)
	assert.JSONEq(t, `{"a": 1}`, string(out["s_json"].Primary))
	assert.Equal(t, "0", string(out["s_zero"].Primary), "a zero value is a value")

	_, err = env.client.Runs.Outputs(testContext(t), "")
	assert.ErrorIs(t, err, ErrInvalidParams)
}
