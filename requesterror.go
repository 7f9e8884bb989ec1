package stewai

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

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
