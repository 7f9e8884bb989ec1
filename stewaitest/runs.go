package stewaitest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/stewai/stewai-go"
)

// Recipe scripts what the runs of one recipe do. Recipes without a script
// (never given to WithRecipe) run the default recipe, which moves with
// time: queued, then running, then done 300 ms after creation, with two
// steps that turn the inputs into a text output (step_1) and a json output
// (step_2). A scripted Recipe{} is not that default: it moves by polls.
//
// A run of a scripted recipe reports Statuses in turn, then Final. Without
// a Duration it moves on with each poll (GET runs/{id}/): the create answer shows Statuses[0], the first
// poll Statuses[1], and so on, each repeated for PollsPerStatus polls; its
// duration_ms counts 100 ms per poll. With a Duration it moves with the
// server's clock instead: Statuses share the Duration equally, Final comes
// when it has passed, and duration_ms is the time since creation, exactly
// the Duration once final.
type Recipe struct {
	// Name is the recipe's name in GET recipes/; default "Recipe <id>".
	Name string `json:"name,omitempty"`
	// Statuses are reported before Final. nil means queued, running; an
	// empty, non-nil list makes the run final at once.
	Statuses []stewai.Status `json:"statuses,omitempty"`
	// Final is the status the run ends in: done (the default), failed,
	// cancelled or blocked. A status that is not terminal, such as running,
	// makes a run that never ends, for testing timeouts.
	Final stewai.Status `json:"final,omitempty"`
	// PollsPerStatus is how many polls each of Statuses lasts; default 1.
	PollsPerStatus int `json:"polls_per_status,omitempty"`
	// Duration, when set, makes runs move by time rather than by polls.
	// In JSON it is a string such as "1.5s".
	Duration time.Duration `json:"-"`
	// Steps are the run's steps. nil gives the default recipe's two steps,
	// computed from the run's inputs.
	Steps []Step `json:"steps,omitempty"`
}

// recipeJSON is the JSON form of a Recipe: its Duration is a string such
// as "2s" (or a number of seconds), which time.Duration cannot read.
type recipeJSON struct {
	*recipeFields
	Duration duration `json:"duration,omitempty"`
}

// recipeFields is Recipe without its methods, so that recipeJSON does not
// recurse into them.
type recipeFields Recipe

// MarshalJSON writes the recipe in the scripts format of Scripts, its
// Duration as a string such as "2s".
func (r Recipe) MarshalJSON() ([]byte, error) {
	return json.Marshal(recipeJSON{recipeFields: (*recipeFields)(&r), Duration: duration(r.Duration)})
}

// UnmarshalJSON reads a recipe in the scripts format of Scripts: the
// duration is a string such as "2s" or a number of seconds, and unknown
// fields are errors.
func (r *Recipe) UnmarshalJSON(b []byte) error {
	if r == nil {
		return fmt.Errorf("stewaitest: UnmarshalJSON into a nil *Recipe")
	}
	var v Recipe
	w := recipeJSON{recipeFields: (*recipeFields)(&v)}
	if err := strictDecode(b, &w); err != nil {
		return err
	}
	v.Duration = time.Duration(w.Duration)
	*r = v
	return nil
}

// defaultRecipe is what runs of recipes without a script do: queued, then
// running, then done 300 ms after creation, with two steps that turn the
// inputs into a text output (step_1) and a json output (step_2).
var defaultRecipe = Recipe{Duration: 300 * time.Millisecond}

// Step scripts one step of a run.
type Step struct {
	// ID identifies the step, such as "step_1". Required.
	ID string `json:"id"`
	// Title is the step's human-readable name.
	Title string `json:"title,omitempty"`
	// Kind is the step type, such as "llm_simple".
	Kind string `json:"kind,omitempty"`
	// DependsOn lists the ids of the steps this one waits for.
	DependsOn []string `json:"depends_on,omitempty"`
	// Status is the step's status once the run has ended. Empty means done
	// when the run is done, and the run's own status otherwise.
	Status stewai.Status `json:"status,omitempty"`
	// Output is the step's output_flat once it is done; see Text, JSON,
	// Media, ToolCalls and NoOutput.
	Output stewai.StepOutput `json:"output"`
}

// sampleUsage is the usage the output helpers report.
func sampleUsage(in, out int64) *stewai.Usage {
	return &stewai.Usage{InputTokens: in, OutputTokens: out, TotalTokens: in + out, Cost: float64(in+out) * 0.00025}
}

func rawJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("stewaitest: output value does not encode as JSON: " + err.Error())
	}
	return b
}

// Text is a text output.
func Text(s string) stewai.StepOutput {
	return stewai.StepOutput{Version: 1, Type: stewai.OutputText, Primary: rawJSON(s),
		Usage: sampleUsage(int64(10+len(s)/4), int64(1+len(s)/4)), FinishReason: "stop"}
}

// JSON is a json output whose primary value is v encoded as JSON. It panics
// if v does not encode.
func JSON(v any) stewai.StepOutput {
	p := rawJSON(v)
	return stewai.StepOutput{Version: 1, Type: stewai.OutputJSON, Primary: p,
		Usage: sampleUsage(int64(20+len(p)/4), int64(1+len(p)/4)), FinishReason: "stop"}
}

// Media is a media output describing a generated file.
func Media(uri, filename, contentType string) stewai.StepOutput {
	return stewai.StepOutput{Version: 1, Type: stewai.OutputMedia, FinishReason: "stop",
		Primary: rawJSON(map[string]string{"uri": uri, "filename": filename, "content_type": contentType})}
}

// ToolCalls is a tool_calls output whose primary value is calls as JSON.
func ToolCalls(calls any) stewai.StepOutput {
	return stewai.StepOutput{Version: 1, Type: stewai.OutputToolCalls, Primary: rawJSON(calls),
		Usage: sampleUsage(30, 12), FinishReason: "tool_calls"}
}

// NoOutput is a step output of type none.
func NoOutput() stewai.StepOutput {
	return stewai.StepOutput{Version: 1, Type: stewai.OutputNone}
}

// run is the server's state of one run.
type run struct {
	id, recipeID string
	recipe       Recipe
	inputs       map[string]string
	sources      []stewai.IngestSource
	created      time.Time
	polls        int
	finished     *time.Duration // the run's elapsed time once final
}

// status is the run's status at now, after r.polls polls.
func (r *run) status(now time.Time) stewai.Status {
	statuses, final := r.recipe.Statuses, r.recipe.Final
	if statuses == nil {
		statuses = []stewai.Status{stewai.StatusQueued, stewai.StatusRunning}
	}
	if final == "" {
		final = stewai.StatusDone
	}
	s := final
	if d := r.recipe.Duration; r.byTime() {
		if elapsed := now.Sub(r.created); elapsed < d {
			s = statuses[int(elapsed*time.Duration(len(statuses))/d)]
		}
	} else {
		per := max(1, r.recipe.PollsPerStatus)
		if i := r.polls / per; i < len(statuses) {
			s = statuses[i]
		}
	}
	if s.IsTerminal() && r.finished == nil {
		elapsed := r.elapsed(now)
		r.finished = &elapsed
	}
	return s
}

// pollStep is the duration a run that moves by polls reports per poll, so
// that what it reports does not depend on when the client polls.
const pollStep = 100 * time.Millisecond

// byTime reports whether the run moves with the clock rather than polls.
func (r *run) byTime() bool {
	return r.recipe.Duration > 0 && (r.recipe.Statuses == nil || len(r.recipe.Statuses) > 0)
}

// elapsed is how long the run has taken at now: the time since creation,
// up to its Duration, for a run that moves by time; pollStep per poll for
// one that moves by polls. Once final it stays as it was then.
func (r *run) elapsed(now time.Time) time.Duration {
	switch {
	case r.finished != nil:
		return *r.finished
	case r.byTime():
		return min(now.Sub(r.created), r.recipe.Duration)
	default:
		return time.Duration(r.polls) * pollStep
	}
}

// object is the run as the API shows it.
func (r *run) object(now time.Time) map[string]any {
	st := r.status(now)
	return map[string]any{
		"id":          r.id,
		"recipe_id":   r.recipeID,
		"status":      st,
		"created_at":  r.created.UTC().Format(time.RFC3339Nano),
		"duration_ms": r.elapsed(now).Milliseconds(),
	}
}

// steps is the run's steps as the API shows them.
func (r *run) steps(now time.Time) []map[string]any {
	st := r.status(now)
	scripted := r.recipe.Steps
	if scripted == nil {
		scripted = defaultSteps(r.inputs, r.sources)
	}
	out := make([]map[string]any, 0, len(scripted))
	for i, step := range scripted {
		status, output := stewai.StatusQueued, (*stewai.StepOutput)(nil)
		switch {
		case st.IsTerminal():
			status = step.Status
			if status == "" {
				status = st
			}
			if status == stewai.StatusDone {
				o := step.Output
				if o.Type == "" {
					o = NoOutput()
				}
				output = &o
			}
		case st == stewai.StatusRunning && i == 0:
			status = stewai.StatusRunning
		}
		deps := step.DependsOn
		if deps == nil {
			deps = []string{}
		}
		out = append(out, map[string]any{
			"id": step.ID, "title": step.Title, "kind": step.Kind, "status": status,
			"depends_on": deps, "output_flat": output,
		})
	}
	return out
}

// defaultSteps are the default recipe's steps: a text summary of the inputs and
// the inputs as JSON.
func defaultSteps(inputs map[string]string, sources []stewai.IngestSource) []Step {
	names := make([]string, 0, len(inputs))
	for k := range inputs {
		names = append(names, k)
	}
	sort.Strings(names)
	pairs := make([]string, len(names))
	for i, k := range names {
		pairs[i] = k + "=" + inputs[k]
	}
	summary := "Summary of " + strings.Join(pairs, ", ")
	if len(pairs) == 0 {
		summary = "Summary of a run without inputs"
	}
	if len(sources) > 0 {
		summary += fmt.Sprintf(" (%d ingested source(s))", len(sources))
	}
	uris := make([]string, len(sources))
	for i, s := range sources {
		uris[i] = s.URI
	}
	return []Step{
		{ID: "step_1", Title: "Summarize", Kind: "llm_simple", Output: Text(summary + ".")},
		{ID: "step_2", Title: "Extract", Kind: "llm_json", DependsOn: []string{"step_1"},
			Output: JSON(map[string]any{"inputs": inputs, "input_count": len(inputs), "sources": uris})},
	}
}

// idempotent remembers what an Idempotency-Key was first used for.
type idempotent struct {
	digest [32]byte // of the request body
	id     string   // the run or file it made
}

// replayed looks up the Idempotency-Key of r in scope ("runs", "recipes",
// "upload"). When an earlier request carried it, replayed returns what that
// request made and true; when that request had other content (another
// digest), it writes the 422 itself and returns "" and true. s.mu is held.
func (s *Server) replayed(w http.ResponseWriter, r *http.Request, scope string, digest [32]byte) (id string, seen bool) {
	key := r.Header.Get("Idempotency-Key")
	prev, ok := s.idem[scope+":"+key]
	if !ok || key == "" {
		return "", false
	}
	if prev.digest != digest {
		writeError(w, http.StatusUnprocessableEntity, "Idempotency-Key was already used with different content.")
		return "", true
	}
	return prev.id, true
}

// remember notes what a request with an Idempotency-Key made, for
// replayed. s.mu is held.
func (s *Server) remember(r *http.Request, scope string, digest [32]byte, id string) {
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		s.idem[scope+":"+key] = idempotent{digest: digest, id: id}
	}
}

// readJSONBody reads the JSON body of r, up to maxJSONBody bytes. When the
// Content-Type is not JSON, or the body cannot be read or is too large, it
// answers and ok is false.
func readJSONBody(w http.ResponseWriter, r *http.Request) (body []byte, ok bool) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json.")
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Could not read the body.")
		return nil, false
	}
	if len(body) > maxJSONBody {
		writeError(w, http.StatusRequestEntityTooLarge, "Body too large.")
		return nil, false
	}
	return body, true
}

// readParsed reads r's JSON body and parses it with parse, which returns
// the value or a problem. A body that cannot be read or parsed is answered
// (a 400 naming the problem) and ok is false. body is what was read, for
// the request log.
func readParsed[T any](w http.ResponseWriter, r *http.Request, parse func([]byte) (T, string)) (v T, body []byte, ok bool) {
	body, ok = readJSONBody(w, r)
	if !ok {
		return v, nil, false
	}
	v, problem := parse(body)
	if problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return v, body, false
	}
	return v, body, true
}

// createRun handles POST runs/ and returns the body read.
func (s *Server) createRun(w http.ResponseWriter, r *http.Request, _ string) []byte {
	p, body, ok := readParsed(w, r, parseCreate)
	if !ok {
		return body
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	digest := sha256.Sum256(body)
	if id, seen := s.replayed(w, r, "runs", digest); seen {
		if id != "" {
			writeJSON(w, http.StatusAccepted, s.runs[id].object(s.now()))
		}
		return body
	}
	if s.strictRecipes && !s.knowsRecipe(p.recipeID) {
		writeError(w, http.StatusNotFound, "Recipe not found.")
		return body
	}
	for _, src := range p.sources {
		if s.strictFiles && src.Kind == stewai.SourceFile && !s.files.has(src.URI) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("File source %s is not in storage.", src.URI))
			return body
		}
	}
	recipe := s.recipes.next(p.recipeID)
	now := s.now()
	ru := &run{id: s.newID(), recipeID: p.recipeID, recipe: recipe, inputs: p.inputs, sources: p.sources, created: now}
	s.runs[ru.id] = ru
	s.order = append(s.order, ru.id)
	s.remember(r, "runs", digest, ru.id)
	writeJSON(w, http.StatusAccepted, ru.object(now))
	return body
}

// knowsRecipe reports whether recipe id was scripted, created through
// self-service or published to the marketplace. s.mu is held.
func (s *Server) knowsRecipe(id string) bool {
	if _, ok := s.recipes.byID[id]; ok {
		return true
	}
	for _, e := range s.market {
		if e.RecipeULID == id {
			return true
		}
	}
	return false
}

type createParams struct {
	recipeID string
	inputs   map[string]string
	sources  []stewai.IngestSource
}

// parseCreate checks a create body field by field, as strictly as the API,
// and says what is wrong in the words a 400 answer uses.
func parseCreate(body []byte) (p createParams, problem string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return p, "Body must be a JSON object."
	}
	for name := range fields {
		if name != "recipe_id" && name != "inputs" && name != "ingest" {
			return p, fmt.Sprintf("Unknown field %q.", name)
		}
	}
	if json.Unmarshal(fields["recipe_id"], &p.recipeID) != nil || strings.TrimSpace(p.recipeID) == "" {
		return p, "recipe_id is required and must be a non-empty string."
	}
	p.inputs = map[string]string{}
	if raw, ok := fields["inputs"]; ok {
		if err := json.Unmarshal(raw, &p.inputs); err != nil || p.inputs == nil {
			return p, "inputs must be an object mapping names to strings."
		}
	}
	raw, ok := fields["ingest"]
	if !ok {
		return p, ""
	}
	var ingest map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ingest); err != nil || ingest == nil {
		return p, `ingest must be an object mapping step ids to {"sources": [...]}.`
	}
	steps := make([]string, 0, len(ingest))
	for step := range ingest {
		steps = append(steps, step)
	}
	sort.Strings(steps)
	for _, step := range steps {
		if strings.TrimSpace(step) == "" {
			return p, "ingest step ids must not be empty."
		}
		var st struct {
			Sources *[]json.RawMessage `json:"sources"`
		}
		dec := json.NewDecoder(strings.NewReader(string(ingest[step])))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&st); err != nil || st.Sources == nil {
			return p, fmt.Sprintf(`ingest[%q] must be {"sources": [...]}.`, step)
		}
		for i, rawSrc := range *st.Sources {
			var src stewai.IngestSource
			dec := json.NewDecoder(strings.NewReader(string(rawSrc)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&src); err != nil {
				return p, fmt.Sprintf(`ingest[%q].sources[%d] must be {"uri", "kind", "label"} with string values.`, step, i)
			}
			if msg := sourceProblem(src); msg != "" {
				return p, fmt.Sprintf("ingest[%q].sources[%d]: %s", step, i, msg)
			}
			p.sources = append(p.sources, src)
		}
	}
	return p, ""
}

// sourceProblem checks a source as the service does. It deliberately does
// not call IngestSource.Validate: a fake that shared the client's checks
// could not catch a bug in them.
func sourceProblem(src stewai.IngestSource) string {
	switch src.Kind {
	case stewai.SourceURL:
		u, err := url.Parse(src.URI)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "url sources need an http:// or https:// uri."
		}
	case stewai.SourceFile:
		if !strings.HasPrefix(src.URI, "doc://") || len(src.URI) == len("doc://") {
			return "file sources need a doc:// uri."
		}
	default:
		return `kind must be "url" or "file".`
	}
	return ""
}

// getRun handles GET runs/{id}/: one poll.
func (s *Server) getRun(w http.ResponseWriter, r *http.Request, id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	ru := s.lookup(w, id)
	if ru != nil && offClock(r) && ru.byTime() && !ru.status(s.now()).IsTerminal() {
		writeError(w, http.StatusConflict, offClockDetail)
		return nil
	}
	if ru != nil {
		ru.polls++
		writeJSON(w, http.StatusOK, ru.object(s.now()))
	}
	return nil
}

// offClockKey marks, in a request's context, a request from a client that
// is not on the server's virtual clock (not made by Server.Client).
type offClockKey struct{}

// offClock reports whether r came from a client off the server's virtual
// clock.
func offClock(r *http.Request) bool {
	off, _ := r.Context().Value(offClockKey{}).(bool)
	return off
}

// offClockDetail answers a poll, from a client off the virtual clock, of a
// run that only time would move: for that client it would never move, and
// its wait would end at its timeout with no hint why.
const offClockDetail = "stewaitest: this client is not on the server's virtual clock, so this run, which moves with time, " +
	"would never move for it. Make the client with srv.Client(...), or the server with stewaitest.WithRealTime()."

// getSteps handles GET runs/{id}/steps/; it does not count as a poll.
func (s *Server) getSteps(w http.ResponseWriter, _ *http.Request, id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	ru := s.lookup(w, id)
	if ru == nil {
		return nil
	}
	now := s.now()
	writeJSON(w, http.StatusOK, map[string]any{
		"run":   map[string]any{"id": ru.id, "status": ru.status(now)},
		"steps": ru.steps(now),
	})
	return nil
}

// lookup returns the run, or answers 404 and returns nil. s.mu is held.
func (s *Server) lookup(w http.ResponseWriter, id string) *run {
	ru, ok := s.runs[id]
	if !ok {
		writeError(w, http.StatusNotFound, "Run not found.")
	}
	return ru
}

// Runs returns every run created so far, oldest first, in its current state.
// Reading them does not count as a poll.
func (s *Server) Runs() []stewai.Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]stewai.Run, 0, len(s.order))
	for _, id := range s.order {
		var r stewai.Run
		_ = json.Unmarshal(rawJSON(s.runs[id].object(now)), &r)
		out = append(out, r)
	}
	return out
}

// Script sets or replaces the scripts of recipe id, for runs created from
// now: the next run follows first, the one after the first of then, and so
// on, the last repeating, as with WithRecipe.
func (s *Server) Script(id string, first Recipe, then ...Recipe) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recipes.script(id, append([]Recipe{first}, then...))
}
