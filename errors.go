package stewai

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stewai/stewai-go/internal/retry"
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
func (e *APIError) retryable() bool { return retry.TransientStatus(e.StatusCode) }

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

// requestError is a call that got no usable answer from the server: a
// network failure, a timeout, a malformed or oversized body, or a cancelled
// context. It matches its kind (ErrRequestTimeout, ErrMalformedResponse,
// ErrResponseTooLarge) and its cause with errors.Is and errors.As. Make one
// with the err* constructors below.
type requestError struct {
	method, path string
	msg          string
	kind         error // a sentinel of this package, or nil
	cause        error // the underlying error, or nil
	transient    bool
}

func (e *requestError) Error() string {
	return fmt.Sprintf("stewai: %s %s: %s", e.method, e.path, e.msg)
}

func (e *requestError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.kind, e.cause} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (e *requestError) retryable() bool { return e.transient }

func newRequestError(r *request, msg string, kind, cause error, transient bool) *requestError {
	if r.secret != nil {
		msg = redact(msg, r.secret())
	}
	msg = strings.Map(func(c rune) rune { // one line, whatever a transport error quoted
		if c == '\n' || c == '\r' {
			return ' '
		}
		return c
	}, msg)
	return &requestError{method: r.method, path: r.path, msg: msg, kind: kind, cause: cause, transient: transient}
}

// errCanceled: the caller's context ended (err is its error).
func errCanceled(r *request, err error) *requestError {
	return newRequestError(r, err.Error(), nil, err, false)
}

// errTimedOut: the attempt got no complete answer within its timeout.
func errTimedOut(r *request, timeout time.Duration) *requestError {
	return newRequestError(r, fmt.Sprintf("no complete answer within %s", timeout), ErrRequestTimeout, nil, true)
}

// errClientTimeout: the http.Client's own Timeout (or its transport's)
// fired. It is ErrRequestTimeout, not the caller's context error: the
// caller's context did not end.
func errClientTimeout(r *request, err error) *requestError {
	return newRequestError(r, "no complete answer within the http.Client's timeout: "+err.Error(), ErrRequestTimeout, nil, true)
}

// errNoTimeLeft: the wait's deadline left no time for another attempt.
func errNoTimeLeft(r *request) *requestError {
	return newRequestError(r, "no time left before the wait's deadline", ErrRequestTimeout, nil, true)
}

// errTransport: sending the request or reading its answer failed. A
// connection failure is transient; a certificate the client rejects or a
// chain of redirects is not.
func errTransport(r *request, err error) *requestError {
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	permanent := errors.Is(err, errTooManyRedirects) || errors.As(err, &certErr) || errors.As(err, &unknownAuth)
	return newRequestError(r, err.Error(), nil, err, !permanent)
}

// errBuild: the request could not be built (its body could not be opened).
func errBuild(r *request, err error) *requestError {
	return newRequestError(r, err.Error(), nil, err, false)
}

// errMalformed: a 2xx answer that is not the JSON expected.
func errMalformed(r *request, msg string, cause error) *requestError {
	return newRequestError(r, msg, ErrMalformedResponse, cause, false)
}

// errTooLarge: a 2xx answer over the size limit.
func errTooLarge(r *request, msg string) *requestError {
	return newRequestError(r, msg, ErrResponseTooLarge, nil, false)
}

// invalidf returns an error matching ErrInvalidParams.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidParams, fmt.Sprintf(format, args...))
}

// maxMessageLen bounds the server message kept in an APIError's Message, so
// that Error() stays one readable line.
const maxMessageLen = 500

// newAPIError builds the error for a non-2xx answer. body is already capped;
// secret, when not empty, is cut out of everything the error keeps, in any
// form a server could echo it in.
func newAPIError(method, path string, status int, h http.Header, body []byte, retryAfter time.Duration, secret string) *APIError {
	body = redactBytes(body, secret)
	msg, code := parseErrorBody(body, h.Get("Content-Type"))
	return &APIError{
		StatusCode: status,
		Message:    redact(msg, secret),
		Code:       redact(code, secret),
		Body:       body,
		RequestID:  oneLine(redact(h.Get("X-Request-Id"), secret)),
		RetryAfter: retryAfter,
		Method:     method,
		Path:       path,
	}
}

// Bounds of the message extraction: how deep into nested lists it looks.
// The body is decoded once, so the work is linear in its size.
const maxMessageDepth = 4

// parseErrorBody pulls a message and code out of an error body: the common
// JSON shapes first, then plain text. HTML pages (a proxy's error page) give
// no message: the status line says more than their markup.
func parseErrorBody(body []byte, contentType string) (msg, code string) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return "", ""
	}
	if trimmed[0] == '{' {
		var v map[string]any
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		if dec.Decode(&v) == nil {
			code = jsonText(v["code"], 0)
			if nested, ok := v["error"].(map[string]any); ok {
				msg = jsonText(nested["message"], 0)
				if c := jsonText(nested["code"], 0); c != "" {
					code = c
				}
			}
			for _, k := range []string{"detail", "error", "message"} {
				if msg == "" {
					msg = jsonText(v[k], 0)
				}
			}
			return oneLine(msg), oneLine(code)
		}
	}
	if strings.Contains(contentType, "html") || trimmed[0] == '<' {
		return "", ""
	}
	if !utf8.Valid(trimmed) {
		return "", ""
	}
	return oneLine(string(trimmed)), ""
}

// jsonText renders a decoded JSON value as message text: a string as
// itself, a number as written, a list of validation details ({"msg": ...}
// objects or strings) joined with "; ", looking at most maxMessageDepth
// lists deep and stopping once the text is long enough to be cut. Anything
// else gives "".
func jsonText(v any, depth int) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case []any:
		if depth >= maxMessageDepth {
			return ""
		}
		var parts []string
		total := 0
		for _, item := range x {
			t := jsonText(item, depth+1)
			if obj, ok := item.(map[string]any); ok && t == "" {
				t = jsonText(obj["msg"], depth+1)
			}
			if t != "" {
				parts = append(parts, t)
				if total += len(t) + 2; total > maxMessageLen {
					break
				}
			}
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

// redacted replaces the key wherever it is found.
const redacted = "[REDACTED]"

// redact removes secret from s in every form a server could echo it in:
// as it is, URL-escaped, or JSON-escaped inside a string literal.
func redact(s, secret string) string {
	if secret == "" || s == "" {
		return s
	}
	return string(redactBytes([]byte(s), secret))
}

// redactBytes is redact for bytes. It returns b itself when there is
// nothing to remove.
func redactBytes(b []byte, secret string) []byte {
	if secret == "" || len(b) == 0 {
		return b
	}
	for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
		if bytes.Contains(b, []byte(form)) {
			b = bytes.ReplaceAll(b, []byte(form), []byte(redacted))
		}
	}
	if bytes.IndexByte(b, '\\') < 0 {
		return b // no escapes: no other form to find
	}
	return redactJSONStrings(b, secret)
}

// redactJSONStrings rewrites each JSON string literal in b whose decoded
// value contains secret (written with escapes such as \u0073 or \/).
func redactJSONStrings(b []byte, secret string) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		end := i + 1
		for end < len(b) && b[end] != '"' {
			if b[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(b) {
			break
		}
		var s string
		if bytes.IndexByte(b[i:end], '\\') >= 0 && json.Unmarshal(b[i:end+1], &s) == nil && strings.Contains(s, secret) {
			enc, _ := json.Marshal(strings.ReplaceAll(s, secret, redacted))
			out = append(append(out, b[last:i]...), enc...)
			last = end + 1
		}
		i = end
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// oneLine collapses whitespace runs (newlines included) to single spaces and
// truncates to maxMessageLen bytes on a rune boundary.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxMessageLen {
		return s
	}
	cut := maxMessageLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
