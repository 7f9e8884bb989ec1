package stewai

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/stewai/stewai-go/internal/retry"
)

// The wait schedule, as in the official Python SDK: the first delay is the
// poll interval ± 20 %, and each next one 1.5 times longer, up to the maximum.
const (
	defaultWaitTimeout     = 300 * time.Second
	defaultPollInterval    = 500 * time.Millisecond
	defaultMaxPollInterval = 5 * time.Second
	pollFactor             = 1.5
	pollJitter             = 0.2
)

// WaitOption configures how Create and Wait wait for a run to end.
type WaitOption func(*waitConfig) error

type waitConfig struct {
	noWait          bool
	timeout         time.Duration
	pollInterval    time.Duration
	maxPollInterval time.Duration
	onStatus        func(*Run)
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
		c.pollInterval = d
		return nil
	}
}

// WithMaxPollInterval caps the delay between polls; the default is 5 s. A
// poll interval above it is lowered to it.
func WithMaxPollInterval(d time.Duration) WaitOption {
	return func(c *waitConfig) error {
		if d <= 0 {
			return invalidf("WithMaxPollInterval: %s is not positive", d)
		}
		c.maxPollInterval = d
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
		timeout:         defaultWaitTimeout,
		pollInterval:    defaultPollInterval,
		maxPollInterval: defaultMaxPollInterval,
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
// Retry-After. Other errors, such as ErrNotFound, end it at once, and so does
// cancelling ctx, with ctx's error.
//
// Whatever the error, the last state of the run received comes with it (nil
// only when no poll succeeded).
func (s *RunsService) Wait(ctx context.Context, runID string, opts ...WaitOption) (*Run, error) {
	cfg, err := newWaitConfig(opts, false)
	if err != nil {
		return nil, err
	}
	return s.wait(ctx, runID, nil, cfg)
}

// wait runs the poll loop. run is the state already known (from Create), or
// nil to poll at once.
func (s *RunsService) wait(ctx context.Context, runID string, run *Run, cfg waitConfig) (*Run, error) {
	path, err := runPath(runID, "")
	if err != nil {
		return run, err
	}
	clk := s.core.clock
	deadline := clk.Now().Add(cfg.timeout)
	sched := retry.NewSchedule(cfg.pollInterval, cfg.maxPollInterval, pollFactor, pollJitter, clk)
	var lastErr error // the last poll's error, while polls fail
	observe := func(prev, next *Run) {
		if cfg.onStatus != nil && (prev == nil || prev.Status != next.Status) {
			cfg.onStatus(next)
		}
	}

	var delay time.Duration
	if run != nil {
		observe(nil, run)
		if run.Status.IsTerminal() {
			return outcome(run)
		}
		delay = sched.Next()
	}
	for {
		if left := deadline.Sub(clk.Now()); delay > 0 && left > 0 {
			if err := clk.Sleep(ctx, min(delay, left)); err != nil {
				return run, fmt.Errorf("stewai: waiting for run %s: %w", runID, err)
			}
		}
		if !clk.Now().Before(deadline) {
			te := &TimeoutError{RunID: runID, Timeout: cfg.timeout, Err: lastErr}
			if run != nil {
				te.LastStatus = run.Status
			}
			return run, te
		}

		got, err := s.get(ctx, &request{method: http.MethodGet, path: path, deadline: deadline, noRetry: true})
		switch {
		case err == nil:
			observe(run, got)
			run, lastErr = got, nil
			if run.Status.IsTerminal() {
				return outcome(run)
			}
			delay = sched.Next()
		case isTransient(err) && ctx.Err() == nil:
			lastErr = err
			if delay = retryAfter(err); delay == 0 {
				delay = sched.Next()
			}
		default:
			return run, err
		}
		s.core.log.LogAttrs(ctx, slog.LevelDebug, "stewai: poll",
			slog.String("run_id", runID), slog.String("status", statusOf(run)),
			slog.Duration("next_delay", delay), slog.Bool("failed", err != nil))
	}
}

// outcome returns a terminal run, with a *RunError unless it is done.
func outcome(run *Run) (*Run, error) {
	if run.Status.failure() != nil {
		return run, &RunError{RunID: run.ID, Run: run}
	}
	return run, nil
}

func statusOf(run *Run) string {
	if run == nil {
		return ""
	}
	return string(run.Status)
}
