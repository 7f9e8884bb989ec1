package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/itchyny/gojq"
	"github.com/oklog/ulid/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stewai/stewai-go"
)

// options are the command flags; each command registers the ones it takes.
type options struct {
	inputs       []string
	inputFiles   []string
	ingest       []string
	ingestFiles  []string
	noWait       bool
	timeout      time.Duration
	pollInterval time.Duration
	status       string
	limit        int
	folder       string
}

// maxInputFileBytes bounds what --input-file reads: a value, not a stream.
const maxInputFileBytes = 8 << 20

const rootLong = `stewai runs StewAI recipes from shells, CI jobs and terminals.

The key and base URL come from --api-key and --base-url, or STEWAI_API_KEY
and STEWAI_BASE_URL. Flags may come before or after the arguments.
--json prints the API's own JSON on stdout (one object per line for lists);
--jq EXPR filters it (jq syntax). --debug (or STEWAI_DEBUG=1) logs each
request on stderr.

Exit status: 0 success (the run is done), 1 any other error, 2 bad usage or
a bad value, 3 run failed, 4 run cancelled, 5 run blocked, 6 wait timed out,
130 interrupted, 143 terminated. A timeout, an interrupt or a termination
never cancels the run: its id and "stewai wait RUN_ID" are printed on
stderr, and with --json its last state on stdout.`

// rootCommand builds the command tree for this invocation.
func (c *cli) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "stewai",
		Short:         "Run StewAI recipes from shells, CI jobs and terminals",
		Long:          rootLong,
		Version:       stewai.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_ = cmd.Usage()
			return usagef(nil, "a command is required")
		},
	}
	root.SetVersionTemplate(versionLine())
	pf := root.PersistentFlags()
	pf.StringVar(&c.apiKey, "api-key", "", "API key (default $STEWAI_API_KEY)")
	pf.StringVar(&c.baseURL, "base-url", "", "API base URL (default $STEWAI_BASE_URL or "+stewai.DefaultBaseURL+")")
	pf.BoolVar(&c.json, "json", false, "print the API's JSON on stdout")
	pf.StringVar(&c.jq, "jq", "", "filter the JSON with a jq expression (implies --json)")
	pf.BoolVarP(&c.quiet, "quiet", "q", false, "no progress on stderr (live line or log lines)")
	pf.BoolVar(&c.debug, "debug", false, "log each request on stderr (also STEWAI_DEBUG=1)")
	pf.DurationVar(&c.requestTimeout, "request-timeout", stewai.DefaultRequestTimeout, "bound on each attempt of a request")
	pf.BoolVar(&c.insecureHTTP, "insecure-http", false, "allow a plain http:// base URL to a host that is not loopback")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{cmd: cmd, msg: err.Error()}
	})
	root.SetHelpCommand(c.helpCommand(root))
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		return c.prepare(cmd)
	}
	o := &options{}
	root.AddCommand(
		c.runCommand(o), c.getCommand(), c.waitCommand(o), c.stepsCommand(), c.outputsCommand(),
		c.listCommand(o), c.uploadCommand(o), c.resolveCommand(), c.recipesCommand(o),
		c.marketplaceCommand(o), c.versionCommand(), c.completionCommand(root),
	)
	return root
}

// prepare checks the global flags before any command runs.
func (c *cli) prepare(cmd *cobra.Command) error {
	if !c.debug {
		switch strings.ToLower(c.getenv("STEWAI_DEBUG")) {
		case "", "0", "false", "no":
		default:
			c.debug = true
		}
	}
	if c.jq != "" {
		q, err := gojq.Parse(c.jq)
		if err != nil {
			return usagef(cmd, "--jq %q: %v", c.jq, err)
		}
		code, err := gojq.Compile(q)
		if err != nil {
			return usagef(cmd, "--jq %q: %v", c.jq, err)
		}
		c.jqCode, c.json = code, true
	}
	return nil
}

// action wraps a command's code: from there on its errors are its own, not
// usage errors; the client is made first when the command needs one.
func (c *cli) action(online bool, check func(cmd *cobra.Command, args []string) error, run func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if check != nil {
			if err := check(cmd, args); err != nil {
				return err
			}
		}
		c.ran = true
		if online {
			if err := c.connect(cmd); err != nil {
				return err
			}
		}
		return run(cmd.Context(), args)
	}
}

// exactArgs wants n arguments, none of them empty.
func exactArgs(n int, names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef(cmd, "%s: want %s, got %d arguments", cmd.Name(), strings.Join(names, " "), len(args))
		}
		for i, a := range args {
			if strings.TrimSpace(a) == "" {
				return usagef(cmd, "%s: %s is empty", cmd.Name(), names[i])
			}
		}
		return nil
	}
}

// helpCommand is "stewai help [COMMAND...]"; an unknown topic is exit 2.
func (c *cli) helpCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]",
		Short: "Help about any command",
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || target == nil || len(rest) > 0 {
				return usagef(nil, "unknown help topic %q", strings.Join(args, " "))
			}
			target.SetOut(c.out)
			return target.Help()
		},
	}
}

func waitFlags(fs *pflag.FlagSet, o *options) {
	fs.DurationVarP(&o.timeout, "timeout", "t", stewai.DefaultWaitTimeout, "how long to wait for the run to end (it goes on after)")
	fs.DurationVar(&o.pollInterval, "poll-interval", stewai.DefaultPollInterval,
		fmt.Sprintf("first delay between polls (grows 1.5x up to %s)", stewai.DefaultMaxPollInterval))
}

func inputFlags(fs *pflag.FlagSet, o *options) {
	fs.StringArrayVarP(&o.inputs, "input", "i", nil, "an input NAME=VALUE, the value as it is (repeatable)")
	fs.StringArrayVar(&o.inputFiles, "input-file", nil, "an input NAME=PATH read from a file, - for stdin (repeatable)")
}

// checkWait checks the wait flags.
func checkWait(cmd *cobra.Command, o *options) error {
	if o.timeout <= 0 {
		return usagef(cmd, "--timeout %s: must be positive", o.timeout)
	}
	if o.pollInterval <= 0 {
		return usagef(cmd, "--poll-interval %s: must be positive", o.pollInterval)
	}
	return nil
}

func (o *options) waitOptions(onStatus func(*stewai.Run)) []stewai.WaitOption {
	return []stewai.WaitOption{
		stewai.WithTimeout(o.timeout), stewai.WithPollInterval(o.pollInterval),
		stewai.WithMaxPollInterval(max(o.pollInterval, stewai.DefaultMaxPollInterval)),
		stewai.OnStatusChange(onStatus),
	}
}

// pair splits NAME=VALUE, with a non-empty name.
func pair(cmd *cobra.Command, flag, kv string) (string, string, error) {
	name, value, ok := strings.Cut(kv, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return "", "", usagef(cmd, "%s %q: want NAME=VALUE", flag, kv)
	}
	return name, value, nil
}

// inputs reads the -i and --input-file flags, before anything is sent.
func (c *cli) inputs(cmd *cobra.Command, o *options) (map[string]string, error) {
	inputs := map[string]string{}
	for _, kv := range o.inputs {
		name, value, err := pair(cmd, "-i", kv)
		if err != nil {
			return nil, err
		}
		inputs[name] = value
	}
	for _, kv := range o.inputFiles {
		name, path, err := pair(cmd, "--input-file", kv)
		if err != nil {
			return nil, err
		}
		value, err := c.readInput(cmd.Context(), path)
		if err != nil {
			return nil, fmt.Errorf("--input-file %s: %w", name, err)
		}
		inputs[name] = value
	}
	return inputs, nil
}

// readInput reads one input's value from a file or stdin, at most
// maxInputFileBytes. A signal ends it at once: a read of a terminal or a
// pipe cannot be cancelled, so it is left to finish in the background.
func (c *cli) readInput(ctx context.Context, path string) (string, error) {
	type result struct {
		value string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		v, err := c.readInputNow(path)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.value, r.err
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

func (c *cli) readInputNow(path string) (string, error) {
	var r io.Reader
	if path == "-" {
		r = c.in
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInputFileBytes+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxInputFileBytes {
		return "", fmt.Errorf("%s is larger than %d MiB", path, maxInputFileBytes>>20)
	}
	return string(b), nil
}

// ingestPlan is the --ingest and --ingest-file flags, checked.
type ingestPlan struct {
	sources map[string][]stewai.IngestSource
	files   [][2]string // step, path: uploaded before the create
}

func checkIngest(cmd *cobra.Command, o *options) (*ingestPlan, error) {
	plan := &ingestPlan{sources: map[string][]stewai.IngestSource{}}
	for _, kv := range o.ingest {
		step, uri, err := pair(cmd, "--ingest", kv)
		if err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(uri, "http://"), strings.HasPrefix(uri, "https://"):
			plan.sources[step] = append(plan.sources[step], stewai.URLSource(uri))
		case strings.HasPrefix(uri, "doc://"):
			plan.sources[step] = append(plan.sources[step], stewai.FileSource(uri, ""))
		default:
			return nil, usagef(cmd, "--ingest %s: the source must be an http(s):// URL or a doc:// URI (--ingest-file uploads a file)", kv)
		}
	}
	for _, kv := range o.ingestFiles {
		step, path, err := pair(cmd, "--ingest-file", kv)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return nil, usagef(cmd, "--ingest-file %s: %v", step, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, usagef(cmd, "--ingest-file %s: %s is not a regular file", step, path)
		}
		plan.files = append(plan.files, [2]string{step, path})
	}
	return plan, nil
}

// upload uploads the plan's files and returns every source by step.
func (c *cli) upload(ctx context.Context, plan *ingestPlan) (map[string][]stewai.IngestSource, error) {
	for _, f := range plan.files {
		file, err := c.api.Storage.UploadFile(ctx, f[1])
		if err != nil {
			return nil, fmt.Errorf("--ingest-file %s: %w", f[0], err)
		}
		c.logf("uploaded %s as %s", f[1], file.URI)
		plan.sources[f[0]] = append(plan.sources[f[0]], file.IngestSource(filepath.Base(f[1])))
	}
	if len(plan.sources) == 0 {
		return nil, nil
	}
	return plan.sources, nil
}

func (c *cli) runCommand(o *options) *cobra.Command {
	var inputs map[string]string
	var plan *ingestPlan
	cmd := &cobra.Command{
		Use:   "run RECIPE_ID [-i NAME=VALUE]... [--input-file NAME=PATH]... [--ingest STEP=URI]... [--ingest-file STEP=PATH]...",
		Short: "Start a run of a recipe and wait for it to end",
		Example: `  stewai run 01JEXAMPLE00000000000000000 -i company_name=Acme --ingest-file ingest_step_1=report.pdf
  run=$(stewai run 01JEXAMPLE00000000000000000 --timeout 20m --jq .id)`,
		Args: exactArgs(1, "RECIPE_ID"),
	}
	fs := cmd.Flags()
	inputFlags(fs, o)
	fs.StringArrayVar(&o.ingest, "ingest", nil, "a document for an ingest step, STEP=https://... or STEP=doc://... (repeatable)")
	fs.StringArrayVar(&o.ingestFiles, "ingest-file", nil, "a file to upload and ingest, STEP=PATH (repeatable)")
	fs.BoolVar(&o.noWait, "no-wait", false, "print the queued run and return without waiting")
	waitFlags(fs, o)
	cmd.RunE = c.action(true, func(cmd *cobra.Command, args []string) (err error) {
		if err := checkWait(cmd, o); err != nil {
			return err
		}
		if plan, err = checkIngest(cmd, o); err != nil {
			return err
		}
		inputs, err = c.inputs(cmd, o)
		return err
	}, func(ctx context.Context, args []string) error {
		ingest, err := c.upload(ctx, plan)
		if err != nil {
			return err
		}
		return c.create(ctx, o, func(opts ...stewai.WaitOption) (*stewai.Run, error) {
			return c.api.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: args[0], Inputs: inputs, Ingest: ingest}, opts...)
		})
	})
	return cmd
}

// create starts a run with start, and waits for it unless --no-wait: the
// create's own answer is the wait's first state, so no poll is lost.
func (c *cli) create(ctx context.Context, o *options, start func(...stewai.WaitOption) (*stewai.Run, error)) error {
	if o.noWait {
		run, err := start(stewai.NoWait())
		c.setRun(run)
		if err != nil {
			return err
		}
		return c.printRun(run)
	}
	d := c.startDisplay(ctx)
	run, err := start(o.waitOptions(d.status)...)
	d.stop(run, err)
	return c.waited(run, err)
}

// waited prints a wait's run and returns its error.
func (c *cli) waited(run *stewai.Run, err error) error {
	c.setRun(run)
	if run != nil && run.Status.IsTerminal() {
		if perr := c.printRun(run); perr != nil {
			return perr
		}
	}
	var te *stewai.TimeoutError
	if errors.As(err, &te) {
		if te.Err != nil && c.obs != nil && c.obs.cutShort(te.Err) {
			plain := *te
			plain.Err = nil
			err = &plain
		}
		return fmt.Errorf("%w; resume with: stewai wait %s", err, te.RunID)
	}
	return err
}

func (c *cli) waitCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "wait RUN_ID [--timeout 5m]",
		Short:   "Wait for a run to end",
		Example: `  stewai wait 01JRUN... --timeout 30m || echo "exit $?"`,
		Args:    exactArgs(1, "RUN_ID"),
	}
	waitFlags(cmd.Flags(), o)
	cmd.RunE = c.action(true, func(cmd *cobra.Command, _ []string) error { return checkWait(cmd, o) },
		func(ctx context.Context, args []string) error {
			c.follow(args[0])
			d := c.startDisplay(ctx)
			run, err := c.api.Runs.Wait(ctx, args[0], o.waitOptions(d.status)...)
			d.stop(run, err)
			if errors.Is(err, stewai.ErrInvalidParams) {
				return usagef(nil, "%s", message(err))
			}
			return c.waited(run, err)
		})
	return cmd
}

func (c *cli) getCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "get RUN_ID", Short: "Print a run", Example: "  stewai get 01JRUN... --jq .status",
		Args: exactArgs(1, "RUN_ID")}
	cmd.RunE = c.action(true, nil, func(ctx context.Context, args []string) error {
		run, err := c.api.Runs.Get(ctx, args[0])
		if err != nil {
			return err
		}
		return c.printRun(run)
	})
	return cmd
}

func (c *cli) stepsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "steps RUN_ID", Short: "Print a run's steps and their outputs", Example: "  stewai steps 01JRUN...",
		Args: exactArgs(1, "RUN_ID")}
	cmd.RunE = c.action(true, nil, func(ctx context.Context, args []string) error {
		steps, err := c.api.Runs.Steps(ctx, args[0])
		if err != nil {
			return err
		}
		return c.printSteps(steps)
	})
	return cmd
}

func (c *cli) outputsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "outputs RUN_ID", Short: "Print a run's outputs by step",
		Example: "  stewai outputs 01JRUN... --jq .step_1", Args: exactArgs(1, "RUN_ID")}
	cmd.RunE = c.action(true, nil, func(ctx context.Context, args []string) error {
		steps, err := c.api.Runs.Steps(ctx, args[0])
		if err != nil {
			return err
		}
		return c.printOutputs(steps)
	})
	return cmd
}

// statuses are the six documented statuses, which --status accepts.
var statuses = []stewai.Status{stewai.StatusQueued, stewai.StatusRunning, stewai.StatusDone,
	stewai.StatusFailed, stewai.StatusCancelled, stewai.StatusBlocked}

func limitFlag(fs *pflag.FlagSet, o *options, what string) {
	fs.IntVarP(&o.limit, "limit", "L", 20, "at most this many "+what)
}

func checkLimit(cmd *cobra.Command, o *options) error {
	if o.limit < 1 {
		return usagef(cmd, "--limit %d: must be at least 1", o.limit)
	}
	return nil
}

func (c *cli) listCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "list [--status S] [--limit N]", Short: "List runs, newest first",
		Example: "  stewai list --status failed --limit 50 --jq .id", Args: exactArgs(0)}
	limitFlag(cmd.Flags(), o, "runs")
	cmd.Flags().StringVarP(&o.status, "status", "s", "", "only runs in this status (queued, running, done, failed, cancelled, blocked)")
	cmd.RunE = c.action(true, func(cmd *cobra.Command, _ []string) error {
		if err := checkLimit(cmd, o); err != nil {
			return err
		}
		if o.status != "" && !known(stewai.Status(o.status)) {
			return usagef(cmd, "--status %q: want one of queued, running, done, failed, cancelled, blocked", o.status)
		}
		return nil
	}, func(ctx context.Context, _ []string) error {
		t := c.table([]string{"ID", "RECIPE", "STATUS", "CREATED", "DURATION"}, []int{26, 26, 9, 19, 0})
		n := 0
		for run, err := range c.api.Runs.All(ctx, stewai.ListRunsParams{Status: stewai.Status(o.status), PageSize: min(o.limit, 100)}) {
			if err != nil {
				return err
			}
			if err := c.row(t, run.Raw, run.ID, run.RecipeID, string(run.Status), created(run), duration(run)); err != nil {
				return err
			}
			if n++; n == o.limit {
				break
			}
		}
		return nil
	})
	return cmd
}

func known(s stewai.Status) bool {
	for _, k := range statuses {
		if s == k {
			return true
		}
	}
	return false
}

func (c *cli) uploadCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "upload FILE [--folder ULID]", Short: "Upload a file to the Pantry",
		Example: "  stewai upload reports/q4.pdf --jq .uri", Args: exactArgs(1, "FILE")}
	cmd.Flags().StringVarP(&o.folder, "folder", "f", "", "the Pantry folder's ULID")
	cmd.RunE = c.action(true, func(cmd *cobra.Command, args []string) error {
		if o.folder != "" {
			if _, err := ulid.ParseStrict(o.folder); err != nil {
				return usagef(cmd, "--folder %q: not a folder id (a ULID such as 01HZX3K7Q9V5M2N8P4R6T0W1YB)", o.folder)
			}
		}
		// A file that cannot be read is a bad argument, found before any
		// request, as --ingest-file's is.
		if fi, err := os.Stat(args[0]); err != nil {
			return usagef(cmd, "upload %v", err)
		} else if !fi.Mode().IsRegular() {
			return usagef(cmd, "upload %s: not a regular file", args[0])
		}
		return nil
	}, func(ctx context.Context, args []string) error {
		var opts []stewai.UploadOption
		if o.folder != "" {
			opts = append(opts, stewai.InFolder(o.folder))
		}
		file, err := c.api.Storage.UploadFile(ctx, args[0], opts...)
		if err != nil {
			return err
		}
		return c.printFile(file)
	})
	return cmd
}

func (c *cli) resolveCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "resolve PATH", Short: "Find a Pantry file by path",
		Example: "  stewai resolve Reports/Q4.pdf", Args: exactArgs(1, "PATH")}
	cmd.RunE = c.action(true, nil, func(ctx context.Context, args []string) error {
		file, err := c.api.Storage.ResolvePath(ctx, args[0])
		if err != nil {
			return err
		}
		return c.printFile(file)
	})
	return cmd
}

func (c *cli) recipesCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "recipes [list] | recipes get ID | recipes contract ID", Short: "List your recipes, print one, or its execution contract",
		Example: "  stewai recipes\n  stewai recipes contract 01JEXAMPLE00000000000000000"}
	list := &cobra.Command{Use: "list [--limit N]", Short: "List your recipes", Args: exactArgs(0)}
	for _, cc := range []*cobra.Command{cmd, list} {
		limitFlag(cc.Flags(), o, "recipes")
		cc.RunE = c.action(true, func(cc *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef(cc, "unknown recipes command %q: want list, get or contract", args[0])
			}
			return checkLimit(cc, o)
		}, func(ctx context.Context, _ []string) error {
			t := c.table([]string{"ID", "NAME"}, []int{26, 0})
			n := 0
			for r, err := range c.api.Recipes.All(ctx, stewai.ListRecipesParams{PageSize: min(o.limit, 100)}) {
				if err != nil {
					return err
				}
				if err := c.row(t, r.Raw, r.ID, r.Name); err != nil {
					return err
				}
				if n++; n == o.limit {
					break
				}
			}
			return nil
		})
	}
	get := &cobra.Command{Use: "get RECIPE_ID", Short: "Print one of your recipes", Args: exactArgs(1, "RECIPE_ID")}
	get.RunE = c.action(true, nil, func(ctx context.Context, args []string) error {
		r, err := c.api.Recipes.Get(ctx, args[0])
		if err != nil {
			return err
		}
		return c.printObject(r.Raw, [][2]string{{"id", r.ID}, {"name", r.Name}})
	})
	contract := &cobra.Command{Use: "contract RECIPE_ID", Short: "Print a recipe's execution contract (your own recipes only)",
		Args: exactArgs(1, "RECIPE_ID")}
	contract.RunE = c.action(true, nil, func(ctx context.Context, args []string) error {
		ct, err := c.api.Recipes.ExecutionContract(ctx, args[0])
		if err != nil {
			return err
		}
		return c.printContract(ct)
	})
	cmd.AddCommand(list, get, contract)
	return cmd
}

func (c *cli) marketplaceCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "marketplace search|show|run", Short: "Search, show and run marketplace recipes",
		Example: "  stewai marketplace search invoice\n  stewai marketplace run 01JMARKET... -i company=Acme",
		Args:    cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef(cmd, "marketplace: want search, show or run")
		}}
	var visibility string
	search := &cobra.Command{Use: "search [QUERY] [--limit N]", Short: "Search the marketplace", Args: cobra.MaximumNArgs(1)}
	limitFlag(search.Flags(), o, "recipes")
	search.Flags().StringVar(&visibility, "visibility", "", "only recipes of this visibility, such as public_open")
	search.RunE = c.action(true, func(cmd *cobra.Command, _ []string) error { return checkLimit(cmd, o) },
		func(ctx context.Context, args []string) error {
			p := stewai.MarketplaceSearchParams{Visibility: visibility, PageSize: min(o.limit, 100)}
			if len(args) > 0 {
				p.Query = args[0]
			}
			t := c.table([]string{"ULID", "NAME"}, []int{26, 0})
			n := 0
			for r, err := range c.searchAll(ctx, p) {
				if err != nil {
					return err
				}
				if err := c.row(t, r.Raw, r.RecipeULID, r.Name); err != nil {
					return err
				}
				if n++; n == o.limit {
					break
				}
			}
			return nil
		})
	show := &cobra.Command{Use: "show RECIPE_ULID", Short: "Print a marketplace recipe", Args: exactArgs(1, "RECIPE_ULID")}
	show.RunE = c.action(true, nil, func(ctx context.Context, args []string) error {
		r, err := c.api.Marketplace.Detail(ctx, args[0])
		if err != nil {
			return err
		}
		return c.printObject(r.Raw, [][2]string{{"ulid", r.RecipeULID}, {"name", r.Name}})
	})
	var inputs map[string]string
	run := &cobra.Command{Use: "run RECIPE_ULID [-i NAME=VALUE]... [--input-file NAME=PATH]...", Short: "Run a marketplace recipe and wait for it to end",
		Args: exactArgs(1, "RECIPE_ULID")}
	inputFlags(run.Flags(), o)
	run.Flags().BoolVar(&o.noWait, "no-wait", false, "print the queued run and return without waiting")
	waitFlags(run.Flags(), o)
	run.RunE = c.action(true, func(cmd *cobra.Command, _ []string) (err error) {
		if err := checkWait(cmd, o); err != nil {
			return err
		}
		inputs, err = c.inputs(cmd, o)
		return err
	}, func(ctx context.Context, args []string) error {
		return c.create(ctx, o, func(opts ...stewai.WaitOption) (*stewai.Run, error) {
			return c.api.Marketplace.Run(ctx, args[0], inputs, opts...)
		})
	})
	cmd.AddCommand(search, show, run)
	return cmd
}

// searchAll pages through a marketplace search, a page at a time as the
// loop gets there.
func (c *cli) searchAll(ctx context.Context, p stewai.MarketplaceSearchParams) func(func(*stewai.MarketplaceRecipe, error) bool) {
	return func(yield func(*stewai.MarketplaceRecipe, error) bool) {
		p.Page = 1
		for seen := 0; ; p.Page++ {
			page, err := c.api.Marketplace.Search(ctx, p)
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range page.Results {
				if !yield(&page.Results[i], nil) {
					return
				}
			}
			seen += len(page.Results)
			if page.Next == "" || len(page.Results) == 0 || page.Count > 0 && seen >= page.Count {
				return
			}
		}
	}
}

func (c *cli) versionCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "version", Short: "Print the version", Args: exactArgs(0)}
	cmd.RunE = c.action(false, nil, func(context.Context, []string) error {
		if c.json {
			return c.printValue(map[string]string{"version": stewai.Version, "go": runtime.Version()})
		}
		_, err := fmt.Fprint(c.out, versionLine())
		return err
	})
	return cmd
}

// completionCommand prints a shell's completion script.
func (c *cli) completionCommand(root *cobra.Command) *cobra.Command {
	shells := map[string]func() error{
		"bash":       func() error { return root.GenBashCompletionV2(c.out, true) },
		"zsh":        func() error { return root.GenZshCompletion(c.out) },
		"fish":       func() error { return root.GenFishCompletion(c.out, true) },
		"powershell": func() error { return root.GenPowerShellCompletionWithDesc(c.out) },
	}
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell's completion script",
		Example: `  source <(stewai completion bash)
  stewai completion zsh > "${fpath[1]}/_stewai"
  stewai completion fish > ~/.config/fish/completions/stewai.fish
  stewai completion powershell | Out-String | Invoke-Expression`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || shells[args[0]] == nil {
				return usagef(cmd, "completion: want one of bash, zsh, fish, powershell")
			}
			return nil
		},
	}
	cmd.RunE = c.action(false, nil, func(_ context.Context, args []string) error { return shells[args[0]]() })
	return cmd
}

func versionLine() string {
	return fmt.Sprintf("stewai %s (%s %s/%s)\n", stewai.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
