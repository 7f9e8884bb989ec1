package stewaitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
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
// snake_case; durations are strings such as "1.5s". Unknown fields are errors.
type Scripts struct {
	// Recipes scripts recipes by id, as WithRecipe does.
	Recipes map[string]Recipe `json:"recipes,omitempty"`
	// Faults are injected from the start, in order, as WithFault does.
	Faults []Fault `json:"faults,omitempty"`
}

// ParseScripts reads scripts in the format of Scripts and returns the options
// that apply them to NewServer.
func ParseScripts(r io.Reader) ([]Option, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("stewaitest: read scripts: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var sc Scripts
	if err := dec.Decode(&sc); err != nil {
		return nil, fmt.Errorf("stewaitest: scripts: %w", err)
	}
	ids := make([]string, 0, len(sc.Recipes))
	for id := range sc.Recipes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var opts []Option
	for _, id := range ids {
		rec := sc.Recipes[id]
		if strings.TrimSpace(id) == "" {
			return nil, fmt.Errorf("stewaitest: scripts: a recipe has an empty id")
		}
		if rec.PollsPerStatus < 0 || rec.Duration < 0 {
			return nil, fmt.Errorf("stewaitest: scripts: recipe %q: polls_per_status and duration must not be negative", id)
		}
		for i, st := range rec.Steps {
			if strings.TrimSpace(st.ID) == "" {
				return nil, fmt.Errorf("stewaitest: scripts: recipe %q: step %d has no id", id, i)
			}
		}
		opts = append(opts, WithRecipe(id, rec))
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
