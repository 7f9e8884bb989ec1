// Package retry holds the SDK's retry policy: which answers are transient,
// how long a server asks to wait, and the jittered exponential schedules
// used between attempts and between polls.
package retry

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// MaxRetryAfter bounds any delay parsed from a Retry-After header, so that a
// hostile or broken value cannot overflow or park a caller for days.
const MaxRetryAfter = 24 * time.Hour

// Schedule yields delays that start at an initial interval and grow by a
// factor up to a maximum; each delay is the current interval ± a jitter
// fraction, clamped to [0, max]. It is backoff.ExponentialBackOff with the
// hard cap that type lacks (it caps the interval before randomizing).
// A Schedule is not safe for concurrent use: make one per loop.
type Schedule struct {
	b      *backoff.ExponentialBackOff
	max    time.Duration
	jitter float64
	factor float64
	cur    time.Duration // the interval of the next step, as backoff's own
}

// NewSchedule returns a schedule. clk only serves backoff's elapsed-time
// bookkeeping; the schedule itself never stops.
func NewSchedule(initial, max time.Duration, factor, jitter float64, clk backoff.Clock) *Schedule {
	if initial > max {
		initial = max
	}
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(initial),
		backoff.WithMaxInterval(max),
		backoff.WithMultiplier(factor),
		backoff.WithRandomizationFactor(jitter),
		backoff.WithMaxElapsedTime(0),
		backoff.WithClockProvider(clk),
	)
	return &Schedule{b: b, max: max, jitter: jitter, factor: factor, cur: initial}
}

// Floor is the shortest delay the schedule's next step can give, without
// moving the schedule on: a delay below it would be faster than the
// schedule allows.
func (s *Schedule) Floor() time.Duration {
	return min(time.Duration(float64(s.cur)*(1-s.jitter)), s.max)
}

// Next returns the next delay and moves the schedule on.
func (s *Schedule) Next() time.Duration {
	d := max(0, min(s.b.NextBackOff(), s.max))
	s.cur = min(time.Duration(float64(s.cur)*s.factor), s.max)
	return d
}

// TransientStatus reports whether an HTTP status is worth retrying:
// 408, 429, 500, 502, 503 and 504.
func TransientStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// ParseRetryAfter reads a Retry-After value, either delay-seconds (a
// non-negative number, fractions accepted) or an HTTP date, relative to now.
// A date in the past means 0. The result is at most MaxRetryAfter. ok is false
// when the value is absent or unreadable.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
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
