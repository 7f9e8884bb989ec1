// Package stewai is the Go client for the StewAI runs API: start recipe runs,
// wait for them, read each step's output and upload the files runs ingest.
//
// A Client is safe for concurrent use; make one and share it:
//
//	client, err := stewai.NewClient() // key from STEWAI_API_KEY
//	if err != nil { ... }
//	run, err := client.Runs.Create(ctx, stewai.CreateRunParams{
//		RecipeID: "01JEXAMPLE00000000000000000",
//		Inputs:   map[string]string{"company_name": "Acme Corp"},
//	}) // waits until the run is done, failed, cancelled or blocked
//
// Every call takes a context; cancelling it stops the call at once. Transient
// failures are retried with backoff. Errors are matched with errors.Is against
// the Err* values and with errors.As against *APIError, *RunError and
// *TimeoutError. Package stewaitest serves a fake StewAI for tests.
package stewai

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stewai/stewai-go/internal/clock"
	"github.com/stewai/stewai-go/internal/hooks"
	"github.com/stewai/stewai-go/internal/retry"
)

const (
	// DefaultBaseURL is the StewAI API used when neither WithBaseURL nor
	// STEWAI_BASE_URL says otherwise.
	DefaultBaseURL = "https://api.stewai.com/v1"
	// Version is this SDK's version, sent as User-Agent: stewai-go/<Version>.
	Version = "0.1.0"
)

const (
	defaultMaxRetries       = 2
	defaultRequestTimeout   = 60 * time.Second
	defaultMaxResponseBytes = 64 << 20
	maxErrorBodyBytes       = 64 << 10 // error bodies kept in APIError.Body
	drainLimit              = 256 << 10
	maxRedirects            = 10
	// The schedule between attempts of one call, unless the server sends
	// Retry-After (honoured up to maxRetryWait).
	retryInitial = 500 * time.Millisecond
	retryMax     = 8 * time.Second
	retryFactor  = 2
	retryJitter  = 0.25
	maxRetryWait = 60 * time.Second
)

// Client talks to the StewAI API. Make one with NewClient and share it: it is
// safe for concurrent use and reuses connections. The zero value is not usable.
type Client struct {
	// Runs starts runs, waits for them and reads their steps.
	Runs *RunsService
	// Storage uploads files to the Pantry and resolves Pantry paths.
	Storage *StorageService

	core *core
}

// RunsService is the runs part of the API; use it as Client.Runs.
type RunsService struct{ core *core }

// StorageService is the storage (Pantry) part of the API; use it as
// Client.Storage.
type StorageService struct{ core *core }

// Option configures a Client in NewClient. Options check their argument: a
// bad one makes NewClient fail with an error matching ErrInvalidParams.
type Option func(*settings) error

type settings struct {
	apiKey           *string
	baseURL          *string
	httpClient       *http.Client
	maxRetries       int
	requestTimeout   time.Duration
	maxResponseBytes int64
	logger           *slog.Logger
	userAgent        string
	clock            clock.Clock
}

// WithAPIKey sets the API key ("sk-live-..."). It wins over STEWAI_API_KEY.
// An empty key is an error matching ErrMissingAPIKey.
func WithAPIKey(key string) Option {
	return func(s *settings) error {
		s.apiKey = &key
		return nil
	}
}

// WithBaseURL sets the API's base URL, for example a proxy or a fake server
// (see package stewaitest). It wins over STEWAI_BASE_URL; the default is
// DefaultBaseURL. The URL must be absolute http or https, without query,
// fragment or credentials; request paths go below its path.
func WithBaseURL(u string) Option {
	return func(s *settings) error {
		s.baseURL = &u
		return nil
	}
}

// WithHTTPClient makes the client send requests with c, for custom transports,
// proxies or instrumentation. c is not modified; its Timeout, Transport and
// Jar apply, and its CheckRedirect is consulted for redirects within the API
// host (redirects to any other host are never followed).
func WithHTTPClient(c *http.Client) Option {
	return func(s *settings) error {
		if c == nil {
			return invalidf("WithHTTPClient: nil *http.Client")
		}
		s.httpClient = c
		return nil
	}
}

// WithMaxRetries sets how many times one call retries a transient failure
// (network error, 408, 429, 500, 502, 503, 504) before returning it. The
// default is 2; 0 disables retries. Waits keep polling through transient
// failures until their own timeout, whatever this says.
func WithMaxRetries(n int) Option {
	return func(s *settings) error {
		if n < 0 {
			return invalidf("WithMaxRetries: negative count %d", n)
		}
		s.maxRetries = n
		return nil
	}
}

// WithRequestTimeout bounds each attempt of a request, from sending it to
// reading the whole answer. The default is 60 s. A call's total time is
// bounded by its context.
func WithRequestTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return invalidf("WithRequestTimeout: %s is not positive", d)
		}
		s.requestTimeout = d
		return nil
	}
}

// WithMaxResponseBytes bounds the size of a successful answer's body; a
// larger one fails with ErrResponseTooLarge. The default is 64 MiB.
func WithMaxResponseBytes(n int64) Option {
	return func(s *settings) error {
		if n <= 0 {
			return invalidf("WithMaxResponseBytes: %d is not positive", n)
		}
		s.maxResponseBytes = n
		return nil
	}
}

// WithLogger makes the client log each request, retry and poll at debug
// level (method, path, status, attempt, delay), and retries at warn level.
// Headers, bodies and the API key are never logged. The default is silence.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) error {
		s.logger = l
		return nil
	}
}

// WithUserAgent appends a product token, such as "my-service/1.2", to the
// User-Agent header: "stewai-go/<Version> my-service/1.2".
func WithUserAgent(product string) Option {
	return func(s *settings) error {
		if !validHeaderValue(product) {
			return invalidf("WithUserAgent: %q has control characters", product)
		}
		s.userAgent = strings.TrimSpace(product)
		return nil
	}
}

// withClock replaces the clock behind waits, retry sleeps and request
// timeouts. Tests in this package and stewaitest use it (through hooks).
func withClock(c clock.Clock) Option {
	return func(s *settings) error {
		s.clock = c
		return nil
	}
}

func init() {
	hooks.WithClock = func(c clock.Clock) any { return withClock(c) }
}

// core is the state shared by a Client and its services: the settings and
// the one request pipeline (do).
type core struct {
	// apiKey returns the key. It is a closure, not a string field, because
	// fmt prints nested struct fields under some verbs (%s, %q, %x) but
	// never the variables a function value captures: no way of printing a
	// Client, a service or a struct holding them shows the key.
	apiKey           func() string
	baseURL          string // normalized: ends with "/"
	http             *http.Client
	userAgent        string
	maxRetries       int
	requestTimeout   time.Duration
	maxResponseBytes int64
	log              *slog.Logger
	clock            clock.Clock
}

// NewClient returns a client configured by opts, reading STEWAI_API_KEY and
// STEWAI_BASE_URL for what the options leave unset. It sends nothing. Without
// a key it fails with an error matching ErrMissingAPIKey; a bad option or
// environment value fails with one matching ErrInvalidParams.
func NewClient(opts ...Option) (*Client, error) {
	s := settings{
		maxRetries:       defaultMaxRetries,
		requestTimeout:   defaultRequestTimeout,
		maxResponseBytes: defaultMaxResponseBytes,
		clock:            clock.Real,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&s); err != nil {
			return nil, err
		}
	}

	var key string
	if s.apiKey != nil {
		key = strings.TrimSpace(*s.apiKey)
		if key == "" {
			return nil, fmt.Errorf("%w (WithAPIKey was given an empty key)", ErrMissingAPIKey)
		}
	} else {
		key = strings.TrimSpace(os.Getenv("STEWAI_API_KEY"))
		if key == "" {
			return nil, ErrMissingAPIKey
		}
	}
	if !validHeaderValue(key) || strings.ContainsAny(key, " \t") {
		// Never echo the key: say what is wrong with it, not what it is.
		return nil, invalidf("API key has spaces or control characters")
	}

	raw, from := DefaultBaseURL, "default base URL"
	if s.baseURL != nil {
		raw, from = *s.baseURL, "WithBaseURL"
	} else if env := os.Getenv("STEWAI_BASE_URL"); env != "" {
		raw, from = env, "STEWAI_BASE_URL"
	}
	base, err := normalizeBaseURL(raw)
	if err != nil {
		return nil, invalidf("%s: %v", from, err)
	}

	ua := "stewai-go/" + Version
	if s.userAgent != "" {
		ua += " " + s.userAgent
	}
	logger := s.logger
	if logger == nil {
		logger = slog.New(discardHandler{})
	}
	c := &core{
		apiKey:           func() string { return key },
		baseURL:          base.String(),
		http:             sameHostOnly(s.httpClient, base),
		userAgent:        ua,
		maxRetries:       s.maxRetries,
		requestTimeout:   s.requestTimeout,
		maxResponseBytes: s.maxResponseBytes,
		log:              logger,
		clock:            s.clock,
	}
	return &Client{Runs: &RunsService{c}, Storage: &StorageService{c}, core: c}, nil
}

// String describes the client without its key, for logs and debugging.
func (c *Client) String() string {
	if c == nil || c.core == nil {
		return "stewai.Client(nil)"
	}
	return fmt.Sprintf("stewai.Client{BaseURL: %s, APIKey: [REDACTED]}", c.core.baseURL)
}

// Format prints String for every verb (%v, %+v, %#v, %s, %q, %x, %d, ...), so
// no way of printing a Client shows its key.
func (c *Client) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// normalizeBaseURL checks a base URL and returns it with a trailing slash,
// so that relative paths join below it.
func normalizeBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q: scheme must be http or https", raw)
	case u.Host == "":
		return nil, fmt.Errorf("%q: no host", raw)
	case u.User != nil:
		return nil, fmt.Errorf("base URL must not hold credentials; use WithAPIKey")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("%q: must not have a query or fragment", raw)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u, nil
}

// errTooManyRedirects ends a chain of redirects within the API host.
var errTooManyRedirects = errors.New("stopped after 10 redirects")

// sameHostOnly returns a copy of hc (or of a default client) whose redirects
// never leave base's scheme and host: the request carrying the key and the
// body is not re-sent anywhere else. A redirect elsewhere is returned as the
// answer, which the pipeline reports as an *APIError.
func sameHostOnly(hc *http.Client, base *url.URL) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	}
	userCheck := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != base.Scheme || !strings.EqualFold(req.URL.Host, base.Host) {
			return http.ErrUseLastResponse
		}
		if userCheck != nil {
			return userCheck(req, via)
		}
		if len(via) >= maxRedirects {
			return errTooManyRedirects
		}
		return nil
	}
	return &c
}

// validHeaderValue reports whether s can be sent in an HTTP header.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// request is one API call, as the services describe it to the pipeline.
type request struct {
	method string
	path   string // relative to the base URL, escaped, ending in "/"
	query  url.Values
	body   body
	// idempotencyKey, sent as Idempotency-Key, makes a POST safe to retry.
	idempotencyKey string
	// deadline, when set, bounds every attempt and retry sleep (on the
	// client's clock): a wait passes its own deadline.
	deadline time.Time
	// noRetry makes one attempt only, for callers with their own schedule.
	noRetry bool
	// reached is set when an attempt has written its request headers: from
	// then on the server may have seen the request.
	reached atomic.Bool
}

// fail returns the error for a failure of r that is not an answer from the
// server; kind and cause may be nil.
func (r *request) fail(msg string, kind, cause error, transient bool) *requestError {
	return &requestError{method: r.method, path: r.path, msg: msg, kind: kind, cause: cause, transient: transient}
}

// body is a request body that can be opened once per attempt.
type body interface {
	// open returns the body for the next attempt. A *bytes.Reader gives the
	// transport a replayable body with a known length.
	open() (io.Reader, error)
	contentType() string
	// size is the body's length in bytes, or -1 when unknown.
	size() int64
	// replayable reports whether open may be called again, given whether
	// the last attempt reached the server (wrote its request headers).
	replayable(reached bool) bool
}

// jsonBody is an encoded JSON request body.
type jsonBody []byte

func (b jsonBody) open() (io.Reader, error) { return bytes.NewReader(b), nil }
func (jsonBody) contentType() string        { return "application/json" }
func (b jsonBody) size() int64              { return int64(len(b)) }
func (jsonBody) replayable(bool) bool       { return true }

// do sends r, retrying what is transient, and decodes a 2xx JSON answer into
// out (when out is not nil). It is the only place that talks HTTP: every call
// of every service goes through it. Its errors are an *APIError for non-2xx
// answers, or a *requestError (network failure, timeout, malformed or
// oversized answer, cancelled context).
func (c *core) do(ctx context.Context, r *request, out any) error {
	maxRetries := c.maxRetries
	if r.noRetry {
		maxRetries = 0
	}
	var sched *retry.Schedule
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, r, attempt, out)
		if err == nil {
			return nil
		}
		if !isTransient(err) {
			return withAttempts(err, attempt)
		}
		if cerr := ctx.Err(); cerr != nil { // worth retrying, but the caller is gone
			return r.fail(cerr.Error(), nil, cerr, false)
		}
		if attempt > maxRetries || (r.body != nil && !r.body.replayable(r.reached.Load())) {
			return withAttempts(err, attempt)
		}
		if sched == nil {
			sched = retry.NewSchedule(retryInitial, retryMax, retryFactor, retryJitter, c.clock)
		}
		delay := sched.Next()
		if ra := retryAfter(err); ra > 0 {
			delay = min(ra, maxRetryWait)
		}
		if !r.deadline.IsZero() && c.clock.Now().Add(delay).After(r.deadline) {
			return withAttempts(err, attempt)
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "stewai: retrying",
			slog.String("method", r.method), slog.String("path", r.path),
			slog.Int("attempt", attempt), slog.Duration("delay", delay),
			slog.String("error", err.Error()))
		if err := c.clock.Sleep(ctx, delay); err != nil {
			return r.fail(err.Error(), nil, err, false)
		}
	}
}

// attempt sends r once and handles the answer.
func (c *core) attempt(ctx context.Context, r *request, attempt int, out any) error {
	timeout := c.requestTimeout
	if !r.deadline.IsZero() {
		timeout = min(timeout, r.deadline.Sub(c.clock.Now()))
		if timeout <= 0 {
			return r.fail("no time left before the wait's deadline", ErrRequestTimeout, nil, true)
		}
	}
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.reached.Store(false)
	if r.body != nil {
		actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{WroteHeaders: func() { r.reached.Store(true) }})
	}
	stopTimer := c.clock.AfterFunc(timeout, func() { cancel(ErrRequestTimeout) })
	defer stopTimer()

	target := c.baseURL + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var rd io.Reader
	if r.body != nil {
		var err error
		if rd, err = r.body.open(); err != nil {
			return r.fail(err.Error(), nil, err, false)
		}
	}
	req, err := http.NewRequestWithContext(actx, r.method, target, rd)
	if err != nil {
		return r.fail(err.Error(), nil, err, false)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", r.body.contentType())
		if req.GetBody == nil {
			req.ContentLength = r.body.size()
		}
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey())
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	if r.idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", r.idempotencyKey)
	}

	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportFailure(ctx, actx, r, err, timeout)
	}
	defer func() {
		// Drain a little so the connection can be reused, then close.
		_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
		resp.Body.Close()
	}()
	c.log.LogAttrs(ctx, slog.LevelDebug, "stewai: request",
		slog.String("method", r.method), slog.String("path", r.path),
		slog.Int("attempt", attempt), slog.Int("status", resp.StatusCode),
		slog.Duration("elapsed", time.Since(start)))

	success := resp.StatusCode >= 200 && resp.StatusCode <= 299
	limit := int64(maxErrorBodyBytes)
	if success {
		if resp.ContentLength > c.maxResponseBytes {
			return r.fail(fmt.Sprintf("response body of %d bytes is over the %d-byte limit", resp.ContentLength, c.maxResponseBytes),
				ErrResponseTooLarge, nil, false)
		}
		limit = c.maxResponseBytes + 1
	}
	b, readErr := io.ReadAll(io.LimitReader(resp.Body, limit))
	if actx.Err() != nil {
		// The attempt's timeout covers the whole exchange: an answer that
		// completes after it fired is not taken, however it raced in.
		return c.transportFailure(ctx, actx, r, context.Cause(actx), timeout)
	}
	if !success {
		// The status line is in: even a body cut short tells the outcome.
		ra, _ := retry.ParseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now())
		return newAPIError(r.method, r.path, resp.StatusCode, resp.Header, b, ra, c.apiKey())
	}
	if readErr != nil {
		return c.transportFailure(ctx, actx, r, readErr, timeout)
	}
	if int64(len(b)) > c.maxResponseBytes {
		return r.fail(fmt.Sprintf("response body is over the %d-byte limit", c.maxResponseBytes), ErrResponseTooLarge, nil, false)
	}
	if out == nil {
		return nil
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return r.fail(fmt.Sprintf("malformed response: empty body (status %d)", resp.StatusCode), ErrMalformedResponse, nil, false)
	}
	if err := decodeJSON(b, out); err != nil {
		return r.fail(fmt.Sprintf("malformed response (status %d, %s): %v", resp.StatusCode, contentTypeOf(resp), err),
			ErrMalformedResponse, err, false)
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
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var e *requestError
	switch {
	case ctx.Err() != nil:
		e = r.fail(ctx.Err().Error(), nil, ctx.Err(), false)
	case context.Cause(actx) == ErrRequestTimeout:
		e = r.fail(fmt.Sprintf("no complete answer within %s", timeout), ErrRequestTimeout, nil, true)
	case errors.Is(err, errTooManyRedirects), errors.As(err, &certErr), errors.As(err, &unknownAuth):
		e = r.fail(err.Error(), nil, err, false)
	default:
		e = r.fail(err.Error(), nil, err, true)
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "stewai: request failed",
		slog.String("method", r.method), slog.String("path", r.path), slog.String("error", e.msg))
	return e
}

func contentTypeOf(resp *http.Response) string {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		return ct
	}
	return "no content type"
}

// requestError is a call that got no usable answer from the server: a
// network failure, a timeout, a malformed or oversized body, or a cancelled
// context. It matches its kind (ErrRequestTimeout, ErrMalformedResponse,
// ErrResponseTooLarge) and its cause with errors.Is and errors.As.
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

// isTransient reports whether err is worth retrying: a network failure, an
// attempt timeout, or a 408, 429, 500, 502, 503 or 504 answer.
func isTransient(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return retry.TransientStatus(apiErr.StatusCode)
	}
	var reqErr *requestError
	return errors.As(err, &reqErr) && reqErr.transient
}

// retryAfter returns the delay a 429 or 503 answer asked for, or 0.
func retryAfter(err error) time.Duration {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.RetryAfter
	}
	return 0
}

// withAttempts notes on err how many attempts were made, when more than one.
func withAttempts(err error, attempts int) error {
	if attempts <= 1 {
		return err
	}
	return fmt.Errorf("%w (after %d attempts)", err, attempts)
}

// discardHandler is a slog.Handler that drops everything (slog.DiscardHandler
// needs Go 1.24; this module supports 1.23).
type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }
