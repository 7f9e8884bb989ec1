package recipeflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/stewai/stewai-go"
)

// DefaultHeartbeatEvery is how often WaitRun heartbeats while the run's
// status does not change, when Activities.HeartbeatEvery is zero. It is well
// under the wait activity's heartbeat timeout (one minute).
const DefaultHeartbeatEvery = 10 * time.Second

// Activities are the activities RunRecipeWorkflow runs, sharing one StewAI
// client. Register them on every worker of the task queue:
//
//	w.RegisterActivity(&recipeflow.Activities{Client: client})
//
// One client serves every activity a worker runs at once: the waits'
// polls share its connections (see the SDK's README on many waits).
type Activities struct {
	// Client calls StewAI. Required. Its key stays on the worker: it never
	// enters Temporal's history.
	Client *stewai.Client
	// HeartbeatEvery is how often WaitRun heartbeats while the status
	// does not change; DefaultHeartbeatEvery when zero. Keep it under the
	// wait activity's heartbeat timeout.
	HeartbeatEvery time.Duration
	// PollInterval and MaxPollInterval shape WaitRun's polling, as
	// stewai.WithPollInterval and stewai.WithMaxPollInterval do; the SDK's
	// defaults (500 ms, 5 s) when zero.
	PollInterval, MaxPollInterval time.Duration
}

// WaitProgress is what WaitRun heartbeats, and reads back when it is
// retried: the run it waits for, the last status it saw, and the poll
// interval to go on with.
type WaitProgress struct {
	// RunID is the run being waited for.
	RunID string `json:"run_id"`
	// Status is the last status seen; empty before the first poll.
	Status stewai.Status `json:"status,omitempty"`
	// PollInterval is the delay a resumed wait starts polling at. A retry
	// goes on at the interval the wait had reached rather than starting
	// again at the shortest one, so a fleet of workers restarting at once
	// does not turn thousands of slow waits into a burst of fast polls.
	PollInterval time.Duration `json:"poll_interval,omitempty"`
}

// IdempotencyKey returns the Idempotency-Key CreateRun sends for the
// activity described by info. It is derived from the workflow's identity
// (namespace, workflow id, workflow run id) and the activity's id, which
// stay the same on every attempt of the activity and on whichever worker
// runs it, so every retry of one create asks for the same run. Another
// activity, workflow, or run of a workflow (a reset, a continue-as-new, a
// retried workflow) gets another key, and starts a run of its own. The key
// is a hash: workflow ids may be longer than the 255 characters a key may
// have.
func IdempotencyKey(info activity.Info) string {
	h := sha256.New()
	for _, part := range []string{info.Namespace, info.WorkflowExecution.ID, info.WorkflowExecution.RunID, info.ActivityID} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "temporal-" + hex.EncodeToString(h.Sum(nil))
}

// CreateRun starts a run of req and returns its id at once, without waiting
// (RunRecipeWorkflow waits in WaitRun). The request carries
// IdempotencyKey(activity.GetInfo(ctx)), so a retry of this activity, after
// a lost answer or a lost worker, gets the run the first attempt started
// rather than a second one, on a server that honours the key.
//
// A request that retrying cannot fix (bad params, a recipe the server does
// not know) fails with a non-retryable error of type
// InvalidRequestErrorType; other errors are retried by the activity's retry
// policy.
func (a *Activities) CreateRun(ctx context.Context, req RunRequest) (string, error) {
	key := IdempotencyKey(activity.GetInfo(ctx))
	run, err := a.Client.Runs.Create(ctx, stewai.CreateRunParams{
		RecipeID:       req.RecipeID,
		Inputs:         req.Inputs,
		Ingest:         req.Ingest,
		IdempotencyKey: key,
	}, stewai.NoWait())
	if err != nil {
		return "", classify(fmt.Errorf("create a run of recipe %s: %w", req.RecipeID, err))
	}
	activity.GetLogger(ctx).Info("StewAI run created", "RunID", run.ID, "RecipeID", req.RecipeID, "Status", string(run.Status))
	return run.ID, nil
}

// WaitRun waits for the run to end and returns its result, outputs
// included, when it is done.
//
// It polls with the SDK (stewai.RunsService.Wait) and heartbeats a
// WaitProgress each time the status changes and every HeartbeatEvery
// otherwise, so Temporal sees a lost worker within the heartbeat timeout
// and retries the activity elsewhere. A retry reads the last heartbeat and
// resumes waiting on the same run, at the poll interval it had reached.
//
// A run that ended failed, cancelled or blocked fails with a non-retryable
// error of type RunErrorType carrying a RunFailure. A run the server does
// not know fails with InvalidRequestErrorType. Other errors (the network,
// the API answering errors) are left to the activity's retry policy: the
// run goes on meanwhile, and the retry picks it up.
func (a *Activities) WaitRun(ctx context.Context, runID string) (RunResult, error) {
	maxInterval := a.MaxPollInterval
	if maxInterval <= 0 {
		maxInterval = stewai.DefaultMaxPollInterval
	}
	progress := WaitProgress{RunID: runID, PollInterval: a.PollInterval}
	if activity.HasHeartbeatDetails(ctx) {
		var last WaitProgress
		if err := activity.GetHeartbeatDetails(ctx, &last); err == nil && last.RunID == runID {
			progress = last
			activity.GetLogger(ctx).Info("Resuming the wait for a StewAI run", "RunID", runID,
				"LastStatus", string(last.Status), "Attempt", activity.GetInfo(ctx).Attempt)
		}
	}
	if progress.PollInterval <= 0 {
		progress.PollInterval = stewai.DefaultPollInterval
	}
	heartbeat := func() { activity.RecordHeartbeat(ctx, progress) }
	heartbeat()

	every := a.HeartbeatEvery
	if every <= 0 {
		every = DefaultHeartbeatEvery
	}
	for {
		// Each Wait lasts at most one heartbeat period; the loop makes the
		// whole wait as long as the activity's budget allows.
		run, err := a.Client.Runs.Wait(ctx, runID,
			stewai.WithTimeout(every),
			stewai.WithPollInterval(min(progress.PollInterval, maxInterval)),
			stewai.WithMaxPollInterval(maxInterval),
			stewai.OnStatusChange(func(r *stewai.Run) {
				progress.Status = r.Status
				heartbeat()
			}))
		var timeout *stewai.TimeoutError
		if errors.As(err, &timeout) && ctx.Err() == nil {
			progress.PollInterval = maxInterval // a run this long: poll at the slowest rate from now on
			heartbeat()
			continue
		}
		var runErr *stewai.RunError
		if errors.As(err, &runErr) {
			f := RunFailure{RunID: runID}
			if r := runErr.Run; r != nil {
				f.RecipeID, f.Status, f.DurationMS = r.RecipeID, r.Status, r.DurationMS
			}
			return RunResult{}, temporal.NewNonRetryableApplicationError(err.Error(), RunErrorType, err, f)
		}
		if err != nil {
			return RunResult{}, classify(fmt.Errorf("wait for run %s: %w", runID, err))
		}
		outputs, err := a.Client.Runs.Outputs(ctx, runID)
		if err != nil {
			return RunResult{}, classify(fmt.Errorf("read the outputs of run %s: %w", runID, err))
		}
		return RunResult{RunID: run.ID, RecipeID: run.RecipeID, Status: run.Status, DurationMS: run.DurationMS, Outputs: outputs}, nil
	}
}

// classify marks the errors that retrying cannot fix as non-retryable, and
// returns the others as they are, for the retry policy. 401 and 403 are
// retried: a key being rotated heals once the worker has the new one, and
// the run goes on meanwhile.
func classify(err error) error {
	var apiErr *stewai.APIError
	permanent := errors.Is(err, stewai.ErrInvalidParams)
	if errors.As(err, &apiErr) {
		switch apiErr.StatusCode {
		case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity:
			permanent = true
		}
	}
	if permanent {
		return temporal.NewNonRetryableApplicationError(err.Error(), InvalidRequestErrorType, err)
	}
	return err
}
