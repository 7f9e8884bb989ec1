package recipeflow_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/examples/temporal/recipeflow"
	"github.com/stewai/stewai-go/stewaitest"
)

// The tests run workflows in Temporal's in-process test environment, whose
// timers (activity retry backoff) skip ahead, against a stewaitest server
// whose clients run on its virtual clock: the SDK's poll delays take no real
// time, so no test sleeps. Activities run on goroutines of their own with
// real contexts; the virtual clock only needs every StewAI call to come
// from a client made by srv.Client(), which Activities.Client is.

// harness is one workflow environment with the activities registered on a
// client of srv, and a record of every activity attempt started.
type harness struct {
	env *testsuite.TestWorkflowEnvironment
	srv *stewaitest.Server

	mu         sync.Mutex
	attempts   map[string][]attempt // by activity type
	heartbeats []heartbeat          // of WaitRun, as Temporal recorded them
}

// heartbeat is one heartbeat of WaitRun that reached Temporal.
type heartbeat struct {
	attempt  int32
	progress recipeflow.WaitProgress
}

// attempt is one start of an activity, as the worker saw it.
type attempt struct {
	number    int32
	resumed   *recipeflow.WaitProgress // the heartbeat details a WaitRun attempt started with
	createKey string                   // the idempotency key a CreateRun attempt derives
}

// completedRun runs RunRecipeWorkflow for req and returns its result,
// failing the test unless the workflow completed without an error.
func (h *harness) completedRun(t *testing.T, req recipeflow.RunRequest) recipeflow.RunResult {
	t.Helper()
	h.env.ExecuteWorkflow(recipeflow.RunRecipeWorkflow, req)
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var res recipeflow.RunResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	return res
}

func newHarness(t *testing.T, srv *stewaitest.Server, configure ...func(*recipeflow.Activities)) *harness {
	t.Helper()
	acts := &recipeflow.Activities{Client: srv.Client()}
	for _, c := range configure {
		c(acts)
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	h := &harness{env: suite.NewTestWorkflowEnvironment(), srv: srv, attempts: map[string][]attempt{}}
	h.env.RegisterWorkflow(recipeflow.RunRecipeWorkflow)
	h.env.RegisterWorkflow(recipeflow.FanOutWorkflow)
	h.env.RegisterActivity(acts)
	h.env.SetOnActivityStartedListener(func(info *activity.Info, ctx context.Context, _ converter.EncodedValues) {
		a := attempt{number: info.Attempt, createKey: recipeflow.IdempotencyKey(*info)}
		if activity.HasHeartbeatDetails(ctx) {
			var p recipeflow.WaitProgress
			if activity.GetHeartbeatDetails(ctx, &p) == nil {
				a.resumed = &p
			}
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.attempts[info.ActivityType.Name] = append(h.attempts[info.ActivityType.Name], a)
	})
	h.env.SetOnActivityHeartbeatListener(func(info *activity.Info, details converter.EncodedValues) {
		var p recipeflow.WaitProgress
		if info.ActivityType.Name != "WaitRun" || details.Get(&p) != nil {
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.heartbeats = append(h.heartbeats, heartbeat{attempt: info.Attempt, progress: p})
	})
	return h
}

// recordedHeartbeats returns WaitRun's heartbeats so far.
func (h *harness) recordedHeartbeats() []heartbeat {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]heartbeat(nil), h.heartbeats...)
}

// started returns the attempts of activity name started so far.
func (h *harness) started(name string) []attempt {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]attempt(nil), h.attempts[name]...)
}

// runIDs returns the ids of the runs the fake started, oldest first.
func runIDs(srv *stewaitest.Server) []string {
	var ids []string
	for _, r := range srv.Runs() {
		ids = append(ids, r.ID)
	}
	return ids
}

// posts returns the creates the fake received.
func posts(srv *stewaitest.Server) []stewaitest.Request {
	var out []stewaitest.Request
	for _, r := range srv.Requests() {
		if r.Method == "POST" && r.Path == "runs/" {
			out = append(out, r)
		}
	}
	return out
}

// polls returns the paths of the run polls (GET runs/{id}/) the fake received.
func polls(srv *stewaitest.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		if r.Method == "GET" && strings.HasPrefix(r.Path, "runs/") && strings.Count(r.Path, "/") == 2 {
			out = append(out, r.Path)
		}
	}
	return out
}

// (1) The happy path: one run, created once, waited for, its outputs read.
func TestRunRecipeWorkflow(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithRecipe("digest", stewaitest.Recipe{}))
	defer srv.Close()
	h := newHarness(t, srv)

	res := h.completedRun(t, recipeflow.RunRequest{
		RecipeID: "digest",
		Inputs:   map[string]string{"company_name": "Acme Corp"},
	})

	runs := runIDs(srv)
	require.Len(t, runs, 1)
	assert.Equal(t, runs[0], res.RunID)
	assert.Equal(t, "digest", res.RecipeID)
	assert.Equal(t, stewai.StatusDone, res.Status)
	text, ok := res.Outputs["step_1"].Text()
	require.True(t, ok, "step_1 has a text output")
	assert.Equal(t, "Summary of company_name=Acme Corp.", text)
	assert.Contains(t, string(res.Outputs["step_2"].Primary), `"company_name":"Acme Corp"`)

	creates := posts(srv)
	require.Len(t, creates, 1)
	require.Len(t, h.started("CreateRun"), 1)
	assert.Equal(t, h.started("CreateRun")[0].createKey, creates[0].Header.Get("Idempotency-Key"),
		"the key derives from the workflow's identity")
	assert.Len(t, h.started("WaitRun"), 1)
	for _, p := range polls(srv) {
		assert.Equal(t, "runs/"+res.RunID+"/", p)
	}
}

// (1) The fan-out: every request runs as a child workflow; a failed run is
// reported in its place without losing the others' outputs.
func TestFanOutWorkflow(t *testing.T) {
	srv := stewaitest.NewServer(
		stewaitest.WithRecipe("digest", stewaitest.Recipe{}),
		stewaitest.WithRecipe("broken", stewaitest.Recipe{Final: stewai.StatusFailed}),
	)
	defer srv.Close()
	h := newHarness(t, srv)

	reqs := []recipeflow.RunRequest{
		{RecipeID: "digest", Inputs: map[string]string{"company_name": "Acme"}},
		{RecipeID: "broken"},
		{RecipeID: "digest", Inputs: map[string]string{"company_name": "Globex"}},
	}
	h.env.ExecuteWorkflow(recipeflow.FanOutWorkflow, reqs)
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var results []recipeflow.RunResult
	require.NoError(t, h.env.GetWorkflowResult(&results))
	require.Len(t, results, 3)

	require.Len(t, runIDs(srv), 3, "one run per request")
	byID := map[string]bool{}
	for _, id := range runIDs(srv) {
		byID[id] = true
	}
	for i, want := range []string{"Acme", "", "Globex"} {
		res := results[i]
		require.Contains(t, byID, res.RunID, "result %d names a run of the fake", i)
		assert.Equal(t, reqs[i].RecipeID, res.RecipeID)
		if want == "" {
			assert.Equal(t, stewai.StatusFailed, res.Status)
			assert.Contains(t, res.Error, "failed")
			assert.Nil(t, res.Outputs)
			continue
		}
		assert.Equal(t, stewai.StatusDone, res.Status)
		assert.Empty(t, res.Error)
		text, _ := res.Outputs["step_1"].Text()
		assert.Equal(t, "Summary of company_name="+want+".", text)
	}
	keys := map[string]bool{}
	for _, p := range posts(srv) {
		keys[p.Header.Get("Idempotency-Key")] = true
	}
	assert.Len(t, keys, 3, "each child workflow has its own idempotency key")
}

// (2) A create whose answer is lost, three times in a row (the SDK's own two
// retries included), fails the first attempt of CreateRun; Temporal retries
// the activity, which sends the same key and gets the run the first attempt
// started: exactly one run on the fake.
func TestCreateAnswerLostIsRetriedIntoOneRun(t *testing.T) {
	srv := stewaitest.NewServer(
		stewaitest.WithRecipe("digest", stewaitest.Recipe{}),
		stewaitest.WithFault(stewaitest.Fault{Method: "POST", Path: "runs/", DropAfterHandling: true, Times: 3}),
	)
	defer srv.Close()
	h := newHarness(t, srv)

	res := h.completedRun(t, recipeflow.RunRequest{RecipeID: "digest"})

	assert.Len(t, h.started("CreateRun"), 2, "the first attempt lost its answer, the second got it")
	runs := runIDs(srv)
	require.Len(t, runs, 1, "the retried create started no second run")
	assert.Equal(t, runs[0], res.RunID)
	assert.Equal(t, stewai.StatusDone, res.Status)
	creates := posts(srv)
	require.Len(t, creates, 4, "three lost answers, then one received")
	for _, c := range creates {
		assert.Equal(t, creates[0].Header.Get("Idempotency-Key"), c.Header.Get("Idempotency-Key"))
	}
}

// (3) A wait that fails mid-way, after it has seen the run running (here the
// API refuses the worker's key once, as while a key is rotated), is retried
// by Temporal; the retry starts from the last heartbeat, waits on the same
// run, and the workflow completes.
func TestWaitFailingMidwayResumesTheSameRun(t *testing.T) {
	var srv *stewaitest.Server
	var mu sync.Mutex
	seen := 0
	srv = stewaitest.NewServer(
		// queued for 3 polls, running for 3, then done
		stewaitest.WithRecipe("slow", stewaitest.Recipe{PollsPerStatus: 3}),
		stewaitest.OnRequest(func(r stewaitest.Request) {
			if r.Method != "GET" || !strings.HasPrefix(r.Path, "runs/") || strings.Count(r.Path, "/") != 2 {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen++; seen == 3 { // the third poll answers running: refuse the fourth
				srv.Inject(stewaitest.Fault{Method: "GET", Path: "runs/", Status: 401, Times: 1})
			}
		}),
	)
	defer srv.Close()
	h := newHarness(t, srv)

	res := h.completedRun(t, recipeflow.RunRequest{RecipeID: "slow"})

	runs := runIDs(srv)
	require.Len(t, runs, 1)
	assert.Equal(t, runs[0], res.RunID)
	assert.Equal(t, stewai.StatusDone, res.Status)
	assert.Len(t, h.started("CreateRun"), 1)

	waits := h.started("WaitRun")
	require.Len(t, waits, 2, "the failed wait was retried once")
	assert.Nil(t, waits[0].resumed, "the first attempt starts from nothing")
	require.NotNil(t, waits[1].resumed, "the retry starts from the first attempt's last heartbeat")
	assert.Equal(t, res.RunID, waits[1].resumed.RunID)
	assert.Equal(t, stewai.StatusRunning, waits[1].resumed.Status)
	// The retry goes on from there: none of its heartbeats reports less than
	// the first attempt had seen, so a wait lost again before its first poll
	// still knows the run was running.
	var retried int
	for _, hb := range h.recordedHeartbeats() {
		assert.Equal(t, res.RunID, hb.progress.RunID)
		if hb.attempt == 2 {
			retried++
			assert.Contains(t, []stewai.Status{stewai.StatusRunning, stewai.StatusDone}, hb.progress.Status,
				"a heartbeat of the retry")
		}
	}
	assert.NotZero(t, retried, "the retry heartbeats")

	ps := polls(srv)
	assert.Len(t, ps, 7, "3 queued, 1 running, 1 refused, then running and done")
	for _, p := range ps {
		assert.Equal(t, "runs/"+res.RunID+"/", p, "every poll, before and after the retry, is for the same run")
	}
}

// (4) A run that fails surfaces as the workflow's error: a
// *temporal.ApplicationError of type RunErrorType whose details say which
// run and how it ended. It is not retried.
func TestFailedRunIsAWorkflowError(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithRecipe("broken", stewaitest.Recipe{Final: stewai.StatusFailed}))
	defer srv.Close()
	h := newHarness(t, srv)

	h.env.ExecuteWorkflow(recipeflow.RunRecipeWorkflow, recipeflow.RunRequest{RecipeID: "broken"})
	require.True(t, h.env.IsWorkflowCompleted())
	err := h.env.GetWorkflowError()
	require.Error(t, err)
	runs := runIDs(srv)
	require.Len(t, runs, 1)

	// What a caller of client.ExecuteWorkflow(...).Get writes:
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, recipeflow.RunErrorType, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	var f recipeflow.RunFailure
	require.NoError(t, appErr.Details(&f))
	assert.Equal(t, recipeflow.RunFailure{RunID: runs[0], RecipeID: "broken", Status: stewai.StatusFailed, DurationMS: f.DurationMS}, f)
	assert.ErrorIs(t, f.Err(), stewai.ErrRunFailed)

	// The helper reads the same.
	g, ok := recipeflow.RunFailureFrom(err)
	require.True(t, ok)
	assert.Equal(t, f, g)

	assert.Len(t, h.started("WaitRun"), 1, "a failed run is not waited for again")
}

// A wait whose budget runs out fails the workflow with WaitErrorType, and
// the details still name the run, which goes on on the server.
//
// This one test runs on real time (stewaitest.WithRealTime, 20 ms polls):
// the budget is the activity's deadline, which Temporal's test environment
// enforces in real time, and on the fake's virtual clock the wait would
// race through thousands of virtual polls before it. It takes the 300 ms
// budget. RunFailure.Status (the last status heartbeated) is not checked:
// a Temporal server attaches the last heartbeat to the timeout, the test
// environment does not on this path.
func TestWaitBudgetRunsOutKeepsTheRunID(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithRealTime(),
		stewaitest.WithRecipe("forever", stewaitest.Recipe{Final: stewai.StatusRunning}))
	defer srv.Close()
	h := newHarness(t, srv, func(a *recipeflow.Activities) {
		a.PollInterval, a.MaxPollInterval, a.HeartbeatEvery = 20*time.Millisecond, 50*time.Millisecond, 100*time.Millisecond
	})

	h.env.ExecuteWorkflow(recipeflow.RunRecipeWorkflow, recipeflow.RunRequest{RecipeID: "forever", WaitTimeout: 300 * time.Millisecond})
	require.True(t, h.env.IsWorkflowCompleted())
	err := h.env.GetWorkflowError()
	require.Error(t, err)

	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, recipeflow.WaitErrorType, appErr.Type())
	f, ok := recipeflow.RunFailureFrom(err)
	require.True(t, ok)
	runs := runIDs(srv)
	require.Len(t, runs, 1)
	assert.Equal(t, runs[0], f.RunID, "the run id is not lost")
	assert.Equal(t, "forever", f.RecipeID)
	assert.NoError(t, f.Err(), "no run error: the run did not end")
	assert.Equal(t, stewai.StatusRunning, srv.Runs()[0].Status, "the run goes on")
}

// A request that retrying cannot fix (here an empty recipe id, which the SDK
// refuses before sending anything) is not retried, and is no run failure.
func TestInvalidRequestIsNotRetried(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	h := newHarness(t, srv)

	h.env.ExecuteWorkflow(recipeflow.RunRecipeWorkflow, recipeflow.RunRequest{RecipeID: " "})
	require.True(t, h.env.IsWorkflowCompleted())
	err := h.env.GetWorkflowError()
	require.Error(t, err)
	_, ok := recipeflow.RunFailureFrom(err)
	assert.False(t, ok, "no run, no run failure")
	assert.Contains(t, err.Error(), recipeflow.InvalidRequestErrorType)
	assert.Len(t, h.started("CreateRun"), 1, "not retried")
	assert.Empty(t, srv.Requests(), "rejected before anything was sent")
}

func TestIdempotencyKey(t *testing.T) {
	info := activity.Info{Namespace: "default", ActivityID: "5", Attempt: 1}
	info.WorkflowExecution.ID, info.WorkflowExecution.RunID = "wf", "run-1"
	key := recipeflow.IdempotencyKey(info)
	assert.Regexp(t, `^temporal-[0-9a-f]{64}$`, key)

	retry := info
	retry.Attempt = 7
	assert.Equal(t, key, recipeflow.IdempotencyKey(retry), "every attempt of one activity has one key")

	for name, change := range map[string]func(*activity.Info){
		"namespace":    func(i *activity.Info) { i.Namespace = "prod" },
		"workflow id":  func(i *activity.Info) { i.WorkflowExecution.ID = "wf2" },
		"workflow run": func(i *activity.Info) { i.WorkflowExecution.RunID = "run-2" },
		"activity":     func(i *activity.Info) { i.ActivityID = "6" },
		"no separator": func(i *activity.Info) { i.WorkflowExecution.ID, i.WorkflowExecution.RunID = "wfr", "un-1" },
	} {
		other := info
		change(&other)
		assert.NotEqual(t, key, recipeflow.IdempotencyKey(other), name)
	}
}
