package stewai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"github.com/stewai/stewai-go/internal/jsonobj"
)

// Run is one execution of a recipe, as the server last described it.
type Run struct {
	// ID identifies the run; pass it to Get, Wait and Steps.
	ID string `json:"id"`
	// RecipeID is the recipe the run executes.
	RecipeID string `json:"recipe_id"`
	// Status is where the run is; see Status.IsTerminal.
	Status Status `json:"status"`
	// CreatedAt is when the run was created; zero when the server sent no
	// RFC 3339 time.
	CreatedAt time.Time `json:"created_at"`
	// DurationMS is how long the run has taken, in milliseconds.
	DurationMS int64 `json:"duration_ms"`
	// Raw is the run object exactly as received, including fields this
	// package does not name; decode it to reach them.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a run object and keeps it whole in Raw. id, recipe_id
// and status must be strings; created_at and duration_ms are read leniently
// (an unreadable value is left zero, and stays visible in Raw).
func (r *Run) UnmarshalJSON(b []byte) error { return r.decode(b, bytes.Clone(b)) }

// decodeOwned decodes b, which the pipeline hands over and never reuses, in
// one pass and without copying it for Raw.
func (r *Run) decodeOwned(b []byte) error { return r.decode(b, b) }

func (r *Run) decode(b, raw []byte) error {
	if isNull(b) {
		return nil
	}
	if r.decodeFast(b, raw) {
		return nil
	}
	return r.decodeGeneral(b, raw)
}

// decodeGeneral decodes any run object, with encoding/json.
func (r *Run) decodeGeneral(b, raw []byte) error {
	var w struct {
		ID         string      `json:"id"`
		RecipeID   string      `json:"recipe_id"`
		Status     Status      `json:"status"`
		CreatedAt  lenientTime `json:"created_at"`
		DurationMS lenientInt  `json:"duration_ms"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Run{ID: w.ID, RecipeID: w.RecipeID, Status: w.Status, CreatedAt: w.CreatedAt.t, DurationMS: int64(w.DurationMS), Raw: raw}
	return nil
}

// lenientTime reads an RFC 3339 string, and anything else as the zero time.
type lenientTime struct{ t time.Time }

func (l *lenientTime) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' {
		return nil
	}
	text, plain := jsonobj.String(b)
	if !plain {
		var s string
		if json.Unmarshal(b, &s) != nil {
			return nil
		}
		text = []byte(s)
	}
	l.t, _ = time.Parse(time.RFC3339Nano, string(text)) // no copy: Parse keeps nothing of it
	return nil
}

// lenientInt reads a number, or a string holding one, truncating a
// fraction; anything else, or a number out of range, is 0.
type lenientInt int64

func (l *lenientInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*l = lenientInt(n)
	} else if f, err := strconv.ParseFloat(s, 64); err == nil && f >= -1<<62 && f <= 1<<62 {
		*l = lenientInt(f)
	}
	return nil
}

// checkDecoded rejects an answer that is not a run, or whose id could not
// be used to reach it.
func (r *Run) checkDecoded() error {
	if r.ID == "" {
		return errors.New("run object has no id")
	}
	if !usableID(r.ID) {
		return fmt.Errorf("run object has an unusable id %q", r.ID)
	}
	return nil
}

// RunSteps is a run's execution trace: every step with its output.
type RunSteps struct {
	// RunID is the run the steps belong to.
	RunID string
	// Steps are the run's steps in the order the server lists them.
	Steps []Step
	// Raw is the whole answer as received.
	Raw json.RawMessage
}

// UnmarshalJSON decodes {"run": {"id": ...}, "steps": [...]} and keeps it
// whole in Raw.
func (s *RunSteps) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	var w struct {
		Run *struct {
			ID string `json:"id"`
		} `json:"run"`
		Steps []Step `json:"steps"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = RunSteps{Steps: w.Steps, Raw: bytes.Clone(b)}
	if w.Run != nil {
		s.RunID = w.Run.ID
	}
	return nil
}

// Step finds the step with the given id.
func (s *RunSteps) Step(id string) (*Step, bool) {
	for i := range s.Steps {
		if s.Steps[i].ID == id {
			return &s.Steps[i], true
		}
	}
	return nil, false
}

// Outputs returns each step's output by step id, leaving out the steps
// that have no output yet, whose output type is none, or whose primary value
// is empty or null. The map is new on each call.
func (s *RunSteps) Outputs() map[string]StepOutput {
	out := make(map[string]StepOutput, len(s.Steps))
	for _, st := range s.Steps {
		o := st.Output
		if o.Type == OutputNone || len(o.Primary) == 0 || isNull(o.Primary) {
			continue
		}
		out[st.ID] = o
	}
	return out
}

// Usage adds up the usage of every step that reports one.
func (s *RunSteps) Usage() Usage {
	var total Usage
	for _, st := range s.Steps {
		if u := st.Output.Usage; u != nil {
			total.InputTokens += u.InputTokens
			total.OutputTokens += u.OutputTokens
			total.TotalTokens += u.TotalTokens
			total.Cost += u.Cost
		}
	}
	return total
}

// Step is one step of a run.
type Step struct {
	// ID identifies the step within its recipe, such as "step_1".
	ID string `json:"id"`
	// Title is the step's human-readable name.
	Title string `json:"title"`
	// Kind is the step type, such as "llm_simple".
	Kind string `json:"kind"`
	// Status is the step's own status.
	Status Status `json:"status"`
	// DependsOn lists the ids of the steps this one waits for.
	DependsOn []string `json:"depends_on"`
	// Output is the step's flattened output (output_flat); zero when the
	// step has none yet.
	Output StepOutput `json:"output_flat"`
	// Raw is the step object as received, with any fields this package
	// does not name.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a step and keeps it whole in Raw.
func (s *Step) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	type plain Step // without this method
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*s = Step(p)
	s.Raw = bytes.Clone(b)
	return nil
}

// OutputType says what a step's primary output holds.
type OutputType string

// The output types of a step.
const (
	OutputText      OutputType = "text"       // Primary is a JSON string
	OutputJSON      OutputType = "json"       // Primary is any JSON value
	OutputMedia     OutputType = "media"      // Primary holds file metadata
	OutputToolCalls OutputType = "tool_calls" // Primary holds the tool calls
	OutputNone      OutputType = "none"       // no output
)

// StepOutput is a step's flattened output (the output_flat object). Only
// Version, Type, Primary, Usage and FinishReason are stable; the other fields
// appear when the server sends them.
type StepOutput struct {
	// Version is the output_flat format version.
	Version int `json:"output_flat_version"`
	// Type says what Primary holds.
	Type OutputType `json:"type"`
	// Primary is the main value, as raw JSON; see Text and Decode.
	Primary json.RawMessage `json:"primary,omitempty"`
	// Usage is the model usage of the step, when it reports one.
	Usage *Usage `json:"usage,omitempty"`
	// FinishReason is why generation stopped, such as "stop".
	FinishReason string `json:"finish_reason,omitempty"`
	// SchemaURN identifies the schema a json output follows.
	SchemaURN string `json:"schema_urn,omitempty"`
	// SchemaName is that schema's human-readable name.
	SchemaName string `json:"schema_name,omitempty"`
	// Warnings are the server's warnings about the output, as raw JSON.
	Warnings json.RawMessage `json:"warnings,omitempty"`
}

// Text returns Primary as a string when it is a JSON string (as for text
// outputs); ok is false otherwise.
func (o StepOutput) Text() (text string, ok bool) {
	return text, json.Unmarshal(o.Primary, &text) == nil
}

// Decode unmarshals Primary into v, for json outputs. It fails when there is
// no primary value.
func (o StepOutput) Decode(v any) error {
	if len(o.Primary) == 0 {
		return errors.New("stewai: step output has no primary value")
	}
	if err := json.Unmarshal(o.Primary, v); err != nil {
		return fmt.Errorf("stewai: decode step output: %w", err)
	}
	return nil
}

// Usage is the model usage of a step.
type Usage struct {
	// InputTokens is the number of tokens read by the model.
	InputTokens int64 `json:"input_tokens"`
	// OutputTokens is the number of tokens the model generated.
	OutputTokens int64 `json:"output_tokens"`
	// TotalTokens is the sum the service bills, usually input + output.
	TotalTokens int64 `json:"total_tokens"`
	// Cost is what the step cost, in the account's credits.
	Cost float64 `json:"cost"`
}

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
	return w.loop(ctx, &run, w.notify)
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
// It stops after a page whose next link is empty or that has no results. An
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
