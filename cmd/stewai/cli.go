package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/itchyny/gojq"
	"github.com/spf13/cobra"
	"github.com/stewai/stewai-go"
)

// cli is one invocation: its streams, its global flags and what it has
// learnt so far (the run it follows).
type cli struct {
	streams

	// Global flags.
	apiKey         string
	baseURL        string
	json           bool
	jq             string
	quiet          bool
	debug          bool
	requestTimeout time.Duration
	insecureHTTP   bool

	jqCode  *gojq.Code
	api     *stewai.Client
	obs     *observer
	ran     bool      // a command's own code started: its errors are not usage errors
	started time.Time // when the command started

	mu       sync.Mutex
	run      *stewai.Run // the last state seen of the run the command follows
	runID    string      // its id, known before any state when waiting
	reported bool        // the end was reported (by main or by abandon)
}

func newCLI(s streams) *cli {
	if s.width == nil {
		s.width = func() int { return 0 }
	}
	if s.getenv == nil {
		s.getenv = func(string) string { return "" }
	}
	return &cli{streams: s, started: time.Now()}
}

// usageError is bad usage or a bad value: exit status 2, nothing sent.
type usageError struct {
	cmd *cobra.Command
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// main runs the command line args and returns the exit status.
func (c *cli) main(ctx context.Context, args []string) int {
	root := c.rootCommand()
	root.SetArgs(args)
	root.SetIn(c.in)
	root.SetOut(c.out)
	root.SetErr(c.err)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && !c.ran {
		var ue *usageError
		if !errors.As(err, &ue) {
			err = &usageError{cmd: cmd, msg: err.Error()}
		}
	}
	if cause, ok := context.Cause(ctx).(signalCause); ok && err != nil {
		return c.abandon(cause)
	}
	return c.finish(err)
}

// setRun records the last state seen of the run the command follows.
func (c *cli) setRun(run *stewai.Run) {
	if run == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runID = run.ID
	if run.Raw != nil { // a run the server described, not only its id
		c.run = run
	}
}

func (c *cli) follow(runID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runID = runID
}

// lastRun is the last state of the followed run, or an object with its id
// alone when no state was seen, or nil when no run is followed.
func (c *cli) lastRun() (json.RawMessage, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.run != nil && c.run.Raw != nil:
		return c.run.Raw, c.run.ID
	case c.runID != "":
		b, _ := json.Marshal(map[string]string{"id": c.runID})
		return b, c.runID
	}
	return nil, ""
}

// abandon reports a signal: the run the command follows goes on. It prints
// the run's id and the resume command on stderr and, with --json, the last
// state of the run on stdout; it returns the exit status. It reports once,
// whether main or the signal watcher calls it.
func (c *cli) abandon(cause signalCause) int {
	c.mu.Lock()
	done := c.reported
	c.reported = true
	c.mu.Unlock()
	if done {
		return cause.status()
	}
	raw, id := c.lastRun()
	if id != "" {
		if c.json && raw != nil {
			_ = c.printJSON(raw)
		}
		fmt.Fprintf(c.err, "stewai: %s; run %s goes on: resume with: stewai wait %s\n", cause, clean(id), clean(id))
	} else {
		fmt.Fprintf(c.err, "stewai: %s\n", cause)
	}
	return cause.status()
}

// finish reports err on stderr, in one line, and returns the exit status.
func (c *cli) finish(err error) int {
	c.mu.Lock()
	done := c.reported
	c.reported = true
	c.mu.Unlock()
	if done || err == nil {
		return exitOK
	}
	var ue *usageError
	if !errors.As(err, &ue) && errors.Is(err, stewai.ErrInvalidParams) {
		// The SDK refused a value before sending anything: bad usage too.
		ue = &usageError{msg: message(err)}
	}
	if ue != nil {
		fmt.Fprintf(c.err, "stewai: %s\n", c.redact(ue.msg))
		if ue.cmd != nil && ue.cmd.HasParent() {
			fmt.Fprintf(c.err, "usage: %s (see %s --help)\n", ue.cmd.UseLine(), ue.cmd.CommandPath())
		} else {
			fmt.Fprintln(c.err, "see stewai --help")
		}
		return exitUsage
	}
	code := exitStatus(err)
	if code == exitTimeout || code == exitError && errors.Is(err, stewai.ErrWaitTimeout) {
		// The run goes on: --json still gives its last state, for jq -r .id.
		if raw, _ := c.lastRun(); c.json && raw != nil {
			_ = c.printJSON(raw)
		}
	}
	fmt.Fprintf(c.err, "stewai: %s\n", c.redact(message(err)))
	return code
}

// exitStatus maps an error to the command's exit status.
func exitStatus(err error) int {
	var te *stewai.TimeoutError
	switch {
	case errors.As(err, &te):
		if te.Err != nil { // the API was failing when the wait ended
			return exitError
		}
		return exitTimeout
	case errors.Is(err, stewai.ErrRunFailed):
		return exitFailed
	case errors.Is(err, stewai.ErrRunCancelled):
		return exitCancelled
	case errors.Is(err, stewai.ErrRunBlocked):
		return exitBlocked
	}
	return exitError
}

// message is err in the command's words: one line, without the SDK's
// repeated "stewai: " prefixes, control characters made harmless, Go
// option names replaced by the flags that set them.
func message(err error) string {
	switch {
	case errors.Is(err, stewai.ErrMissingAPIKey):
		return "missing API key: set STEWAI_API_KEY or pass --api-key"
	}
	s := strings.Join(strings.Fields(err.Error()), " ")
	s = strings.ReplaceAll(s, "stewai: ", "")
	for _, n := range goNames {
		s = strings.ReplaceAll(s, n[0], n[1])
	}
	return clean(s)
}

// goNames are the SDK's option names that reach error messages, and what
// the command user sets instead.
var goNames = [][2]string{
	{"WithInsecureHTTP()", "--insecure-http"},
	{"WithInsecureHTTP", "--insecure-http"},
	{"WithAPIKey", "--api-key"},
	{"WithBaseURL", "--base-url"},
	{"WithRequestTimeout", "--request-timeout"},
	{"WithTimeout", "--timeout"},
	{"WithPollInterval", "--poll-interval"},
	{"InFolder", "--folder"},
}

// keyLike matches what looks like an API key; flagValue the value of a
// --flag=value, which a mistyped flag's error would echo.
var (
	keyLike   = regexp.MustCompile(`sk-[A-Za-z0-9_\-]{3,}`)
	flagValue = regexp.MustCompile(`((?:^|[\s"'])-{1,3}[A-Za-z][\w-]*=)[^\s"']+`)
)

// redact removes the key from s: the key given, anything like a key, and
// the value of anything like a key flag, even a mistyped one.
func (c *cli) redact(s string) string {
	for _, key := range []string{c.apiKey, c.getenv("STEWAI_API_KEY")} {
		if len(key) >= 4 {
			s = strings.ReplaceAll(s, key, "[redacted]")
		}
	}
	s = flagValue.ReplaceAllString(s, "${1}[redacted]")
	return keyLike.ReplaceAllString(s, "sk-[redacted]")
}

// connect checks the global flags and makes the client. It sends nothing.
func (c *cli) connect(cmd *cobra.Command) error {
	if c.requestTimeout <= 0 {
		return usagef(cmd, "--request-timeout %s: must be positive", c.requestTimeout)
	}
	key := c.apiKey
	if key == "" {
		key = c.getenv("STEWAI_API_KEY")
	}
	if key == "" {
		return errors.New("missing API key: set STEWAI_API_KEY or pass --api-key")
	}
	base, from := c.baseURL, "--base-url"
	if base == "" {
		base, from = c.getenv("STEWAI_BASE_URL"), "STEWAI_BASE_URL"
	}
	if base == "" {
		base = stewai.DefaultBaseURL
	}
	if err := checkBaseURL(base); err != nil {
		return usagef(cmd, "%s %q: %v", from, base, err)
	}
	c.obs = newObserver(c)
	opts := []stewai.Option{
		stewai.WithAPIKey(key), stewai.WithBaseURL(base),
		stewai.WithRequestTimeout(c.requestTimeout),
		stewai.WithLogger(slog.New(c.obs)),
		stewai.WithUserAgent("stewai-cli/" + stewai.Version),
	}
	if c.insecureHTTP {
		opts = append(opts, stewai.WithInsecureHTTP())
	}
	api, err := stewai.NewClient(opts...)
	if err != nil {
		if errors.Is(err, stewai.ErrInvalidParams) {
			return usagef(cmd, "%s", message(err))
		}
		return err
	}
	c.api = api
	return nil
}

// checkBaseURL accepts an absolute http(s) URL with a host.
func checkBaseURL(s string) error {
	if !strings.Contains(s, "://") {
		return errors.New("no scheme: add https:// (such as https://api.stewai.com/v1)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return errors.New("want an http(s) URL such as https://api.stewai.com/v1 (add https://)")
	}
	return nil
}
