package stewai

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stewai/stewai-go/internal/clock"
	"github.com/stewai/stewai-go/internal/retry"
)

// The retry policy, in one place: what is worth retrying, how long to wait
// before the next attempt of a call or the next poll of a wait, and how far
// a server's Retry-After is followed. internal/retry holds the mechanics
// (the jittered schedule, Retry-After parsing).

// The defaults a client and its waits start from. Commands and programs
// that show or reuse a default refer to these rather than copy them.
const (
	// DefaultWaitTimeout bounds a wait unless WithTimeout says otherwise.
	DefaultWaitTimeout = 300 * time.Second
	// DefaultPollInterval is the first delay between the polls of a wait
	// (WithPollInterval); each next delay is 1.5 times longer.
	DefaultPollInterval = 500 * time.Millisecond
	// DefaultMaxPollInterval caps the delay between polls (WithMaxPollInterval).
	DefaultMaxPollInterval = 5 * time.Second
	// DefaultRequestTimeout bounds each attempt of a request (WithRequestTimeout).
	DefaultRequestTimeout = 60 * time.Second
	// DefaultMaxRetries is how many times a transient failure of one call is
	// retried (WithMaxRetries).
	DefaultMaxRetries = 2
	// DefaultMaxConnsPerHost caps the connections of the SDK's own transport
	// over HTTP/1.1 (WithMaxConnsPerHost).
	DefaultMaxConnsPerHost = 64
	// MaxRetryAfter is the longest a server's Retry-After is followed, by
	// calls and waits alike; a longer one is cut to this.
	MaxRetryAfter = 60 * time.Second
)

// The wait schedule, as in the official Python SDK: the first delay is the
// poll interval ± 20 %, and each next one 1.5 times longer, up to the maximum.
const (
	pollFactor = 1.5
	pollJitter = 0.2
)

const (
	// The schedule between attempts of one call.
	retryInitial = 500 * time.Millisecond
	retryMax     = 8 * time.Second
	retryFactor  = 2
	retryJitter  = 0.25
)

// retrier is implemented by the errors of this package that know whether
// the failure they report is worth another attempt.
type retrier interface{ retryable() bool }

// transient reports whether err is worth retrying: a network failure, an
// attempt timeout, or a 408, 429, 500, 502, 503 or 504 answer.
func transient(err error) bool {
	var r retrier
	return errors.As(err, &r) && r.retryable()
}

// retryable reports whether the pipeline makes another attempt of r after
// err: the failure is transient, the caller is still there, attempts are
// left, and the body can be sent again.
func (c *core) retryable(ctx context.Context, r *request, err error, attempt int) bool {
	if !transient(err) || ctx.Err() != nil || r.noRetry || attempt > c.maxRetries {
		return false
	}
	if r.body == nil {
		return true
	}
	// The last attempt may still be reading the caller's reader: wait for
	// it, in real time (the reader is the caller's), at most one request
	// timeout.
	wctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	return r.body.replayable(wctx, r.reached.Load())
}

// newCallBackoff is the schedule between attempts of one call.
func newCallBackoff(clk clock.Clock) *retry.Schedule {
	return retry.NewSchedule(retryInitial, retryMax, retryFactor, retryJitter, clk)
}

// retryDelay is how long to wait after err before trying again, for calls
// and waits alike: the server's Retry-After when it sent one, capped at
// MaxRetryAfter and floored at the schedule's shortest next delay (a tiny
// Retry-After cannot make anyone poll faster than the schedule), and the
// schedule's next delay otherwise (the schedule moves on only then). A
// wait also clamps the delay to the time it has left.
func retryDelay(err error, schedule *retry.Schedule) time.Duration {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.RetryAfter > 0 {
		return max(min(apiErr.RetryAfter, MaxRetryAfter), schedule.Floor())
	}
	return schedule.Next()
}

// withAttempts notes on err how many attempts were made, when more than one.
func withAttempts(err error, attempts int) error {
	if attempts <= 1 {
		return err
	}
	return fmt.Errorf("%w (after %d attempts)", err, attempts)
}
