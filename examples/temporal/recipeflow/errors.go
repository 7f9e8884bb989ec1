package recipeflow

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/stewai/stewai-go"
)

// The types of the *temporal.ApplicationError values this package returns.
// Temporal carries an error across workers and into the client as a type
// string and details, not as a Go type: match the type, then read the
// details (see RunFailureFrom).
const (
	// RunErrorType: the run ended failed, cancelled or blocked. Not retried.
	// Details: a RunFailure whose Status is that terminal status.
	RunErrorType = "stewai.RunError"
	// WaitErrorType: the wait for the run gave up (its budget ran out) and
	// the run goes on on the server. Details: a RunFailure whose Status is
	// the last status heartbeated, or empty.
	WaitErrorType = "stewai.WaitError"
	// InvalidRequestErrorType: the server or the SDK refused the request
	// for a reason retrying cannot fix (bad params, an unknown recipe, an
	// idempotency key reused with other params). Not retried.
	InvalidRequestErrorType = "stewai.InvalidRequest"
)

// RunFailure identifies a run that did not end done: the details of a
// RunErrorType or WaitErrorType error.
type RunFailure struct {
	// RunID identifies the run on StewAI; wait for it again with
	// stewai.RunsService.Wait.
	RunID string `json:"run_id"`
	// RecipeID is the recipe the run executes.
	RecipeID string `json:"recipe_id"`
	// Status is the run's terminal status (RunErrorType) or the last
	// status seen (WaitErrorType; empty when none was seen).
	Status stewai.Status `json:"status,omitempty"`
	// DurationMS is how long the run took, for a run that ended.
	DurationMS int64 `json:"duration_ms,omitempty"`
}

// Result returns the failure as a RunResult, without outputs or error.
func (f RunFailure) Result() RunResult {
	return RunResult{RunID: f.RunID, RecipeID: f.RecipeID, Status: f.Status, DurationMS: f.DurationMS}
}

// Err returns the failure as the SDK reports it, for errors.Is: a
// *stewai.RunError matching stewai.ErrRunFailed, ErrRunCancelled or
// ErrRunBlocked for a run that ended, and nil for a run that did not.
func (f RunFailure) Err() error {
	if !f.Status.IsTerminal() || f.Status == stewai.StatusDone {
		return nil
	}
	return &stewai.RunError{RunID: f.RunID, Run: &stewai.Run{ID: f.RunID, RecipeID: f.RecipeID, Status: f.Status, DurationMS: f.DurationMS}}
}

// RunFailureFrom finds, in err and the errors it wraps, the first
// *temporal.ApplicationError of type RunErrorType or WaitErrorType, and
// returns its RunFailure. It works on what a workflow, an activity or a
// client's WorkflowRun.Get returns:
//
//	err := client.ExecuteWorkflow(ctx, opts, recipeflow.RunRecipeWorkflow, req).Get(ctx, &res)
//	if f, ok := recipeflow.RunFailureFrom(err); ok {
//		log.Printf("run %s of %s ended %s", f.RunID, f.RecipeID, f.Status)
//	}
//
// which is, by hand:
//
//	var appErr *temporal.ApplicationError
//	if errors.As(err, &appErr) && appErr.Type() == recipeflow.RunErrorType {
//		var f recipeflow.RunFailure
//		_ = appErr.Details(&f)
//	}
func RunFailureFrom(err error) (RunFailure, bool) {
	for err != nil {
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) {
			return RunFailure{}, false
		}
		if t := appErr.Type(); t == RunErrorType || t == WaitErrorType {
			var f RunFailure
			if appErr.HasDetails() && appErr.Details(&f) == nil {
				return f, true
			}
		}
		err = appErr.Unwrap()
	}
	return RunFailure{}, false
}
