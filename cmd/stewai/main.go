// Command stewai runs StewAI recipes from shells, CI jobs and terminals:
// start a run, wait for it, read its steps and outputs, upload files, list
// runs and recipes.
//
//	go install github.com/stewai/stewai-go/cmd/stewai@latest
//	export STEWAI_API_KEY=sk-live-...
//	stewai run 01JEXAMPLE00000000000000000 -i company_name=Acme --json | jq .status
//
// Exit status: 0 success (the run is done), 1 any other error, 2 bad usage,
// 3 run failed, 4 run cancelled, 5 run blocked, 6 wait timed out, 130
// interrupted. An interrupt or timeout during a wait never cancels the run.
// Run stewai --help for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/stewai/stewai-go"
)

// Exit statuses.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitFailed      = 3
	exitCancelled   = 4
	exitBlocked     = 5
	exitTimeout     = 6
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stderr)))
}

// isTerminal reports whether f is a terminal (a character device), without
// a dependency.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// cli is one invocation: its output streams and global settings.
type cli struct {
	stdout, stderr io.Writer
	live           bool // stderr is a terminal: show waits live
	json           bool
	apiKey         string
	baseURL        string
	created        *stewai.Run    // the run as created, before a wait's first poll
	api            *stewai.Client // made from the flags before a command that needs it runs
}

// usageError is bad usage: exit status 2, with the command's usage.
type usageError struct {
	cmd *command
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd *command, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, live bool) int {
	c := &cli{stdout: stdout, stderr: stderr, live: live}
	global := flag.NewFlagSet("stewai", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	c.globalFlags(global)
	help := global.Bool("help", false, "")
	global.BoolVar(help, "h", false, "")
	if err := global.Parse(args); err != nil {
		return c.fail(usagef(nil, "%v", err))
	}
	rest := global.Args()
	if *help || len(rest) == 0 || rest[0] == "help" {
		if len(rest) > 1 {
			if cmd := lookup(rest[1]); cmd != nil {
				cmd.printUsage(stdout)
				return exitOK
			}
		}
		printUsage(stdout)
		if len(rest) == 0 && !*help {
			return exitUsage
		}
		return exitOK
	}
	cmd := lookup(rest[0])
	if cmd == nil {
		return c.fail(usagef(nil, "unknown command %q", rest[0]))
	}
	return c.fail(c.runCommand(ctx, cmd, rest[1:]))
}

// globalFlags registers the flags every command takes, before or after it.
func (c *cli) globalFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.json, "json", c.json, "print the API's JSON")
	fs.StringVar(&c.apiKey, "api-key", c.apiKey, "API key (default $STEWAI_API_KEY)")
	fs.StringVar(&c.baseURL, "base-url", c.baseURL, "API base URL (default $STEWAI_BASE_URL or "+stewai.DefaultBaseURL+")")
}

// runCommand parses the command's flags, which may come before or after
// its arguments, and runs it.
func (c *cli) runCommand(ctx context.Context, cmd *command, args []string) error {
	fs := flag.NewFlagSet("stewai "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.globalFlags(fs)
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	opts := &options{}
	if cmd.flags != nil {
		cmd.flags(fs, opts)
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return usagef(cmd, "%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if *help {
		cmd.printUsage(c.stdout)
		return nil
	}
	if len(pos) < cmd.minArgs || len(pos) > cmd.maxArgs {
		return usagef(cmd, "%s: wrong number of arguments", cmd.name)
	}
	if !cmd.offline {
		api, err := c.client()
		if err != nil {
			return err
		}
		c.api = api
	}
	return cmd.run(ctx, c, opts, pos)
}

// client makes the SDK client from the flags and the environment.
func (c *cli) client() (*stewai.Client, error) {
	var opts []stewai.Option
	if c.apiKey != "" {
		opts = append(opts, stewai.WithAPIKey(c.apiKey))
	}
	if c.baseURL != "" {
		opts = append(opts, stewai.WithBaseURL(c.baseURL))
	}
	return stewai.NewClient(append(opts, stewai.WithUserAgent("stewai-cli/"+stewai.Version))...)
}

// fail reports err on stderr, in one line, and returns its exit status.
func (c *cli) fail(err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(c.stderr, "stewai: %s\n", ue.msg)
		if ue.cmd != nil {
			fmt.Fprintf(c.stderr, "usage: %s (see stewai %s --help)\n", ue.cmd.usage, ue.cmd.name)
		} else {
			fmt.Fprintln(c.stderr, "see stewai --help")
		}
		return exitUsage
	}
	fmt.Fprintf(c.stderr, "stewai: %s\n", strings.TrimPrefix(oneLine(err.Error()), "stewai: "))
	return exitStatus(err)
}

// exitStatus maps an error to the command's exit status.
func exitStatus(err error) int {
	var interrupted *interruptedError
	switch {
	case errors.As(err, &interrupted):
		return exitInterrupted
	case errors.Is(err, stewai.ErrRunFailed):
		return exitFailed
	case errors.Is(err, stewai.ErrRunCancelled):
		return exitCancelled
	case errors.Is(err, stewai.ErrRunBlocked):
		return exitBlocked
	case errors.Is(err, stewai.ErrWaitTimeout):
		return exitTimeout
	}
	return exitError
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
