package stewaitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/stewai/stewai-go"
)

// Scripts is the JSON form of a server's scripts, the format cmd/stewai-fake
// reads with --scripts:
//
//	{
//	  "recipes": {
//	    "01JSLOW": {"statuses": ["queued", "running"], "final": "failed", "duration": "2s"},
//	    "01JTWO":  {"final": "done", "polls_per_status": 2, "steps": [
//	      {"id": "step_1", "title": "Summarize", "kind": "llm_simple",
//	       "output": {"output_flat_version": 1, "type": "text", "primary": "Hello",
//	                  "usage": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4, "cost": 0.001},
//	                  "finish_reason": "stop"}}]}
//	  },
//	  "faults": [
//	    {"method": "POST", "path": "runs/", "times": 1, "status": 503, "header": {"Retry-After": ["1"]}},
//	    {"path": "runs/", "times": 2, "latency": "250ms"}
//	  ]
//	}
//
// Recipe fields are those of Recipe, Fault fields those of Fault, in
// snake_case; durations are strings such as "1.5s". Unknown fields are
// errors, and so is a final status other than the six documented ones. A
// recipe may also be a list of scripts, followed by its runs in turn as
// with WithRecipe: "01JFLAKY": [{"final": "failed"}, {}] fails once, then
// succeeds.
type Scripts struct {
	// Recipes scripts recipes by id, as WithRecipe does.
	Recipes map[string]RecipeScripts `json:"recipes,omitempty"`
	// Faults are injected from the start, in order, as WithFault does.
	Faults []Fault `json:"faults,omitempty"`
	// StrictFiles rejects doc:// sources that were not uploaded, as
	// WithStrictFiles does.
	StrictFiles bool `json:"strict_files,omitempty"`
	// StrictRecipes rejects runs of recipes the server does not know, as
	// WithStrictRecipes does.
	StrictRecipes bool `json:"strict_recipes,omitempty"`
	// SelfService enables GET recipes/{id}/, as WithSelfService does.
	SelfService bool `json:"self_service,omitempty"`
	// Marketplace enables the marketplace with these recipes, as
	// WithMarketplace does.
	Marketplace []MarketplaceEntry `json:"marketplace,omitempty"`
}

// RecipeScripts are the scripts of one recipe, one per run, the last
// repeating. In JSON it is one Recipe object, or a list of them.
type RecipeScripts []Recipe

// UnmarshalJSON reads one Recipe object or a non-empty list of them.
func (rs *RecipeScripts) UnmarshalJSON(b []byte) error {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var list []Recipe
		if err := strictDecode(trimmed, &list); err != nil {
			return err
		}
		if len(list) == 0 {
			return fmt.Errorf("a recipe's list of scripts is empty")
		}
		*rs = list
		return nil
	}
	var one Recipe
	if err := strictDecode(trimmed, &one); err != nil {
		return err
	}
	*rs = RecipeScripts{one}
	return nil
}

// strictDecode decodes b into v, rejecting unknown fields.
func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// statuses are the six documented run statuses: those a script may end in
// (queued and running make runs that never end, for timeout tests) and
// those GET runs/ filters by.
var statuses = []stewai.Status{
	stewai.StatusQueued, stewai.StatusRunning, stewai.StatusDone,
	stewai.StatusFailed, stewai.StatusCancelled, stewai.StatusBlocked,
}

// statusNames lists the documented statuses, for error messages.
func statusNames() string {
	names := make([]string, len(statuses))
	for i, st := range statuses {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}

// ParseScripts reads scripts in the format of Scripts and returns the options
// that apply them to NewServer.
func ParseScripts(r io.Reader) ([]Option, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("stewaitest: read scripts: %w", err)
	}
	var sc Scripts
	if err := strictDecode(data, &sc); err != nil {
		return nil, fmt.Errorf("stewaitest: scripts: %w", err)
	}
	ids := make([]string, 0, len(sc.Recipes))
	for id := range sc.Recipes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var opts []Option
	for _, id := range ids {
		if strings.TrimSpace(id) == "" {
			return nil, fmt.Errorf("stewaitest: scripts: a recipe has an empty id")
		}
		scripts := sc.Recipes[id]
		for n, rec := range scripts {
			if err := checkRecipe(rec); err != nil {
				return nil, fmt.Errorf("stewaitest: scripts: recipe %q, script %d: %w", id, n, err)
			}
		}
		opts = append(opts, WithRecipe(id, scripts[0], scripts[1:]...))
	}
	if sc.StrictFiles {
		opts = append(opts, WithStrictFiles())
	}
	if sc.StrictRecipes {
		opts = append(opts, WithStrictRecipes())
	}
	if sc.SelfService {
		opts = append(opts, WithSelfService())
	}
	for i, e := range sc.Marketplace {
		if strings.TrimSpace(e.RecipeULID) == "" {
			return nil, fmt.Errorf("stewaitest: scripts: marketplace entry %d has no recipe_ulid", i)
		}
	}
	if sc.Marketplace != nil {
		opts = append(opts, WithMarketplace(sc.Marketplace...))
	}
	for i, f := range sc.Faults {
		if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
			return nil, fmt.Errorf("stewaitest: scripts: fault %d: status %d is not an HTTP status", i, f.Status)
		}
		if f.Times < 0 || f.Latency < 0 {
			return nil, fmt.Errorf("stewaitest: scripts: fault %d: times and latency must not be negative", i)
		}
		opts = append(opts, WithFault(f))
	}
	return opts, nil
}

// checkRecipe says what is wrong with a script from a scripts file.
func checkRecipe(rec Recipe) error {
	if rec.PollsPerStatus < 0 || rec.Duration < 0 {
		return fmt.Errorf("polls_per_status and duration must not be negative")
	}
	if rec.Final != "" && !slices.Contains(statuses, rec.Final) {
		return fmt.Errorf("final status %q is not one of %s", rec.Final, statusNames())
	}
	for i, st := range rec.Steps {
		if strings.TrimSpace(st.ID) == "" {
			return fmt.Errorf("step %d has no id", i)
		}
	}
	return nil
}
