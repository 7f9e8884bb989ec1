package stewai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

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
		Steps *[]Step `json:"steps"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = RunSteps{Raw: bytes.Clone(trimJSONSpace(b))}
	if w.Steps != nil {
		s.Steps = *w.Steps
	}
	if w.Run != nil {
		s.RunID = w.Run.ID
	}
	return nil
}

func (s *RunSteps) decode(b []byte) error { return s.UnmarshalJSON(b) }

// validate rejects an answer without a "steps" list.
func (s *RunSteps) validate() error {
	if s.Steps == nil {
		return errors.New(`steps answer has no "steps" list`)
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
