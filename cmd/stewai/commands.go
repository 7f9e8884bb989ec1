package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stewai/stewai-go"
)

// command is one of stewai's commands.
type command struct {
	name    string
	usage   string // one line: name, arguments and flags
	summary string
	example string
	minArgs int
	maxArgs int
	flags   func(fs *flag.FlagSet, o *options)
	run     func(ctx context.Context, c *cli, o *options, args []string) error
	offline bool // needs no API client (and no key)
}

// options are the command flags; each command registers the ones it takes.
type options struct {
	inputs       pairs
	ingest       pairs
	noWait       bool
	timeout      time.Duration
	pollInterval time.Duration
	status       string
	limit        int
	folder       string
}

// pairs is a repeatable NAME=VALUE flag.
type pairs []string

func (p *pairs) String() string { return strings.Join(*p, ",") }
func (p *pairs) Set(v string) error {
	if name, _, ok := strings.Cut(v, "="); !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("%q is not NAME=VALUE", v)
	}
	*p = append(*p, v)
	return nil
}

func waitFlags(fs *flag.FlagSet, o *options) {
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long to wait for the run to end (it goes on after)")
	fs.DurationVar(&o.pollInterval, "poll-interval", 500*time.Millisecond, "first delay between polls (grows 1.5x up to 5s)")
}

// commands are stewai's commands, in the order --help lists them. They are
// set in init because their run functions look commands up.
var commands []*command

func init() {
	commands = []*command{
		{name: "run", usage: "stewai run RECIPE_ID [-i NAME=VALUE|NAME=@FILE]... [--ingest STEP=URI|STEP=@PATH]... [--no-wait] [--timeout 5m]",
			summary: "start a run of a recipe and wait for it to end",
			example: "stewai run 01JEXAMPLE00000000000000000 -i company_name=Acme --ingest ingest_step_1=@report.pdf --json | jq .status",
			minArgs: 1, maxArgs: 1, run: runRun,
			flags: func(fs *flag.FlagSet, o *options) {
				fs.Var(&o.inputs, "i", "an input, NAME=VALUE, or NAME=@FILE to read the value from a file (repeatable)")
				fs.Var(&o.ingest, "ingest", "a document for an ingest step: STEP=https://..., STEP=doc://..., or STEP=@PATH to upload a file first (repeatable)")
				fs.BoolVar(&o.noWait, "no-wait", false, "print the queued run and return without waiting")
				waitFlags(fs, o)
			}},
		{name: "get", usage: "stewai get RUN_ID", summary: "print a run", example: "stewai get 01JRUN... --json",
			minArgs: 1, maxArgs: 1, run: runGet},
		{name: "wait", usage: "stewai wait RUN_ID [--timeout 5m]", summary: "wait for a run to end",
			example: "stewai wait 01JRUN... --timeout 30m || echo \"exit $?\"", minArgs: 1, maxArgs: 1, run: runWait, flags: waitFlags},
		{name: "steps", usage: "stewai steps RUN_ID", summary: "print a run's steps and their outputs",
			example: "stewai steps 01JRUN...", minArgs: 1, maxArgs: 1, run: runSteps},
		{name: "outputs", usage: "stewai outputs RUN_ID", summary: "print a run's outputs by step",
			example: "stewai outputs 01JRUN... --json | jq -r .step_1", minArgs: 1, maxArgs: 1, run: runOutputs},
		{name: "list", usage: "stewai list [--status S] [--limit N]", summary: "list runs, newest first",
			example: "stewai list --status failed --limit 50 --json | jq -r .id", run: runList,
			flags: func(fs *flag.FlagSet, o *options) {
				fs.StringVar(&o.status, "status", "", "only runs in this status (queued, running, done, failed, cancelled, blocked)")
				fs.IntVar(&o.limit, "limit", 20, "at most this many runs")
			}},
		{name: "upload", usage: "stewai upload FILE [--folder ULID]", summary: "upload a file to the Pantry",
			example: "stewai upload reports/q4.pdf --json | jq -r .uri", minArgs: 1, maxArgs: 1, run: runUpload,
			flags: func(fs *flag.FlagSet, o *options) {
				fs.StringVar(&o.folder, "folder", "", "the Pantry folder's ULID")
			}},
		{name: "resolve", usage: "stewai resolve PATH", summary: "find a Pantry file by path",
			example: "stewai resolve Reports/Q4.pdf", minArgs: 1, maxArgs: 1, run: runResolve},
		{name: "recipes", usage: "stewai recipes [list] | stewai recipes contract RECIPE_ID", summary: "list your recipes, or print one's execution contract",
			example: "stewai recipes contract 01JEXAMPLE00000000000000000", maxArgs: 2, run: runRecipes},
		{name: "version", usage: "stewai version", summary: "print the version", example: "stewai version", run: runVersion, offline: true},
	}
}

func lookup(name string) *command {
	for _, cmd := range commands {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `stewai runs StewAI recipes from shells, CI jobs and terminals.

Usage: stewai [--api-key K] [--base-url U] [--json] COMMAND [flags] [args]

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, cmd := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", cmd.name, cmd.summary)
	}
	tw.Flush()
	fmt.Fprint(w, `
The key and base URL come from --api-key and --base-url, or STEWAI_API_KEY
and STEWAI_BASE_URL. Flags may come before or after the arguments. --json
prints the API's own JSON on stdout (one object per line for lists).

Exit status: 0 success (the run is done), 1 any other error, 2 bad usage,
3 run failed, 4 run cancelled, 5 run blocked, 6 wait timed out,
130 interrupted. A timeout or an interrupt never cancels the run.

Run stewai COMMAND --help for a command's flags and an example.
`)
}

func (cmd *command) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s.\n\nExample:\n  %s\n", cmd.usage, capitalize(cmd.summary), cmd.example)
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	(&cli{}).globalFlags(fs)
	if cmd.flags != nil {
		cmd.flags(fs, &options{})
	}
	fs.SetOutput(w)
	fmt.Fprintln(w, "\nFlags:")
	fs.PrintDefaults()
}

func capitalize(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func runRun(ctx context.Context, c *cli, o *options, args []string) error {
	params := stewai.CreateRunParams{RecipeID: args[0], Inputs: map[string]string{}}
	for _, kv := range o.inputs {
		name, value, _ := strings.Cut(kv, "=")
		if path, ok := strings.CutPrefix(value, "@"); ok {
			b, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("input %s: %w", name, err)
			}
			value = string(b)
		}
		params.Inputs[name] = value
	}
	ingest, err := c.ingestSources(ctx, o.ingest)
	if err != nil {
		return err
	}
	params.Ingest = ingest
	run, err := c.api.Runs.Create(ctx, params, stewai.NoWait())
	if err != nil {
		return err
	}
	if o.noWait {
		return c.printRun(run)
	}
	c.created = run // what the create answer said, shown until the first poll
	return c.wait(ctx, run.ID, o)
}

// ingestSources turns --ingest STEP=URI flags into sources, uploading
// STEP=@PATH files first.
func (c *cli) ingestSources(ctx context.Context, flags pairs) (map[string][]stewai.IngestSource, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	ingest := map[string][]stewai.IngestSource{}
	for _, kv := range flags {
		step, uri, _ := strings.Cut(kv, "=")
		var src stewai.IngestSource
		switch {
		case strings.HasPrefix(uri, "@"):
			file, err := c.api.Storage.UploadFile(ctx, uri[1:])
			if err != nil {
				return nil, err
			}
			src = file.IngestSource(filepath.Base(uri[1:]))
		case strings.HasPrefix(uri, "http://"), strings.HasPrefix(uri, "https://"):
			src = stewai.URLSource(uri)
		case strings.HasPrefix(uri, "doc://"):
			src = stewai.FileSource(uri, "")
		default:
			return nil, usagef(lookup("run"), "--ingest %s: the source must be an http(s):// URL, a doc:// URI or @PATH", kv)
		}
		ingest[step] = append(ingest[step], src)
	}
	return ingest, nil
}

func runGet(ctx context.Context, c *cli, _ *options, args []string) error {
	run, err := c.api.Runs.Get(ctx, args[0])
	if err != nil {
		return err
	}
	return c.printRun(run)
}

func runWait(ctx context.Context, c *cli, o *options, args []string) error {
	return c.wait(ctx, args[0], o)
}

// interruptedError is a wait the user interrupted: the run goes on.
type interruptedError struct{ runID string }

func (e *interruptedError) Error() string {
	return fmt.Sprintf("interrupted; run %s goes on: resume with: stewai wait %s", e.runID, e.runID)
}

// wait follows the run until it ends, live on a terminal, and prints it.
func (c *cli) wait(ctx context.Context, runID string, o *options) error {
	display := c.startDisplay()
	var last *stewai.Run
	var err error
	for run, werr := range c.api.Runs.Watch(ctx, runID, stewai.WithTimeout(o.timeout), stewai.WithPollInterval(o.pollInterval)) {
		if run != nil && run.Raw != nil { // a run the server described, not only its id
			last = run
			display.show(run)
		}
		err = werr
	}
	display.stop()
	switch {
	case ctx.Err() != nil:
		return &interruptedError{runID: runID}
	case errors.Is(err, stewai.ErrWaitTimeout):
		return fmt.Errorf("%w; resume with: stewai wait %s", err, runID)
	}
	if last != nil && last.Status.IsTerminal() {
		if perr := c.printRun(last); perr != nil {
			return perr
		}
	}
	return err
}

func runSteps(ctx context.Context, c *cli, _ *options, args []string) error {
	steps, err := c.api.Runs.Steps(ctx, args[0])
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(steps.Raw)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tTITLE\tKIND\tSTATUS")
	for _, st := range steps.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", st.ID, st.Title, st.Kind, st.Status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, st := range steps.Steps {
		if text, ok := outputText(st.Output); ok {
			fmt.Fprintf(c.stdout, "\n%s:\n%s\n", titleOf(st), indent(text))
		}
	}
	return nil
}

func runOutputs(ctx context.Context, c *cli, _ *options, args []string) error {
	steps, err := c.api.Runs.Steps(ctx, args[0])
	if err != nil {
		return err
	}
	outputs := steps.Outputs()
	if c.json {
		primary := make(map[string]any, len(outputs))
		for id, o := range outputs {
			primary[id] = o.Primary
		}
		return c.printValue(primary)
	}
	for _, st := range steps.Steps { // in the run's order, by title
		if o, ok := outputs[st.ID]; ok {
			text, _ := outputText(o)
			fmt.Fprintf(c.stdout, "%s:\n%s\n", titleOf(st), indent(text))
		}
	}
	return nil
}

func runList(ctx context.Context, c *cli, o *options, _ []string) error {
	if o.limit <= 0 {
		return usagef(lookup("list"), "--limit must be positive")
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	if !c.json {
		fmt.Fprintln(tw, "ID\tRECIPE\tSTATUS\tCREATED\tDURATION")
	}
	n := 0
	for run, err := range c.api.Runs.All(ctx, stewai.ListRunsParams{Status: stewai.Status(o.status), PageSize: min(o.limit, 100)}) {
		if err != nil {
			return err
		}
		if c.json {
			if err := c.printJSON(run.Raw); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", run.ID, run.RecipeID, run.Status, created(run), duration(run))
		}
		if n++; n == o.limit {
			break
		}
	}
	return tw.Flush()
}

func runUpload(ctx context.Context, c *cli, o *options, args []string) error {
	var opts []stewai.UploadOption
	if o.folder != "" {
		opts = append(opts, stewai.InFolder(o.folder))
	}
	file, err := c.api.Storage.UploadFile(ctx, args[0], opts...)
	if err != nil {
		return err
	}
	return c.printFile(file)
}

func runResolve(ctx context.Context, c *cli, _ *options, args []string) error {
	file, err := c.api.Storage.ResolvePath(ctx, args[0])
	if err != nil {
		return err
	}
	return c.printFile(file)
}

func runRecipes(ctx context.Context, c *cli, _ *options, args []string) error {
	sub := "list"
	if len(args) > 0 {
		sub = args[0]
	}
	switch {
	case sub == "list" && len(args) <= 1:
		return c.listRecipes(ctx)
	case sub == "contract" && len(args) == 2:
		contract, err := c.api.Recipes.ExecutionContract(ctx, args[1])
		if err != nil {
			return err
		}
		return c.printContract(contract)
	}
	return usagef(lookup("recipes"), "recipes: want list, or contract RECIPE_ID")
}

func (c *cli) listRecipes(ctx context.Context) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	if !c.json {
		fmt.Fprintln(tw, "ID\tNAME")
	}
	for r, err := range c.api.Recipes.All(ctx, stewai.ListRecipesParams{}) {
		if err != nil {
			return err
		}
		if c.json {
			if err := c.printJSON(r.Raw); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\n", r.ID, r.Name)
	}
	return tw.Flush()
}

func runVersion(_ context.Context, c *cli, _ *options, _ []string) error {
	if c.json {
		return c.printValue(map[string]string{"version": stewai.Version})
	}
	_, err := fmt.Fprintf(c.stdout, "stewai %s (stewai-go %s)\n", stewai.Version, stewai.Version)
	return err
}
