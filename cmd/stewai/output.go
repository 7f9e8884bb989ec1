package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/stewai/stewai-go"
)

// printJSON prints raw JSON from the API on one line.
func (c *cli) printJSON(raw json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return fmt.Errorf("the API's answer is not JSON: %w", err)
	}
	b.WriteByte('\n')
	_, err := c.stdout.Write(b.Bytes())
	return err
}

// printValue prints v as JSON on one line.
func (c *cli) printValue(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.printJSON(b)
}

// printRun prints a run: its JSON, or its fields aligned.
func (c *cli) printRun(run *stewai.Run) error {
	if c.json {
		return c.printJSON(run.Raw)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\nrecipe\t%s\nstatus\t%s\ncreated\t%s\nduration\t%s\n", run.ID, run.RecipeID, run.Status, created(run), duration(run))
	return tw.Flush()
}

// printFile prints a Pantry file.
func (c *cli) printFile(f *stewai.File) error {
	if c.json {
		return c.printValue(f)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "uri\t%s\nfilename\t%s\nsize\t%d bytes\nobj_ulid\t%s\n", f.URI, f.Filename, f.SizeBytes, f.ObjULID)
	return tw.Flush()
}

// printContract prints a recipe's execution contract, its steps in order.
func (c *cli) printContract(contract *stewai.ExecutionContract) error {
	if c.json {
		return c.printJSON(contract.Raw)
	}
	fmt.Fprintf(c.stdout, "Contract version %s, %d steps:\n", contract.ContractVersion, len(contract.StepOrder))
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	for i, id := range contract.StepOrder {
		var step struct {
			Title     string   `json:"title"`
			Kind      string   `json:"kind"`
			DependsOn []string `json:"depends_on"`
		}
		_ = json.Unmarshal(contract.Steps[id], &step) // what a step lacks stays empty
		fmt.Fprintf(tw, "  %d.\t%s\t%s\t%s", i+1, id, step.Kind, step.Title)
		if len(step.DependsOn) > 0 {
			fmt.Fprintf(tw, "\tafter %s", strings.Join(step.DependsOn, ", "))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// display shows a wait live on a terminal: one line on stderr, rewritten
// when the status changes and a few times a second for the elapsed time.
// Off a terminal it shows nothing.
type display struct {
	c     *cli
	start time.Time
	mu    sync.Mutex
	run   *stewai.Run
	done  chan struct{}
	ended chan struct{}
}

const redrawEvery = 200 * time.Millisecond

func (c *cli) startDisplay() *display {
	d := &display{c: c, start: time.Now(), run: c.created}
	if !c.live {
		return d
	}
	d.done, d.ended = make(chan struct{}), make(chan struct{})
	d.draw()
	go func() {
		defer close(d.ended)
		t := time.NewTicker(redrawEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				d.draw()
			case <-d.done:
				return
			}
		}
	}()
	return d
}

// show records a new state of the run and draws it.
func (d *display) show(run *stewai.Run) {
	d.mu.Lock()
	d.run = run
	d.mu.Unlock()
	d.draw()
}

func (d *display) draw() {
	if !d.c.live {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run != nil {
		fmt.Fprintf(d.c.stderr, "\r\x1b[Krun %s: %s (%s)", d.run.ID, d.run.Status, time.Since(d.start).Round(100*time.Millisecond))
	}
}

// stop ends the display, leaving its last line.
func (d *display) stop() {
	if d.done == nil {
		return
	}
	close(d.done)
	<-d.ended
	d.draw()
	fmt.Fprintln(d.c.stderr)
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
