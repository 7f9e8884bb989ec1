package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/itchyny/gojq"
	"github.com/stewai/stewai-go"
)

// printJSON prints raw JSON from the API on one line, or what --jq makes
// of it. Characters a terminal would act on stay escaped.
func (c *cli) printJSON(raw json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return fmt.Errorf("the API's answer is not JSON: %w", err)
	}
	if c.jqCode != nil {
		return c.printJQ(b.Bytes())
	}
	out := escapeJSON(b.Bytes())
	_, err := c.out.Write(append(out, '\n'))
	return err
}

// printJQ prints what the --jq expression makes of one JSON value: strings
// as they are (control characters made harmless on a terminal), anything
// else as JSON, one per line.
func (c *cli) printJQ(doc []byte) error {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return fmt.Errorf("the API's answer is not JSON: %w", err)
	}
	iter := c.jqCode.Run(v)
	for {
		r, ok := iter.Next()
		if !ok {
			return nil
		}
		if err, ok := r.(error); ok {
			return fmt.Errorf("--jq: %w", err)
		}
		var line string
		if s, ok := r.(string); ok {
			line = s
			if c.outTerm {
				line = cleanText(s)
			}
		} else {
			b, err := gojq.Marshal(r)
			if err != nil {
				return fmt.Errorf("--jq: %w", err)
			}
			line = string(escapeJSON(b))
		}
		if _, err := fmt.Fprintln(c.out, line); err != nil {
			return err
		}
	}
}

// escapeJSON escapes, in valid compact JSON, the characters JSON allows raw
// that a terminal would act on: DEL and the C1 controls (U+0080–U+009F), and
// replaces invalid UTF-8.
func escapeJSON(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case r == 0x7f || r >= 0x80 && r <= 0x9f:
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}

// printValue prints v as JSON on one line.
func (c *cli) printValue(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.printJSON(b)
}

// printObject prints an API object: its JSON, or the given fields aligned.
func (c *cli) printObject(raw json.RawMessage, fields [][2]string) error {
	if c.json {
		return c.printJSON(raw)
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s\t%s\n", f[0], clean(f[1]))
	}
	return tw.Flush()
}

// printRun prints a run: its JSON, or its fields aligned.
func (c *cli) printRun(run *stewai.Run) error {
	return c.printObject(run.Raw, [][2]string{{"id", run.ID}, {"recipe", run.RecipeID},
		{"status", string(run.Status)}, {"created", created(run)}, {"duration", duration(run)}})
}

// printFile prints a Pantry file.
func (c *cli) printFile(f *stewai.File) error {
	if c.json {
		return c.printValue(f)
	}
	return c.printObject(nil, [][2]string{{"uri", f.URI}, {"filename", f.Filename},
		{"size", strconv.FormatInt(f.SizeBytes, 10) + " bytes"}, {"obj_ulid", f.ObjULID}})
}

// printSteps prints a run's steps: a table, then each output by title.
func (c *cli) printSteps(steps *stewai.RunSteps) error {
	if c.json {
		return c.printJSON(steps.Raw)
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tTITLE\tKIND\tSTATUS")
	for _, st := range steps.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", clean(st.ID), clean(st.Title), clean(st.Kind), clean(string(st.Status)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, st := range steps.Steps {
		if text, ok := outputText(st.Output); ok {
			fmt.Fprintf(c.out, "\n%s:\n%s\n", clean(titleOf(st)), indent(cleanText(text)))
		}
	}
	return nil
}

// printOutputs prints a run's outputs: by title for people,
// {"step_id": primary} for machines.
func (c *cli) printOutputs(steps *stewai.RunSteps) error {
	outputs := steps.Outputs()
	if c.json {
		ids := make([]string, 0, len(outputs))
		for id := range outputs {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var b bytes.Buffer
		b.WriteByte('{')
		for i, id := range ids {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(id)
			b.Write(k)
			b.WriteByte(':')
			b.Write(outputs[id].Primary)
		}
		b.WriteByte('}')
		return c.printJSON(b.Bytes())
	}
	for _, st := range steps.Steps { // in the run's order, by title
		if o, ok := outputs[st.ID]; ok {
			text, _ := outputText(o)
			fmt.Fprintf(c.out, "%s:\n%s\n", clean(titleOf(st)), indent(cleanText(text)))
		}
	}
	return nil
}

// printContract prints a recipe's execution contract, its steps in order.
func (c *cli) printContract(contract *stewai.ExecutionContract) error {
	if c.json {
		return c.printJSON(contract.Raw)
	}
	fmt.Fprintf(c.out, "Contract version %s, %d steps:\n", clean(contract.ContractVersion), len(contract.StepOrder))
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	for i, id := range contract.StepOrder {
		var step struct {
			Title     string   `json:"title"`
			Kind      string   `json:"kind"`
			DependsOn []string `json:"depends_on"`
		}
		_ = json.Unmarshal(contract.Steps[id], &step) // what a step lacks stays empty
		fmt.Fprintf(tw, "  %d.\t%s\t%s\t%s", i+1, clean(id), clean(step.Kind), clean(step.Title))
		if len(step.DependsOn) > 0 {
			fmt.Fprintf(tw, "\tafter %s", clean(strings.Join(step.DependsOn, ", ")))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// table is a list printed as its rows arrive: columns padded to fixed
// widths (ids are 26 characters), so that rows align without waiting for
// the last page.
type table struct {
	widths []int
}

func (c *cli) table(header []string, widths []int) *table {
	t := &table{widths: widths}
	if !c.json {
		c.writeRow(t, header)
	}
	return t
}

// row prints one object of a list: its JSON line, or its row.
func (c *cli) row(t *table, raw json.RawMessage, cells ...string) error {
	if c.json {
		return c.printJSON(raw)
	}
	for i := range cells {
		cells[i] = clean(cells[i])
	}
	return c.writeRow(t, cells)
}

func (c *cli) writeRow(t *table, cells []string) error {
	var b strings.Builder
	for i, cell := range cells {
		if i == len(cells)-1 {
			b.WriteString(cell)
			break
		}
		b.WriteString(cell)
		pad := max(t.widths[i]-utf8.RuneCountInString(cell), 0) + 2
		b.WriteString(strings.Repeat(" ", pad))
	}
	b.WriteByte('\n')
	_, err := c.out.Write([]byte(strings.TrimRight(b.String(), " \n") + "\n"))
	return err
}

// clean makes a one-line string from the server harmless on a terminal:
// control characters (C0, DEL, C1), line and paragraph separators and
// invalid UTF-8 are shown escaped, as \x1b or \u0085, never sent as is.
func clean(s string) string { return sanitize(s, false) }

// cleanText is clean for multi-line text: newlines and tabs stay.
func cleanText(s string) string { return sanitize(s, true) }

func sanitize(s string, text bool) string {
	if !needsEscape(s, text) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case text && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f, r == 0x2028, r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string, text bool) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return true
			}
		}
		if text && (r == '\n' || r == '\t') {
			continue
		}
		if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0x2028 || r == 0x2029 {
			return true
		}
	}
	return false
}

// outputText renders a step output for people: text as it is, anything
// else as its JSON.
func outputText(o stewai.StepOutput) (string, bool) {
	if len(o.Primary) == 0 || o.Type == stewai.OutputNone {
		return "", false
	}
	if text, ok := o.Text(); ok {
		return text, true
	}
	var b bytes.Buffer
	if json.Indent(&b, o.Primary, "", "  ") != nil {
		return string(o.Primary), true
	}
	return b.String(), true
}

// titleOf names a step for people: its title, or its id.
func titleOf(st stewai.Step) string {
	if st.Title != "" {
		return st.Title
	}
	return st.ID
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}

func created(run *stewai.Run) string {
	if run.CreatedAt.IsZero() {
		return "-"
	}
	return run.CreatedAt.Local().Format("2006-01-02 15:04:05")
}

func duration(run *stewai.Run) string {
	return (time.Duration(run.DurationMS) * time.Millisecond).String()
}
