package stewai

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Errors to match with errors.Is. Each error this package returns matches at
// most one of the API outcomes below, and a cancelled or expired context is
// reported with the context's own error (context.Canceled, ...).
var (
	// ErrMissingAPIKey: no API key was given with WithAPIKey and
	// STEWAI_API_KEY is empty. Nothing was sent.
	ErrMissingAPIKey = errors.New("stewai: missing API key: set STEWAI_API_KEY or use WithAPIKey")
	// ErrInvalidParams: an argument or option is invalid. The error says
	// which and why; nothing was sent.
	ErrInvalidParams = errors.New("stewai: invalid params")
	// ErrAuthentication: the server answered 401 or 403 (see *APIError).
	ErrAuthentication = errors.New("stewai: authentication failed")
	// ErrRateLimited: the server answered 429 (see *APIError and its
	// RetryAfter) and the retries allowed were used up.
	ErrRateLimited = errors.New("stewai: rate limited")
	// ErrNotFound: the server answered 404 (see *APIError).
	ErrNotFound = errors.New("stewai: not found")
	// ErrRunFailed: the run ended in status failed (see *RunError).
	ErrRunFailed = errors.New("stewai: run failed")
	// ErrRunCancelled: the run ended in status cancelled (see *RunError).
	ErrRunCancelled = errors.New("stewai: run cancelled")
	// ErrRunBlocked: the run ended in status blocked (see *RunError).
	ErrRunBlocked = errors.New("stewai: run blocked")
	// ErrWaitTimeout: the wait's timeout passed before the run ended (see
	// *TimeoutError). The run goes on on the server.
	ErrWaitTimeout = errors.New("stewai: wait timed out")
	// ErrRequestTimeout: one attempt got no complete answer within the
	// request timeout (WithRequestTimeout) and the retries allowed were used
	// up.
	ErrRequestTimeout = errors.New("stewai: request timed out")
	// ErrResponseTooLarge: a response body was larger than the limit set
	// with WithMaxResponseBytes. It was not read past the limit.
	ErrResponseTooLarge = errors.New("stewai: response body too large")
	// ErrMalformedResponse: a successful answer could not be decoded: it was
	// empty, not JSON, of the wrong JSON type, or lacked a required field.
	ErrMalformedResponse = errors.New("stewai: malformed response")
)

// APIError is an answer from the server with a status other than 2xx. It
// matches ErrAuthentication (401, 403), ErrRateLimited (429) or ErrNotFound
// (404) with errors.Is.
type APIError struct {
	// StatusCode is the HTTP status, such as 400 or 503.
	StatusCode int
	// Message is the server's explanation, taken from the common JSON error
	// shapes ({"detail": ...}, {"error": {"message": ...}}, {"message": ...})
	// or from a plain-text body; empty when there is none.
	Message string
	// Code is a machine-readable error code when the body carries one.
	Code string
	// Body is the raw body, at most 64 KiB of it.
	Body []byte
	// RequestID is the X-Request-Id header of the answer, if any; quote it
	// when contacting support.
	RequestID string
	// RetryAfter is the delay the server asked for in a Retry-After header
	// (seconds or an HTTP date), or 0.
	RetryAfter time.Duration
	// Method and Path identify the request, Path relative to the base URL
	// (for example "POST" and "runs/").
	Method, Path string
}

// Error returns one line: the request, the status and the server's message.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stewai: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request id %s)", e.RequestID)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrAuthentication), ErrRateLimited and ErrNotFound
// work on an *APIError with the matching status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrAuthentication:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	}
	return false
}

// retryable reports whether the answer is worth another attempt: 408, 429,
// 500, 502, 503 or 504.
func (e *APIError) retryAfter() time.Duration { return e.RetryAfter }

func (e *APIError) retryable() bool { return transientStatus(e.StatusCode) }

// RunError reports a run that ended failed, cancelled or blocked. It matches
// ErrRunFailed, ErrRunCancelled or ErrRunBlocked with errors.Is.
type RunError struct {
	// RunID is the run's id.
	RunID string
	// Run is the run as last received, with its Raw object.
	Run *Run
}

// Error returns "stewai: run <id> <status>".
func (e *RunError) Error() string {
	return fmt.Sprintf("stewai: run %s %s", e.RunID, e.status())
}

// Is matches the sentinel for the run's final status.
func (e *RunError) Is(target error) bool {
	f := e.status().failure()
	return f != nil && f == target
}

func (e *RunError) status() Status {
	if e.Run == nil {
		return ""
	}
	return e.Run.Status
}

// TimeoutError reports that a wait ran out of time before the run ended. It
// matches ErrWaitTimeout with errors.Is. The run was not cancelled: it goes
// on on the server and can be waited for again.
type TimeoutError struct {
	// RunID is the run's id.
	RunID string
	// Timeout is the wait's timeout.
	Timeout time.Duration
	// LastStatus is the last status received, or "" if no poll succeeded.
	LastStatus Status
	// Err is the last failed poll's error when the final polls failed
	// (for example a server answering 503); nil otherwise.
	Err error
}

// Error returns one line naming the run, its last status and the timeout.
func (e *TimeoutError) Error() string {
	last := string(e.LastStatus)
	if last == "" {
		last = "unknown"
	}
	msg := fmt.Sprintf("stewai: run %s still %s after waiting %s (the run goes on)", e.RunID, last, e.Timeout)
	if e.Err != nil {
		msg += ": last poll: " + e.Err.Error()
	}
	return msg
}

// Is matches ErrWaitTimeout.
func (e *TimeoutError) Is(target error) bool { return target == ErrWaitTimeout }

// Unwrap returns the last failed poll's error, if any.
func (e *TimeoutError) Unwrap() error { return e.Err }

// invalidf returns an error matching ErrInvalidParams.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidParams, fmt.Sprintf(format, args...))
}
