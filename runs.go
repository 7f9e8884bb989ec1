package stewai

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// CreateRunParams describes a run to start.
type CreateRunParams struct {
	// RecipeID is the recipe to run. Required.
	RecipeID string
	// Inputs are the recipe's inputs by name. Optional; sent as {} when empty.
	Inputs map[string]string
	// Ingest overrides the documents of the recipe's ingest steps, by step
	// id. Optional.
	Ingest map[string][]IngestSource
	// IdempotencyKey is sent as the Idempotency-Key header, so that a server
	// honouring it starts one run however often the request is retried.
	// Leave it empty for a new ULID per Create call; set it to make retries
	// across processes (a job that restarts) safe as well.
	IdempotencyKey string
}

// createRunBody is the wire form of CreateRunParams.
type createRunBody struct {
	RecipeID string                `json:"recipe_id"`
	Inputs   map[string]string     `json:"inputs"`
	Ingest   map[string]ingestStep `json:"ingest,omitempty"`
}

// encode checks p and returns the request body.
func (p *CreateRunParams) encode() (jsonBody, error) {
	if strings.TrimSpace(p.RecipeID) == "" {
		return nil, invalidf("recipe id is empty")
	}
	if !utf8.ValidString(p.RecipeID) {
		return nil, invalidf("recipe id is not valid UTF-8")
	}
	for name, value := range p.Inputs {
		if strings.TrimSpace(name) == "" {
			return nil, invalidf("inputs has an empty name")
		}
		if !utf8.ValidString(name) || !utf8.ValidString(value) {
			return nil, invalidf("input %q is not valid UTF-8 (JSON would replace its bytes with U+FFFD)", strings.ToValidUTF8(name, "\uFFFD"))
		}
	}
	if !validHeaderValue(p.IdempotencyKey) || len(p.IdempotencyKey) > 255 {
		return nil, invalidf("idempotency key must be at most 255 characters without control characters")
	}
	ingest, err := encodeIngest(p.Ingest)
	if err != nil {
		return nil, err
	}
	inputs := p.Inputs
	if inputs == nil {
		inputs = map[string]string{}
	}
	return json.Marshal(createRunBody{RecipeID: p.RecipeID, Inputs: inputs, Ingest: ingest})
}

// Create starts a run of p.RecipeID and, unless NoWait is given, waits for it
// to end as Wait does: it returns the run when it is done, and otherwise an
// error matching ErrRunFailed, ErrRunCancelled, ErrRunBlocked or
// ErrWaitTimeout, or the context's error.
//
// Invalid params fail with ErrInvalidParams before anything is sent. The
// request carries an Idempotency-Key that stays the same on every retry, so
// retrying cannot start a second run on a server that honours it. Once the
// run exists, every error comes with the last state of the run received, so
// its ID is never lost: run is non-nil even when err is not.
func (s *RunsService) Create(ctx context.Context, p CreateRunParams, opts ...WaitOption) (*Run, error) {
	if err := checkContext(ctx); err != nil {
		return nil, err
	}
	ctx, leave := s.core.clock.Enter(ctx) // one call, from the create to the end of the wait
	defer leave()
	cfg, err := newWaitConfig(opts, true)
	if err != nil {
		return nil, err
	}
	body, err := p.encode()
	if err != nil {
		return nil, err
	}
	key := p.IdempotencyKey
	if key == "" {
		key = ulid.Make().String()
	}
	var run Run
	err = s.core.do(ctx, &request{method: http.MethodPost, path: pathRuns, body: body, idempotencyKey: key}, &run)
	if err != nil {
		if run.Raw != nil { // a run came back, but not a usable one: keep what it said
			return &run, err
		}
		return nil, err
	}
	if cfg.noWait {
		return &run, nil
	}
	w, err := newWaiter(s.core, run.ID, cfg)
	if err != nil {
		return &run, err
	}
	return w.loop(ctx, &run, w.observer())
}

// Get returns the run's current state. An unknown run fails with an error
// matching ErrNotFound; an empty id with ErrInvalidParams.
func (s *RunsService) Get(ctx context.Context, runID string) (*Run, error) {
	path, err := runPath(runID, "")
	if err != nil {
		return nil, err
	}
	return get[Run](ctx, s.core, path, "")
}

// Steps returns the run's execution trace: each step with its status and
// output. It can be called at any time; steps not yet run have no output.
func (s *RunsService) Steps(ctx context.Context, runID string) (*RunSteps, error) {
	path, err := runPath(runID, suffixSteps)
	if err != nil {
		return nil, err
	}
	steps, err := get[RunSteps](ctx, s.core, path, "")
	if err != nil {
		return nil, err
	}
	if steps.RunID == "" {
		steps.RunID = runID
	}
	return steps, nil
}

// ListRunsParams selects the runs List and All return. Zero values are not
// sent: the server's defaults apply (page 1, its page size, every status).
type ListRunsParams struct {
	// Status keeps only runs in this status.
	Status Status
	// Page is the page to fetch, from 1; All starts from it.
	Page int
	// PageSize is the number of runs per page.
	PageSize int
}

// query checks p and returns its query string.
func (p ListRunsParams) query() (string, error) {
	q := url.Values{}
	if err := pageQuery(q, p.Page, p.PageSize); err != nil {
		return "", err
	}
	if p.Status != "" {
		q.Set("status", string(p.Status))
	}
	return q.Encode(), nil
}

// List returns one page of the key's runs, newest first, as
// GET runs/?page=&page_size=&status= (each parameter only when set). A
// negative page or page size fails with ErrInvalidParams before anything is
// sent; a page past the end fails with ErrNotFound.
func (s *RunsService) List(ctx context.Context, p ListRunsParams) (*Page[Run], error) {
	query, err := p.query()
	if err != nil {
		return nil, err
	}
	return get[Page[Run]](ctx, s.core, pathRuns, query)
}

// All iterates over every run from page p.Page (or 1) on, fetching each page
// only when the loop reaches it:
//
//	for run, err := range client.Runs.All(ctx, stewai.ListRunsParams{Status: stewai.StatusFailed}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(run.ID)
//	}
//
// It follows the server's paging and never loops: it stops after a page
// whose next link is empty or that has no results, once it has yielded the
// page's count of runs (when it started at page 1), and with an error
// matching ErrMalformedResponse when a page repeats one already seen (its
// next link or its results), as a server that ignores ?page= sends. An
// error is yielded once, with a nil run, and ends the sequence; breaking out
// of the loop stops all requests. Each page goes through the client's
// retries like any call.
func (s *RunsService) All(ctx context.Context, p ListRunsParams) iter.Seq2[*Run, error] {
	return all(ctx, p.Page, func(ctx context.Context, page int) (*Page[Run], error) {
		p.Page = page
		return s.List(ctx, p)
	})
}

// Outputs returns the run's step outputs by step id, as RunSteps.Outputs
// does, from one Steps call: the official SDK's run.outputs().
func (s *RunsService) Outputs(ctx context.Context, runID string) (map[string]StepOutput, error) {
	steps, err := s.Steps(ctx, runID)
	if err != nil {
		return nil, err
	}
	return steps.Outputs(), nil
}

// RunsService is the runs part of the API; use it as Client.Runs.
type RunsService struct{ core *core }
