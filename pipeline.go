package stewai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/stewai/stewai-go/internal/clock"
)

// The one request pipeline. Every call of every service, and Client.Do,
// describes itself as a request and hands it to core.do, which runs it
// through the same stages on each attempt:
//
//	do            retries what is transient (policy in retry.go)
//	└ attempt     one exchange, bounded by the request timeout
//	  ├ newHTTPRequest  URL, body, headers
//	  ├ send            the HTTP round trip
//	  ├ readAnswer      the body, bounded; a non-2xx answer becomes an *APIError
//	  └ decodeAnswer    JSON into the caller's value
//
// Nothing here calls into a service: the services and the wait (poll.go)
// call this file, never the other way round.

const (
	maxErrorBodyBytes = 64 << 10 // error bodies kept in APIError.Body
	drainLimit        = 256 << 10
)

// do sends r, retrying what is transient, and decodes a 2xx JSON answer into
// out (when out is not nil). Its errors are an *APIError for non-2xx
// answers, or a *requestError (network failure, timeout, malformed or
// oversized answer, cancelled context).
func (c *core) do(ctx context.Context, r *request, out any) error {
	if err := checkContext(ctx); err != nil {
		return err
	}
	ctx, leave := c.clock.Enter(ctx)
	defer leave()
	r.secret = c.apiKey
	var backoff *schedule
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, r, attempt, out)
		if err == nil {
			return nil
		}
		if !c.retryable(ctx, r, err, attempt) {
			if cerr := ctx.Err(); cerr != nil && transient(err) { // worth retrying, but the caller is gone
				return errCanceled(r, cerr)
			}
			return withAttempts(err, attempt)
		}
		if backoff == nil {
			backoff = newCallBackoff(c.clock)
		}
		delay := retryDelay(err, backoff)
		c.log.LogAttrs(ctx, slog.LevelWarn, "stewai: retrying",
			slog.String("method", r.method), slog.String("path", r.path),
			slog.Int("attempt", attempt), slog.Duration("delay", delay),
			slog.String("error", err.Error()))
		if err := c.clock.Sleep(ctx, delay); err != nil {
			return errCanceled(r, err)
		}
	}
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

// An answer is a type the API answers with: Run, RunSteps, Page, Recipe,
// MarketplaceRecipe, ExecutionContract, File. The pipeline hands it the
// body read for it alone, which decode reads whole with encoding/json (and
// so rejects what is not JSON) and may keep as its Raw without a copy; then
// validate checks it, so that {} or a JSON value of another shape is
// ErrMalformedResponse whichever call received it, rather than a zero value
// handed to the caller.
type answer interface {
	decode(body []byte) error
	validate() error
}

// get fetches the JSON object at path (with an encoded query, or "") and
// decodes it into a new T, through do.
func get[T any, PT interface {
	*T
	answer
}](ctx context.Context, c *core, path, query string) (*T, error) {
	var v T
	if err := c.do(ctx, &request{method: http.MethodGet, path: path, query: query}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// checkContext rejects a nil context, which would panic deep in net/http.
func checkContext(ctx context.Context) error {
	if ctx == nil {
		return invalidf("nil context.Context (use context.Background())")
	}
	return nil
}

// attempt sends r once and handles the answer.
func (c *core) attempt(ctx context.Context, r *request, attempt int, out any) error {
	timeout := c.requestTimeout
	if !r.deadline.IsZero() {
		timeout = min(timeout, r.deadline.Sub(c.clock.Now()))
		if timeout <= 0 {
			return errNoTimeLeft(r)
		}
	}
	actx, cancel, progress := c.attemptContext(traced(ctx, r), r, timeout)
	defer cancel()
	req, err := c.newHTTPRequest(actx, r, progress)
	if err != nil {
		return err
	}
	resp, err := c.send(ctx, req, r, attempt)
	if err != nil {
		return c.transportFailure(ctx, actx, r, err, timeout)
	}
	drained := false
	defer func() {
		if !drained { // drain a little so the connection can be reused
			_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
		}
		resp.Body.Close()
	}()
	b, err := c.readAnswer(ctx, actx, r, resp, timeout)
	drained = err == nil // a body read whole is at its end
	if err != nil {
		return err
	}
	return decodeAnswer(r, resp, b, out)
}

// traced returns the context an attempt of r derives from: for a request
// with a body, one that notes when the request's headers are written
// (r.reached, reset here). It sits beneath the attempt's own context: a
// context with values above the attempt's would make net/http join the
// attempt's with a goroutine (clock.RequestTimeout).
func traced(ctx context.Context, r *request) context.Context {
	if r.body == nil {
		return ctx
	}
	r.reached.Store(false)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaders: func() { r.reached.Store(true) }})
}

// attemptContext returns the context of one attempt, cancelled with
// ErrRequestTimeout when its timeout passes, and progress, to call as the
// body is sent. A body that streams is not cut while it makes progress: its
// timeout counts from the last progress (a stall, or the wait for the
// answer once it is sent).
func (c *core) attemptContext(ctx context.Context, r *request, timeout time.Duration) (context.Context, context.CancelFunc, func()) {
	if r.body == nil || !r.body.streams() {
		actx, cancel := c.requestTimeoutCtx(ctx, timeout, ErrRequestTimeout)
		return actx, cancel, func() {}
	}
	actx, cancel := context.WithCancelCause(ctx)
	var last atomic.Int64 // the clock's time of the last progress
	last.Store(c.clock.Now().UnixNano())
	// The first window is set before the request is sent, the next ones by
	// the watcher as each passes with progress made.
	window, stop := c.clock.WithTimeout(actx, timeout, ErrRequestTimeout)
	go func() { // one per streaming attempt; ends with the attempt
		for {
			<-window.Done()
			stop()
			if actx.Err() != nil {
				return
			}
			idle := c.clock.Now().Sub(time.Unix(0, last.Load()))
			if idle >= timeout {
				cancel(ErrRequestTimeout)
				return
			}
			window, stop = c.clock.WithTimeout(actx, timeout-idle, ErrRequestTimeout)
		}
	}()
	return actx, func() { cancel(context.Canceled) }, func() { last.Store(c.clock.Now().UnixNano()) }
}

// progressReader calls progress after each read that returns bytes.
type progressReader struct {
	r        io.Reader
	progress func()
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.progress()
	}
	return n, err
}

// WriteTo lets the transport's io.Copy reach r's own WriteTo (an upload's
// guard writes straight from its buffer), calling progress after each
// write.
func (p progressReader) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(progressWriter{w, p.progress}, p.r)
}

// progressWriter calls progress after each write that takes bytes.
type progressWriter struct {
	w        io.Writer
	progress func()
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if n > 0 {
		p.progress()
	}
	return n, err
}

// newHTTPRequest builds the HTTP request for one attempt of r: the URL
// below the base, the body opened afresh, and the headers.
func (c *core) newHTTPRequest(ctx context.Context, r *request, progress func()) (*http.Request, error) {
	u, err := requestURL(c.base, c.baseURL, r)
	if err != nil {
		return nil, errBuild(r, err)
	}
	var rd io.Reader
	if r.body != nil {
		if rd, err = r.body.open(ctx); err != nil {
			return nil, errBuild(r, err)
		}
		if r.body.streams() {
			rd = progressReader{rd, progress}
		}
	}
	req, err := newRequestAt(ctx, r.method, u, rd)
	if err != nil {
		return nil, errBuild(r, err)
	}
	h := req.Header // the keys are canonical; values built once are shared
	if r.body != nil {
		if ct := r.body.contentType(); ct == jsonContentType[0] {
			h["Content-Type"] = jsonContentType
		} else {
			h["Content-Type"] = []string{ct}
		}
		if req.GetBody == nil {
			req.ContentLength = r.body.size()
		}
	}
	h["Authorization"] = c.authHeader()
	h["User-Agent"] = c.uaHeader
	h["Accept"] = jsonContentType
	if r.idempotencyKey != "" {
		h["Idempotency-Key"] = []string{r.idempotencyKey}
	}
	return req, nil
}

// send makes the round trip and logs its status.
func (c *core) send(ctx context.Context, req *http.Request, r *request, attempt int) (*http.Response, error) {
	// The clock is read, and the record built, only for a logger that
	// takes debug records: the default one takes none.
	debug := c.log.Enabled(ctx, slog.LevelDebug)
	var start time.Time
	if debug {
		start = time.Now()
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	c.pollers.answered(protocolOf(resp))
	if debug {
		c.log.LogAttrs(ctx, slog.LevelDebug, "stewai: request",
			slog.String("method", r.method), slog.String("path", r.path),
			slog.Int("attempt", attempt), slog.Int("status", resp.StatusCode),
			slog.Duration("elapsed", time.Since(start)))
	}
	return resp, nil
}

// readAnswer reads the answer's body, at most maxResponseBytes of a 2xx one
// and maxErrorBodyBytes of any other. A non-2xx answer is returned as an
// *APIError, whatever its body.
func (c *core) readAnswer(ctx, actx context.Context, r *request, resp *http.Response, timeout time.Duration) ([]byte, error) {
	success := resp.StatusCode >= 200 && resp.StatusCode <= 299
	limit := int64(maxErrorBodyBytes) // an error body is cut there
	if success {
		if resp.ContentLength > c.maxResponseBytes {
			return nil, errTooLarge(r, fmt.Sprintf("response body of %d bytes is over the %d-byte limit", resp.ContentLength, c.maxResponseBytes))
		}
		limit = c.maxResponseBytes
	}
	b, over, readErr := readBounded(resp.Body, limit, resp.ContentLength)
	if actx.Err() != nil {
		// The attempt's timeout covers the whole exchange: an answer that
		// completes after it fired is not taken, however it raced in.
		return nil, c.transportFailure(ctx, actx, r, clock.Cause(actx), timeout)
	}
	if !success {
		// The status line is in: even a body cut short tells the outcome.
		ra, _ := parseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now())
		c.noteAnswer(resp.StatusCode, ra)
		return nil, newAPIError(r.method, r.path, resp.StatusCode, resp.Header, b, over || readErr != nil, ra, c.apiKey())
	}
	if readErr != nil {
		return nil, c.transportFailure(ctx, actx, r, readErr, timeout)
	}
	if over {
		return nil, errTooLarge(r, fmt.Sprintf("response body is over the %d-byte limit", c.maxResponseBytes))
	}
	return b, nil
}

// readBounded reads r until EOF or limit bytes, into a buffer sized from
// sizeHint (the Content-Length, -1 when unknown) and grown by doubling, but
// never past limit: an answer costs at most 1.5 times the limit at the peak
// of its reading, and twice in all. over reports that r had more than
// limit bytes (one more byte is read to know it).
func readBounded(r io.Reader, limit, sizeHint int64) (b []byte, over bool, err error) {
	size := int64(512)
	if sizeHint >= 0 {
		size = sizeHint + 1 // room to see EOF without growing
	}
	b = make([]byte, 0, min(size, limit))
	for {
		if len(b) == cap(b) {
			if int64(len(b)) >= limit {
				var probe [1]byte
				n, err := io.ReadFull(r, probe[:])
				if err == io.ErrUnexpectedEOF || err == io.EOF {
					err = nil
				}
				return b, n > 0, err
			}
			grown := make([]byte, len(b), min(2*int64(cap(b)), limit))
			copy(grown, b)
			b = grown
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, false, nil
		}
		if err != nil {
			return b, false, err
		}
	}
}

// decodeAnswer decodes a 2xx body into out and, when out is an answer of
// this package, checks that it is the object expected.
func decodeAnswer(r *request, resp *http.Response, b []byte, out any) error {
	if out == nil {
		return nil
	}
	b = trimJSONSpace(b)
	if len(b) == 0 {
		if r.emptyOK {
			return nil
		}
		return errMalformed(r, fmt.Sprintf("malformed response: empty body (status %d)", resp.StatusCode), nil)
	}
	var err, cause error
	if a, ok := out.(answer); ok {
		// Handing the body over directly spares json.Unmarshal two passes
		// of its own (one to check it, one to skip over it) before it calls
		// the same decoding.
		if err = a.decode(b); err == nil {
			err = a.validate() // its text may quote the server: not kept as a cause
		} else {
			cause = err
		}
	} else {
		err = json.Unmarshal(b, out) // Client.Do's value of the caller's
		cause = err
	}
	if err != nil {
		// The message, whose server text is redacted, says it all; a
		// decoding error stays reachable with errors.As.
		return errMalformed(r, fmt.Sprintf("malformed response (status %d, %s): %v", resp.StatusCode, contentTypeOf(resp), err), cause)
	}
	return nil
}

// transportFailure turns an error from sending a request or reading its
// answer into the error the caller sees: the caller's context error when
// that context is done, ErrRequestTimeout when the attempt's own timeout
// fired, and a transient connection error otherwise.
func (c *core) transportFailure(ctx, actx context.Context, r *request, err error, timeout time.Duration) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	var e *requestError
	switch {
	case ctx.Err() != nil:
		e = errCanceled(r, ctx.Err())
	case clock.Cause(actx) == ErrRequestTimeout:
		e = errTimedOut(r, timeout)
	case isTimeout(err):
		e = errClientTimeout(r, err)
	default:
		e = errTransport(r, err)
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "stewai: request failed",
		slog.String("method", r.method), slog.String("path", r.path), slog.String("error", e.msg))
	return e
}

// isTimeout reports whether a transport error is a timeout of the
// http.Client or its transport (Client.Timeout, a dial or TLS timeout).
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// contentTypeOf is the answer's Content-Type for an error message, on one
// short line.
func contentTypeOf(resp *http.Response) string {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		return shortLine(ct, 100)
	}
	return "no content type"
}

// isNull reports whether b is the JSON literal null.
func isNull(b []byte) bool { return string(trimJSONSpace(b)) == "null" }

// trimJSONSpace trims what JSON counts as white space, and nothing else:
// "\v" or U+00A0 around a value make it invalid, not null. (A loop:
// bytes.Trim builds its set of bytes on every call.)
func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
