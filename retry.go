package stewai

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stewai/stewai-go/internal/clock"
)

// The retry and wait policy, in one place: the defaults, what is worth
// retrying, how long to wait before the next attempt of a call or the next
// poll of a wait (the jittered schedules), and how far a server's
// Retry-After is followed.

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

// newCallBackoff is the schedule between attempts of one call.
func newCallBackoff(clk clock.Clock) *schedule {
	return newSchedule(retryInitial, retryMax, retryFactor, retryJitter, clk.Jitter)
}

// newPollSchedule is the schedule between the polls of one wait.
func newPollSchedule(interval, maxInterval time.Duration, clk clock.Clock) *schedule {
	return newSchedule(interval, maxInterval, pollFactor, pollJitter, clk.Jitter)
}

// schedule yields delays that start at an initial interval and grow by a
// factor up to a maximum; each delay is the current interval ± a jitter
// fraction, clamped to [0, max], as the official Python SDK's wait does. It
// is not safe for concurrent use: make one per loop.
type schedule struct {
	cur, max       time.Duration
	factor, jitter float64
	rand           func() float64 // uniform in [0, 1): the clock's
}

func newSchedule(initial, max time.Duration, factor, jitter float64, rand func() float64) *schedule {
	return &schedule{cur: min(initial, max), max: max, factor: factor, jitter: jitter, rand: rand}
}

// floor is the shortest delay the next step can give, without moving the
// schedule on: a delay below it would be faster than the schedule allows.
func (s *schedule) floor() time.Duration {
	return durationOf(min(float64(s.cur)*(1-s.jitter), float64(s.max)))
}

// next returns the next delay and moves the schedule on.
func (s *schedule) next() time.Duration {
	cur, top := float64(s.cur), float64(s.max)
	d := max(0, min(cur+(2*s.rand()-1)*s.jitter*cur, top))
	s.cur = durationOf(min(cur*s.factor, top))
	return durationOf(d)
}

// durationOf converts a non-negative float64 of nanoseconds, computed so as
// not to overflow, to a Duration, the longest one at most.
func durationOf(ns float64) time.Duration {
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// retryDelay is how long to wait after err before trying again, for calls
// and waits alike: the server's Retry-After when it sent one, capped at
// MaxRetryAfter and floored at the schedule's shortest next delay (a tiny
// Retry-After cannot make anyone poll faster than the schedule), and the
// schedule's next delay otherwise (the schedule moves on only then). A
// wait also clamps the delay to the time it has left.
func retryDelay(err error, s *schedule) time.Duration {
	var ra interface{ retryAfter() time.Duration }
	if errors.As(err, &ra) && ra.retryAfter() > 0 {
		return max(min(ra.retryAfter(), MaxRetryAfter), s.floor())
	}
	return s.next()
}

// transientStatus reports whether an HTTP status is worth retrying: 408,
// 429, 500, 502, 503 and 504.
func transientStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// parseRetryAfter reads a Retry-After value, either delay-seconds (a
// non-negative number, fractions accepted) or an HTTP date, relative to now.
// A date in the past means 0. The result is at most MaxRetryAfter, the one
// bound on a server's Retry-After. ok is false when the value is absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if c := v[0]; c >= '0' && c <= '9' || c == '.' {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) || secs < 0 {
			return 0, false
		}
		if secs >= MaxRetryAfter.Seconds() {
			return MaxRetryAfter, true
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(0, t.Sub(now)), MaxRetryAfter), true
}

// withAttempts notes on err how many attempts were made, when more than one.
func withAttempts(err error, attempts int) error {
	if attempts <= 1 {
		return err
	}
	return fmt.Errorf("%w (after %d attempts)", err, attempts)
}
