package stewai

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"time"

	"github.com/stewai/stewai-go/internal/clock"
)

// WaitOption configures how Create and Wait wait for a run to end.
type WaitOption func(*waitConfig) error

type waitConfig struct {
	noWait          bool
	timeout         time.Duration
	pollInterval    time.Duration
	maxPollInterval time.Duration
	onStatus        func(*Run)
	// intervalSet and maxSet record which of the two intervals an option
	// gave, to check them against each other once all options are applied.
	intervalSet, maxSet bool
}

// NoWait makes Create return the run as soon as the server has accepted it
// (usually queued), without waiting. Wait it later with Wait. Passing NoWait
// to Wait is an error matching ErrInvalidParams.
func NoWait() WaitOption {
	return func(c *waitConfig) error {
		c.noWait = true
		return nil
	}
}

// WithTimeout bounds the whole wait; the default is 300 s. When it passes,
// the wait returns a *TimeoutError (ErrWaitTimeout) and the run goes on on
// the server. The context can end the wait sooner.
func WithTimeout(d time.Duration) WaitOption {
	return func(c *waitConfig) error {
		if d <= 0 {
			return invalidf("WithTimeout: %s is not positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithPollInterval sets the first delay between polls; the default is
// 500 ms. Each delay is 1.5 times the previous one, up to the maximum (see
// WithMaxPollInterval), with ± 20 % jitter.
func WithPollInterval(d time.Duration) WaitOption {
	return func(c *waitConfig) error {
		if d <= 0 {
			return invalidf("WithPollInterval: %s is not positive", d)
		}
		c.pollInterval, c.intervalSet = d, true
		return nil
	}
}

// WithMaxPollInterval caps the delay between polls; the default is 5 s. A
// WithPollInterval above it is an error matching ErrInvalidParams, whatever
// the order of the two options; a poll interval given alone above the
// default cap is lowered to it.
func WithMaxPollInterval(d time.Duration) WaitOption {
	return func(c *waitConfig) error {
		if d <= 0 {
			return invalidf("WithMaxPollInterval: %s is not positive", d)
		}
		c.maxPollInterval, c.maxSet = d, true
		return nil
	}
}

// OnStatusChange calls fn with the run each time the wait sees a new status,
// starting with the first one it sees. fn runs on the waiting goroutine,
// between polls: keep it short.
func OnStatusChange(fn func(run *Run)) WaitOption {
	return func(c *waitConfig) error {
		c.onStatus = fn
		return nil
	}
}

func newWaitConfig(opts []WaitOption, create bool) (waitConfig, error) {
	c := waitConfig{
		timeout:         DefaultWaitTimeout,
		pollInterval:    DefaultPollInterval,
		maxPollInterval: DefaultMaxPollInterval,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&c); err != nil {
			return c, err
		}
	}
	if c.noWait && !create {
		return c, invalidf("NoWait only applies to Create")
	}
	if c.intervalSet && c.maxSet && c.pollInterval > c.maxPollInterval {
		return c, invalidf("WithPollInterval: %s is above WithMaxPollInterval's %s", c.pollInterval, c.maxPollInterval)
	}
	return c, nil
}

// Wait polls the run until it ends, on the schedule of the official Python
// SDK (see WithPollInterval), and returns it when it is done.
//
// A run that ends failed, cancelled or blocked gives a *RunError matching
// ErrRunFailed, ErrRunCancelled or ErrRunBlocked. When the timeout passes
// first, a *TimeoutError matching ErrWaitTimeout; the run is not cancelled.
// Statuses this package does not know keep the wait going. Transient failures
// of a poll (network errors, 408, 429, 5xx) do not end the wait while time
// remains: the next poll comes on the schedule, or after the server's
// Retry-After. A 429 with Retry-After on any request of the client pauses
// the polls of all its waits until then (see WithPollRate for a bound of
// your own). Other errors, such as ErrNotFound, end it at once, and so does
// cancelling ctx, with ctx's error.
//
// Whatever the error, the last state of the run received comes with it:
// for a usable runID the run is never nil, and carries at least its ID when
// no poll succeeded (a context already done, a first poll that failed). An
// answer about another run than runID is ErrMalformedResponse.
func (s *RunsService) Wait(ctx context.Context, runID string, opts ...WaitOption) (*Run, error) {
	w, err := s.waiter(runID, opts)
	if err != nil {
		return nil, err
	}
	return w.loop(ctx, nil, w.observer())
}

// Watch follows a run as it moves, for range loops:
//
//	for run, err := range client.Runs.Watch(ctx, runID) {
//		if err != nil {
//			return err // failed, cancelled, blocked, timed out, ...
//		}
//		fmt.Println(run.Status) // queued, running, done
//	}
//
// It polls on Wait's schedule (the same options apply) and yields the run
// each time its status differs from the last one yielded, the first poll
// always. The terminal run is yielded last: with a nil error when it is
// done, with a *RunError when it failed, was cancelled or is blocked. A
// timeout (*TimeoutError), the end of ctx, or an error that is not
// transient (such as ErrNotFound) is yielded once, with the last run seen
// (one carrying only its ID before the first successful poll), and ends
// the sequence. Transient poll failures are not yielded: polling goes on
// as in Wait. Breaking out of the loop stops polling at once; nothing goes
// on in the background.
func (s *RunsService) Watch(ctx context.Context, runID string, opts ...WaitOption) iter.Seq2[*Run, error] {
	return func(yield func(*Run, error) bool) {
		w, err := s.waiter(runID, opts)
		if err != nil {
			yield(nil, err)
			return
		}
		run, err := w.loop(ctx, nil, func(run *Run) bool {
			w.notify(run)
			return run.Status.IsTerminal() || yield(run, nil) // the terminal run comes with its outcome
		})
		if err != errStopped {
			yield(run, err)
		}
	}
}

// waiter polls one run on the wait schedule. Wait, Create and Watch share
// its loop.
type waiter struct {
	core  *core
	runID string
	cfg   waitConfig
	// deadline, when set, ends the wait instead of its timeout from its
	// start: the waits of WaitAll and WaitEach share one.
	deadline time.Time

	// The poll under way, reused from poll to poll (a wait's polls never
	// overlap, and a wait makes thousands): its request, context and
	// outcome, and the job that hands it to the client's pollers, whose
	// functions are w's methods, made into values once.
	req       request
	job       pollJob
	pctx      context.Context
	got       *Run
	err       error
	endQueued func()
	// qctx bounds a poll's waiting for a poller by the wait's deadline
	// (see queued); qcancel releases it; resume ends the idling on the
	// clock of the poll waiting.
	qctx    context.Context
	qcancel context.CancelFunc
	resume  func()
}

// deadlineFrom is the wait's deadline when it starts at now.
func (w *waiter) deadlineFrom(now time.Time) time.Time {
	if !w.deadline.IsZero() {
		return w.deadline
	}
	return now.Add(w.cfg.timeout)
}

// waiter returns the waiter of Wait and Watch for runID.
func (s *RunsService) waiter(runID string, opts []WaitOption) (*waiter, error) {
	cfg, err := newWaitConfig(opts, false)
	if err != nil {
		return nil, err
	}
	return newWaiter(s.core, runID, cfg)
}

func newWaiter(c *core, runID string, cfg waitConfig) (*waiter, error) {
	path, err := runPath(runID, "")
	if err != nil {
		return nil, err
	}
	w := &waiter{core: c, runID: runID, cfg: cfg,
		req: request{method: http.MethodGet, path: path, noRetry: true}}
	w.job = pollJob{poll: w.fetch, done: make(chan struct{}, 1), queued: w.queued}
	w.endQueued = w.queuedEnds
	return w, nil
}

// errStopped ends a loop whose observer asked it to stop.
var errStopped = errors.New("stewai: stopped")

// observer is the loop's observer for Wait and Create: nil, or notify when
// there is an OnStatusChange callback.
func (w *waiter) observer() func(*Run) bool {
	if w.cfg.onStatus == nil {
		return nil
	}
	return w.notify
}

// notify passes a new status to the OnStatusChange callback; it never stops
// the loop.
func (w *waiter) notify(run *Run) bool {
	if w.cfg.onStatus != nil {
		w.cfg.onStatus(run)
	}
	return true
}

// loop polls until the run ends, the timeout passes, ctx ends or a poll
// fails for good, and returns the last run seen with the outcome. run is
// the state already known (from Create), or nil to poll at once. seen is
// called with the run each time its status changes, the first one
// included; when it returns false the loop stops at once with errStopped.
//
// The run returned is never nil: before any poll succeeded, it carries the
// run id only.
func (w *waiter) loop(ctx context.Context, known *Run, seen func(*Run) bool) (*Run, error) {
	run, err := w.follow(ctx, known, seen)
	if run == nil {
		run = &Run{ID: w.runID}
	}
	return run, err
}

// follow is loop's body; its run is nil when no poll succeeded.
func (w *waiter) follow(ctx context.Context, run *Run, seen func(*Run) bool) (*Run, error) {
	if err := checkContext(ctx); err != nil {
		return run, err
	}
	clk := w.core.clock
	ctx, leave := clk.Enter(ctx)
	defer leave()
	defer w.stopQueueTimer()
	seen = w.idleWhile(ctx, seen)
	deadline := w.deadlineFrom(clk.Now())
	schedule := newPollSchedule(w.cfg.pollInterval, w.cfg.maxPollInterval, clk)
	var lastErr error // the last poll's error, while polls fail
	var delay time.Duration
	if run != nil {
		if !seen(run) {
			return run, errStopped
		}
		if run.Status.IsTerminal() {
			return outcome(run)
		}
		delay = schedule.next()
	}
	for {
		if left := deadline.Sub(clk.Now()); delay > 0 && left > 0 {
			if err := clk.Sleep(ctx, min(delay, left)); err != nil {
				return run, fmt.Errorf("stewai: waiting for run %s: %w", w.runID, err)
			}
		}
		if !clk.Now().Before(deadline) {
			return run, w.timeout(run, lastErr)
		}
		got, err := w.poll(ctx, deadline)
		switch {
		case err == nil:
			changed := run == nil || run.Status != got.Status
			run, lastErr = got, nil
			if changed && !seen(run) {
				return run, errStopped
			}
			if run.Status.IsTerminal() {
				return outcome(run)
			}
			delay = schedule.next()
		case transient(err) && ctx.Err() == nil:
			lastErr = err
			delay = retryDelay(err, schedule)
		default:
			return run, err
		}
		if w.core.log.Enabled(ctx, slog.LevelDebug) { // built only when taken: polls are many
			w.core.log.LogAttrs(ctx, slog.LevelDebug, "stewai: poll",
				slog.String("run_id", w.runID), slog.String("status", w.statusOf(run)),
				slog.Duration("next_delay", delay), slog.Bool("failed", err != nil))
		}
	}
}

// idleWhile returns seen, marking the wait idle on its clock while seen
// runs: seen is the caller's code (a Watch loop body, an OnStatusChange
// callback), which may wait on other calls. A nil seen runs nothing.
func (w *waiter) idleWhile(ctx context.Context, seen func(*Run) bool) func(*Run) bool {
	if seen == nil { // no code of the caller's to run
		return func(*Run) bool { return true }
	}
	return func(run *Run) bool {
		resume := w.core.clock.Idle(ctx)
		defer resume()
		return seen(run)
	}
}

// queued is what a poll does when it has to wait for a poller (called with
// the pollers' lock held): it waits until the wait's deadline at most,
// idle on the clock (on a virtual clock, time may move on meanwhile, as it
// does in real time).
//
// On the real clock one timer bounds the waiting of all the wait's polls:
// a timer that fires when no poll waits does nothing there. On a virtual
// clock each waiting has a timer of its own, set only while the poll
// waits: a timer of a call that fires wakes the call, which would stop
// virtual time while the wait does something else (runs the caller's
// loop body, say).
func (w *waiter) queued() (context.Context, func()) {
	clk := w.core.clock
	if w.qctx == nil {
		w.qctx, w.qcancel = clk.WithTimeout(w.pctx, w.req.deadline.Sub(clk.Now()), ErrWaitTimeout)
	}
	w.resume = clk.Idle(w.pctx) // after the timer is set: time cannot skip it
	return w.qctx, w.endQueued
}

// queuedEnds ends a poll's waiting for a poller (with the pollers' lock
// held).
func (w *waiter) queuedEnds() {
	w.resume()
	if w.core.clock != clock.Real {
		w.stopQueueTimer()
	}
}

// stopQueueTimer releases the timer of queued polls, if any.
func (w *waiter) stopQueueTimer() {
	if w.qctx != nil {
		w.qcancel()
		w.qctx, w.qcancel = nil, nil
	}
}

// poll fetches the run once, within the wait's deadline: the wait is its
// own retry schedule. It runs on one of the client's pollers, waiting for a
// free one until the deadline at most, and then for the client's pace
// (pace.go): a pause after a 429, WithPollRate.
func (w *waiter) poll(ctx context.Context, deadline time.Time) (*Run, error) {
	r := &w.req
	r.deadline = deadline
	w.pctx, w.got, w.err = ctx, new(Run), nil
	ran := w.core.pollers.run(&w.job)
	run, err := w.got, w.err
	w.pctx, w.got, w.err = nil, nil, nil
	if !ran {
		if ctx.Err() != nil {
			return nil, errCanceled(r, ctx.Err())
		}
		return nil, errNoTimeLeft(r)
	}
	if err != nil {
		return nil, err
	}
	if run.ID != w.runID {
		return nil, errMalformed(r, fmt.Sprintf("malformed response: the answer is about run %q, not %q", run.ID, w.runID), nil)
	}
	return run, nil
}

// fetch is the poll itself, run on a poller.
func (w *waiter) fetch() {
	r := &w.req
	if w.err = w.core.pace(w.pctx, r, r.deadline); w.err == nil {
		w.err = w.core.do(w.pctx, r, w.got)
	}
}

// timeout is the error of a wait whose time ran out.
func (w *waiter) timeout(run *Run, lastErr error) error {
	return &TimeoutError{RunID: w.runID, Timeout: w.cfg.timeout, Err: lastErr, LastStatus: Status(w.statusOf(run))}
}

// outcome returns a terminal run, with a *RunError unless it is done.
func outcome(run *Run) (*Run, error) {
	if run.Status.failure() != nil {
		return run, &RunError{RunID: run.ID, Run: run}
	}
	return run, nil
}

// statusOf is the run's status as errors and log lines may show it: a
// status this package does not know is the server's text, which is cut to
// one short line and has the key cut out of it.
func (w *waiter) statusOf(run *Run) string {
	if run == nil {
		return ""
	}
	if run.Status.known() {
		return string(run.Status)
	}
	return shortLine(redact(string(run.Status), w.core.apiKey()), maxStatusLen)
}

// maxStatusLen bounds an unknown status as errors and log lines show it.
const maxStatusLen = 64
