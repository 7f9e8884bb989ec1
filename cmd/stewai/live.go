package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/stewai/stewai-go"
)

// observer is the client's slog handler: it sees the SDK's debug records,
// prints them with --debug, and tells the wait's display about each poll,
// failed ones with their reason.
type observer struct {
	c        *cli
	mu       sync.Mutex
	failures map[string]string // the last failure of each path, until it answers
	display  *display          // the wait being shown, if any
	failing  int               // polls failed in a row
}

// cutShort reports whether a wait's last error is only its last poll, cut
// short by the wait's own deadline, after polls that succeeded: the API
// was not failing, the time was up.
func (o *observer) cutShort(err error) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failing <= 1 && errors.Is(err, stewai.ErrRequestTimeout)
}

func newObserver(c *cli) *observer { return &observer{c: c, failures: map[string]string{}} }

// Enabled is true: the SDK's debug records are what the observer watches.
func (o *observer) Enabled(context.Context, slog.Level) bool { return true }

// WithAttrs returns o: the SDK's records carry all they say.
func (o *observer) WithAttrs([]slog.Attr) slog.Handler { return o }

// WithGroup returns o.
func (o *observer) WithGroup(string) slog.Handler { return o }

// Handle reads one record of the SDK.
func (o *observer) Handle(_ context.Context, r slog.Record) error {
	a := map[string]slog.Value{}
	r.Attrs(func(at slog.Attr) bool {
		a[at.Key] = at.Value.Resolve()
		return true
	})
	str := func(k string) string {
		if v, ok := a[k]; ok {
			return v.String()
		}
		return ""
	}
	method, path := str("method"), str("path")
	switch r.Message {
	case "stewai: request":
		status := int(a["status"].Int64())
		o.mu.Lock()
		if status >= 400 {
			o.failures[path] = fmt.Sprintf("%s %s: %d", method, path, status)
		} else {
			delete(o.failures, path)
		}
		o.mu.Unlock()
		if o.c.debug {
			o.c.logLine(fmt.Sprintf("stewai: debug: %s %s → %d (attempt %s, %dms)", method, path, status,
				str("attempt"), a["elapsed"].Duration().Milliseconds()))
		}
	case "stewai: request failed":
		o.mu.Lock()
		o.failures[path] = strings.ReplaceAll(str("error"), "stewai: ", "")
		o.mu.Unlock()
		if o.c.debug {
			o.c.logLine(fmt.Sprintf("stewai: debug: %s %s failed: %s", method, path, message(fmt.Errorf("%s", str("error")))))
		}
	case "stewai: retrying":
		if o.c.debug {
			o.c.logLine(fmt.Sprintf("stewai: debug: %s %s: retrying in %s (attempt %s failed: %s)", method, path,
				a["delay"].Duration().Round(time.Millisecond), str("attempt"), message(fmt.Errorf("%s", str("error")))))
		}
	case "stewai: poll":
		o.mu.Lock()
		d := o.display
		reason := o.failures["runs/"+url.PathEscape(str("run_id"))+"/"]
		if a["failed"].Bool() {
			o.failing++
		} else {
			o.failing = 0
		}
		o.mu.Unlock()
		if d != nil && str("run_id") == d.runID {
			d.polled(str("status"), a["failed"].Bool(), reason, a["next_delay"].Duration())
		}
	}
	return nil
}

// logLine writes one line on stderr, above the live line if one is shown.
func (c *cli) logLine(line string) {
	line = clean(c.redact(line))
	if c.obs != nil {
		c.obs.mu.Lock()
		d := c.obs.display
		c.obs.mu.Unlock()
		if d != nil && d.mode >= modeLive {
			d.mu.Lock()
			defer d.mu.Unlock()
			d.clearLine()
			fmt.Fprintln(c.err, line)
			return
		}
	}
	fmt.Fprintln(c.err, line)
}

// logf writes a progress line on stderr, unless --quiet.
func (c *cli) logf(format string, args ...any) {
	if !c.quiet {
		c.logLine("stewai: " + fmt.Sprintf(format, args...))
	}
}

// display modes.
const (
	modeOff  = iota // --quiet
	modeLog         // stderr is not a terminal: a plain line per change or failed poll
	modeLive        // a terminal: one line, redrawn in place with ESC[K
	modeDumb        // a terminal without escape codes (TERM=dumb, NO_COLOR): redrawn with CR and spaces
)

// redrawEvery is how often the live line turns its spinner.
const redrawEvery = 100 * time.Millisecond

var (
	spinner      = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	spinnerPlain = []string{"|", "/", "-", "\\"}
)

// display shows a wait: on a terminal, one live line on stderr, never wider
// than the terminal (spinner, status, time since the run was created, the
// current step or the last failed poll); piped, a plain line per status
// change and per failed poll.
type display struct {
	c     *cli
	mode  int
	runID string

	mu      sync.Mutex
	run     *stewai.Run
	failure string        // the last failed poll's reason, until a poll succeeds
	retryIn time.Duration // when the next poll comes after a failure
	step    string        // "step 2/3 Summarize"
	frame   int
	drawn   int // columns of the line drawn last (modeDumb)

	ctx       context.Context
	cancel    context.CancelFunc
	stepsWant chan struct{}
	wg        sync.WaitGroup
}

// startDisplay starts showing a wait; the run's id comes with its first
// state or, for a wait on an id, from c.
func (c *cli) startDisplay(ctx context.Context) *display {
	d := &display{c: c, mode: c.displayMode()}
	_, d.runID = c.lastRun()
	d.ctx, d.cancel = context.WithCancel(ctx)
	if c.obs != nil {
		c.obs.mu.Lock()
		c.obs.display = d
		c.obs.mu.Unlock()
	}
	if d.mode >= modeLive {
		d.stepsWant = make(chan struct{}, 1)
		d.wg.Add(2)
		go d.spin()
		go d.fetchSteps()
	}
	return d
}

func (c *cli) displayMode() int {
	switch {
	case c.quiet:
		return modeOff
	case !c.errTerm:
		return modeLog
	case c.getenv("TERM") == "dumb" || c.getenv("NO_COLOR") != "":
		return modeDumb
	}
	return modeLive
}

// status is the wait's OnStatusChange: a new status, the create's answer
// first.
func (d *display) status(run *stewai.Run) {
	d.c.setRun(run)
	d.mu.Lock()
	d.run, d.failure = run, ""
	if d.runID == "" {
		d.runID = run.ID
	}
	d.mu.Unlock()
	if d.mode == modeLog {
		d.c.logf("run %s: %s (%s)", run.ID, run.Status, d.elapsed(run))
	}
	d.draw()
}

// polled is told of each poll by the observer.
func (d *display) polled(status string, failed bool, reason string, next time.Duration) {
	if failed {
		if reason == "" {
			reason = "no answer"
		}
		d.mu.Lock()
		d.failure, d.retryIn = reason, next
		d.mu.Unlock()
		if d.mode == modeLog {
			d.c.logf("run %s: poll failed: %s; next poll in %s", d.runID, reason, next.Round(100*time.Millisecond))
		}
		d.draw()
		return
	}
	d.mu.Lock()
	d.failure = ""
	d.mu.Unlock()
	if status == string(stewai.StatusRunning) && d.stepsWant != nil {
		select { // at most one steps request per poll
		case d.stepsWant <- struct{}{}:
		default:
		}
	}
}

// fetchSteps fetches the run's steps when a poll asks for them, to name
// the current step.
func (d *display) fetchSteps() {
	defer d.wg.Done()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-d.stepsWant:
		}
		steps, err := d.c.api.Runs.Steps(d.ctx, d.runID)
		if err != nil {
			continue
		}
		if step := currentStep(steps.Steps); step != "" {
			d.mu.Lock()
			d.step = step
			d.mu.Unlock()
		}
	}
}

// currentStep is "step i/n TITLE" for the first step not yet done.
func currentStep(steps []stewai.Step) string {
	if len(steps) == 0 {
		return ""
	}
	i := 0
	for i < len(steps)-1 && steps[i].Status == stewai.StatusDone {
		i++
	}
	return fmt.Sprintf("step %d/%d %s", i+1, len(steps), clean(titleOf(steps[i])))
}

func (d *display) spin() {
	defer d.wg.Done()
	t := time.NewTicker(redrawEvery)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
			d.mu.Lock()
			d.frame++
			d.mu.Unlock()
			d.draw()
		}
	}
}

// stop ends the display, leaving its last line.
func (d *display) stop(run *stewai.Run, _ error) {
	d.cancel()
	d.wg.Wait()
	if d.c.obs != nil {
		d.c.obs.mu.Lock()
		d.c.obs.display = nil
		d.c.obs.mu.Unlock()
	}
	if d.mode < modeLive {
		return
	}
	d.mu.Lock()
	if run != nil {
		d.run = run
	}
	d.mu.Unlock()
	d.draw()
	fmt.Fprintln(d.c.err)
}

// elapsed is the time since the run was created, or since the command
// started when the run does not say.
func (d *display) elapsed(run *stewai.Run) string {
	since := d.c.started
	if run != nil && !run.CreatedAt.IsZero() {
		since = run.CreatedAt
	}
	return formatElapsed(time.Since(since))
}

func formatElapsed(e time.Duration) string {
	if e < 0 {
		e = 0
	}
	s := int(e / time.Second)
	switch {
	case s < 60:
		return strconv.Itoa(s) + "s"
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm%02ds", s/3600, s/60%60, s%60)
}

// line is the live line, before it is cut to the terminal's width.
func (d *display) line() string {
	frames := spinner
	if d.mode == modeDumb {
		frames = spinnerPlain
	}
	status := "starting"
	if d.run != nil {
		status = clean(string(d.run.Status))
	}
	spin := frames[d.frame%len(frames)]
	if d.run != nil && d.run.Status.IsTerminal() {
		spin = "•"
		if d.mode == modeDumb {
			spin = "*"
		}
	}
	parts := []string{spin + " " + status, d.elapsed(d.run)}
	switch {
	case d.failure != "":
		parts = append(parts, fmt.Sprintf("poll failed: %s; retry in %s", clean(shortReason(d.failure)), d.retryIn.Round(100*time.Millisecond)))
	case d.step != "" && d.run != nil && !d.run.Status.IsTerminal():
		parts = append(parts, d.step)
	}
	if d.runID != "" {
		parts = append(parts, "run "+clean(d.runID))
	}
	return strings.Join(parts, "  ")
}

// draw redraws the live line.
func (d *display) draw() {
	if d.mode < modeLive {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	width := d.c.width()
	if width <= 0 {
		width, _ = strconv.Atoi(d.c.getenv("COLUMNS"))
	}
	if width <= 0 {
		width = 80
	}
	line := fit(d.line(), width-1) // the last column would wrap on some terminals
	if d.mode == modeDumb {
		n := utf8.RuneCountInString(line)
		fmt.Fprint(d.c.err, "\r"+line+strings.Repeat(" ", max(d.drawn-n, 0)))
		d.drawn = n
		return
	}
	fmt.Fprint(d.c.err, "\r"+line+"\x1b[K")
}

// clearLine blanks the live line, so a log line can take its place; d.mu
// is held.
func (d *display) clearLine() {
	if d.mode == modeDumb {
		fmt.Fprint(d.c.err, "\r"+strings.Repeat(" ", d.drawn)+"\r")
		d.drawn = 0
		return
	}
	fmt.Fprint(d.c.err, "\r\x1b[K")
}

// shortReason is a failure's reason for the live line: the network
// error's last words ("connection refused", not "dial tcp 127.0.0.1:8080:
// connect: connection refused").
func shortReason(reason string) string {
	if i := strings.LastIndex(reason, ": "); i >= 0 && strings.Contains(reason, "dial ") {
		return reason[i+2:]
	}
	return reason
}

// fit cuts s to at most width characters, marking the cut with "…".
func fit(s string, width int) string {
	if width < 1 {
		width = 1
	}
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}
