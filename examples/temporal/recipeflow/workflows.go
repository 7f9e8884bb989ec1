// Package recipeflow runs StewAI recipes durably on Temporal: a run that was
// started is never lost when a worker dies, and a retried start never starts
// a second run.
//
// RunRecipeWorkflow runs one recipe in two activities. Activities.CreateRun
// starts the run with an Idempotency-Key derived from the workflow's
// identity, the same on every retry of the activity, so a create whose answer
// was lost (a dropped connection, a worker that died after sending it) is
// retried into the same run. Activities.WaitRun polls the run with the SDK,
// heartbeating the last status it saw; when it fails or its worker is lost, the
// retry resumes the wait on the same run from its heartbeat. FanOutWorkflow
// runs many recipes as child workflows and collects their results.
//
// A run that ends failed, cancelled or blocked fails the workflow with a
// *temporal.ApplicationError of type RunErrorType whose details are a
// RunFailure; RunFailureFrom reads it back from any error that wraps it.
package recipeflow

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stewai/stewai-go"
)

// DefaultWaitTimeout bounds a wait for one run, across all the attempts of
// the wait activity, when RunRequest.WaitTimeout is zero.
const DefaultWaitTimeout = time.Hour

// RunRequest is the input of RunRecipeWorkflow: a run to start, and how long
// to wait for it. It travels through Temporal's history, so it holds no
// secret: the API key stays with the workers (see Activities).
type RunRequest struct {
	// RecipeID is the recipe to run. Required.
	RecipeID string `json:"recipe_id"`
	// Inputs are the recipe's inputs by name.
	Inputs map[string]string `json:"inputs,omitempty"`
	// Ingest overrides the documents of the recipe's ingest steps, by step id.
	Ingest map[string][]stewai.IngestSource `json:"ingest,omitempty"`
	// WaitTimeout bounds the wait for the run, retries of the wait activity
	// included (its schedule-to-close timeout); DefaultWaitTimeout when zero.
	// When it passes the workflow fails, and the run goes on on the server.
	WaitTimeout time.Duration `json:"wait_timeout,omitempty"`
}

// RunResult is what RunRecipeWorkflow returns for a run that is done, and
// what FanOutWorkflow returns for each of its runs.
type RunResult struct {
	// RunID identifies the run on StewAI; empty when no run was started.
	RunID string `json:"run_id"`
	// RecipeID is the recipe the run executed.
	RecipeID string `json:"recipe_id"`
	// Status is the run's final status: done, or (in FanOutWorkflow's
	// results only) failed, cancelled or blocked; empty when the wait did
	// not end.
	Status stewai.Status `json:"status"`
	// DurationMS is how long the run took, as the server reports it.
	DurationMS int64 `json:"duration_ms"`
	// Outputs are the run's step outputs by step id (see
	// stewai.RunSteps.Outputs); nil unless the run is done.
	Outputs map[string]stewai.StepOutput `json:"outputs,omitempty"`
	// Error says why the run did not end done; set only in FanOutWorkflow's
	// results.
	Error string `json:"error,omitempty"`
}

// activities is the nil receiver the workflows name activities through;
// the worker registers a real *Activities under the same names.
var activities *Activities

// createOptions are the create activity's options: a short start-to-close
// timeout (the SDK's own retries of one create fit in it) and retries with
// backoff; every attempt sends the same Idempotency-Key.
var createOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 5 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
		MaximumAttempts:    20,
	},
}

// waitHeartbeatTimeout is how long the wait activity may go without a
// heartbeat before Temporal considers its worker lost and retries it
// elsewhere. The activity heartbeats every Activities.HeartbeatEvery.
const waitHeartbeatTimeout = time.Minute

// waitOptions are the wait activity's options: the wait's whole budget as
// the schedule-to-close timeout, a heartbeat timeout that detects a lost
// worker within a minute, and unlimited retries within the budget.
func waitOptions(req RunRequest) workflow.ActivityOptions {
	budget := req.WaitTimeout
	if budget <= 0 {
		budget = DefaultWaitTimeout
	}
	return workflow.ActivityOptions{
		ScheduleToCloseTimeout: budget,
		HeartbeatTimeout:       waitHeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	}
}

// RunRecipeWorkflow starts a run of req.RecipeID and waits for it to end,
// returning its result when it is done.
//
// A run that ends failed, cancelled or blocked fails the workflow with a
// *temporal.ApplicationError of type RunErrorType carrying a RunFailure (see
// RunFailureFrom); it is not retried, since waiting again cannot change how
// a run ended. Any other failure is retried by the activities' retry
// policies until the create gives up (20 attempts, or an error that cannot
// be fixed by retrying, such as a recipe the server does not know) or the
// wait's budget (req.WaitTimeout) runs out. A create that gives up fails
// the workflow with an error wrapping the activity's (no run was started,
// or none is known); a wait that gives up, with a *temporal.ApplicationError
// of type WaitErrorType whose RunFailure names the run, which goes on on the
// server, and the last status the wait heartbeated.
func RunRecipeWorkflow(ctx workflow.Context, req RunRequest) (RunResult, error) {
	var runID string
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, createOptions), activities.CreateRun, req).Get(ctx, &runID)
	if err != nil {
		return RunResult{RecipeID: req.RecipeID}, fmt.Errorf("start a run of recipe %s: %w", req.RecipeID, err)
	}
	workflow.GetLogger(ctx).Info("StewAI run started", "RunID", runID, "RecipeID", req.RecipeID)

	var res RunResult
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, waitOptions(req)), activities.WaitRun, runID).Get(ctx, &res)
	if err == nil {
		return res, nil
	}
	if f, ok := RunFailureFrom(err); ok {
		// The failure's type and details go on the workflow's own error,
		// where errors.As finds them first.
		return f.Result(), temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("recipe %s: run %s %s", f.RecipeID, f.RunID, f.Status), RunErrorType, err, f)
	}
	// The wait gave up (its budget ran out, or an error it does not retry):
	// the run goes on on the server. Say which run, and the last status the
	// wait heartbeated, so a caller can wait for it again.
	f := RunFailure{RunID: runID, RecipeID: req.RecipeID}
	var timeout *temporal.TimeoutError
	var last WaitProgress
	if errors.As(err, &timeout) && timeout.HasLastHeartbeatDetails() && timeout.LastHeartbeatDetails(&last) == nil && last.RunID == runID {
		f.Status = last.Status
	}
	return f.Result(), temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("wait for run %s of recipe %s: %v", runID, req.RecipeID, err), WaitErrorType, err, f)
}

// FanOutWorkflow runs every request as a child RunRecipeWorkflow, all at
// once, and returns their results in the order of reqs. Child i has the
// workflow id "<this workflow's id>/<i>": each run gets an idempotency key of
// its own, and the children of one fan-out are easy to find (in Temporal's
// UI, or with temporal workflow list).
//
// A child that fails does not fail the fan-out: its result carries what is
// known (the run id and final status of a run that failed, was cancelled or
// is blocked) and Error says why, so that the outputs of the runs that did
// end done are never thrown away. The error is non-nil only when the
// workflow itself is cancelled.
//
// Each child adds a few events to this workflow's history; for thousands of
// runs, fan out in batches (or a tree of fan-outs) to stay well within
// Temporal's history limits.
func FanOutWorkflow(ctx workflow.Context, reqs []RunRequest) ([]RunResult, error) {
	parent := workflow.GetInfo(ctx).WorkflowExecution.ID
	futures := make([]workflow.ChildWorkflowFuture, len(reqs))
	for i, req := range reqs {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: fmt.Sprintf("%s/%d", parent, i),
		})
		futures[i] = workflow.ExecuteChildWorkflow(cctx, RunRecipeWorkflow, req)
	}
	results := make([]RunResult, len(reqs))
	for i, f := range futures {
		err := f.Get(ctx, &results[i])
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return results, fmt.Errorf("fan-out cancelled: %w", err)
		}
		results[i] = RunResult{RecipeID: reqs[i].RecipeID}
		if rf, ok := RunFailureFrom(err); ok {
			results[i] = rf.Result()
		}
		results[i].Error = err.Error()
	}
	return results, nil
}
