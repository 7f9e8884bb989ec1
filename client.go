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
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/stewai/stewai-go/internal/clock"
	"github.com/stewai/stewai-go/internal/config"
)

const (
	// DefaultBaseURL is the StewAI API used when neither WithBaseURL nor
	// STEWAI_BASE_URL says otherwise.
	DefaultBaseURL = "https://api.stewai.com/v1"
	// Version is this SDK's version, sent as User-Agent: stewai-go/<Version>.
	Version = "0.2.0"
)

const (
	defaultMaxResponseBytes = 64 << 20
)

// Client talks to the StewAI API. Make one with NewClient and share it: it is
// safe for concurrent use and reuses connections. The zero value is not usable.
type Client struct {
	// Runs starts runs, waits for them and reads their steps.
	Runs *RunsService
	// Storage uploads files to the Pantry and resolves Pantry paths.
	Storage *StorageService
	// Recipes lists the key's recipes and reads their execution contracts.
	Recipes *RecipesService
	// Marketplace searches and runs published recipes, where enabled.
	Marketplace *MarketplaceService

	core *core
}

// Option configures a Client in NewClient. Options check their argument: a
// bad one makes NewClient fail with an error matching ErrInvalidParams.
type Option = config.Option

// WithAPIKey sets the API key ("sk-live-..."). It wins over STEWAI_API_KEY.
// An empty key is an error matching ErrMissingAPIKey.
func WithAPIKey(key string) Option {
	return func(s *config.Settings) error {
		s.APIKey = &key
		return nil
	}
}

// WithBaseURL sets the API's base URL, for example a proxy or a fake server
// (see package stewaitest). It wins over STEWAI_BASE_URL; the default is
// DefaultBaseURL. The URL must be absolute http or https ("add https://"
// says an error for one without a scheme), without query, fragment or
// credentials (any "@" is refused, and the error quotes none of it);
// request paths go below its path.
func WithBaseURL(u string) Option {
	return func(s *config.Settings) error {
		s.BaseURL = &u
		return nil
	}
}

// WithHTTPClient makes the client send requests with c, for custom transports,
// proxies or instrumentation. c is not modified; its Timeout, Transport and
// Jar apply, and its CheckRedirect is consulted for redirects within the API
// host (redirects to any other host are never followed).
func WithHTTPClient(c *http.Client) Option {
	return func(s *config.Settings) error {
		if c == nil {
			return invalidf("WithHTTPClient: nil *http.Client")
		}
		s.HTTPClient = c
		return nil
	}
}

// WithMaxConnsPerHost caps the connections the client opens to the API
// host, when it uses its own transport (no WithHTTPClient); the default is
// 64, and n must be between 1 and 65536 (ErrInvalidParams otherwise).
// Requests beyond the cap wait for a connection, and the idle pool keeps
// as many, so that many concurrent waits reuse connections instead of
// dialling anew for every burst of polls.
//
// The polls of all waits run on a few shared goroutines, as many as the
// protocol of the API's last answer allows: one before any answer; over
// HTTP/1.1 one fewer than the cap (at least one), so that a call that is
// not a poll always finds a connection no poll holds; over HTTP/2, whose
// connections carry many requests at once, 64. A wait's own goroutine only
// sleeps between its polls.
//
// The SDK's own transport is a clone of http.DefaultTransport with this
// cap. A program that replaced http.DefaultTransport with a round tripper
// of its own (instrumentation, a proxy dialer) keeps it: the client sends
// through it as given, and capping connections is then that round
// tripper's business. With WithHTTPClient, set the cap on the caller's
// transport instead: this option is then an error.
func WithMaxConnsPerHost(n int) Option {
	return func(s *config.Settings) error {
		if n <= 0 || n > maxConnsLimit {
			return invalidf("WithMaxConnsPerHost: %d is not between 1 and %d", n, maxConnsLimit)
		}
		s.MaxConnsPerHost = n
		return nil
	}
}

// MiddlewareNext sends a request on: to the next middleware, or to the
// transport. A middleware calls it at most once per request it is given.
type MiddlewareNext = func(*http.Request) (*http.Response, error)

// Middleware is one layer around every request a client sends: it may
// change the request (a clone: requests are not to be changed in place),
// call next, and look at or replace the answer and error. For tracing (such
// as otelhttp), metrics and extra headers. A middleware sees the API key in
// the Authorization header, as any RoundTripper would: never log it.
type Middleware = func(req *http.Request, next MiddlewareNext) (*http.Response, error)

// WithMiddleware passes every request the client sends, polls and retries
// included, through mw in the order given, the first outermost. The
// middleware runs inside the client's transport: on the SDK's own, the
// connection cap and the shared pollers stay as they are (the cap applies
// inside next: a middleware timing next also times the wait for a free
// connection); with
// WithHTTPClient it wraps the caller's transport the same way (the caller's
// client is not changed). Given more than once, the lists add up. A nil
// middleware is ErrInvalidParams.
func WithMiddleware(mw ...Middleware) Option {
	return func(s *config.Settings) error {
		for i, m := range mw {
			if m == nil {
				return invalidf("WithMiddleware: middleware %d is nil", i)
			}
		}
		s.Middleware = append(s.Middleware, mw...)
		return nil
	}
}

// WithPollRate bounds the polls of all the waits of the client (Wait,
// Create, Watch, WaitAll, WaitEach) to perSecond a second. For a whole
// number n, at most n polls go out in any one second, all at once when n
// fall due together (a burst of at most one second's worth); in general,
// at most k = ⌊perSecond⌋ polls (between 1 and 1024) in any k/perSecond
// seconds. When the bound holds polls back, they go out in the order they
// fell due, as the client's pollers take them. Only polls count: creates,
// gets and other calls are never held back. A wait's timeout still ends
// it on time. The default is no bound. Zero, negative, NaN or infinite
// rates are ErrInvalidParams.
func WithPollRate(perSecond float64) Option {
	return func(s *config.Settings) error {
		if !(perSecond > 0) || math.IsInf(perSecond, 0) {
			return invalidf("WithPollRate: %v is not a positive, finite rate", perSecond)
		}
		s.PollRate = perSecond
		return nil
	}
}

// WithMaxRetries sets how many times one call retries a transient failure
// (network error, 408, 429, 500, 502, 503, 504) before returning it. The
// default is 2; 0 disables retries. Waits keep polling through transient
// failures until their own timeout, whatever this says.
func WithMaxRetries(n int) Option {
	return func(s *config.Settings) error {
		if n < 0 {
			return invalidf("WithMaxRetries: negative count %d", n)
		}
		s.MaxRetries = n
		return nil
	}
}

// WithRequestTimeout bounds each attempt of a request, from sending it to
// reading the whole answer. The default is 60 s. A call's total time is
// bounded by its context.
func WithRequestTimeout(d time.Duration) Option {
	return func(s *config.Settings) error {
		if d <= 0 {
			return invalidf("WithRequestTimeout: %s is not positive", d)
		}
		s.RequestTimeout = d
		return nil
	}
}

// WithMaxResponseBytes bounds the size of a successful answer's body; a
// larger one fails with ErrResponseTooLarge. The default is 64 MiB.
func WithMaxResponseBytes(n int64) Option {
	return func(s *config.Settings) error {
		if n <= 0 {
			return invalidf("WithMaxResponseBytes: %d is not positive", n)
		}
		s.MaxResponseBytes = n
		return nil
	}
}

// WithLogger makes the client log each request, retry and poll at debug
// level (method, path, status, attempt, delay), and retries at warn level.
// Headers, bodies and the API key are never logged. The default is silence.
func WithLogger(l *slog.Logger) Option {
	return func(s *config.Settings) error {
		s.Logger = l
		return nil
	}
}

// WithUserAgent appends a product token, such as "my-service/1.2", to the
// User-Agent header: "stewai-go/<Version> my-service/1.2".
func WithUserAgent(product string) Option {
	return func(s *config.Settings) error {
		if !validHeaderValue(product) {
			return invalidf("WithUserAgent: %q has control characters", product)
		}
		s.UserAgent = strings.TrimSpace(product)
		return nil
	}
}

// WithInsecureHTTP allows a base URL of plain http:// to a host that is not
// loopback, over which the API key travels in clear text. Without it such a
// URL is an error; http:// to localhost or a loopback address is always
// allowed.
func WithInsecureHTTP() Option {
	return func(s *config.Settings) error {
		s.AllowInsecureHTTP = true
		return nil
	}
}

// withClock replaces the clock behind waits, retry sleeps and request
// timeouts, for this package's tests.
func withClock(c clock.Clock) Option { return config.WithClock(c) }

// NewClient returns a client configured by opts, reading STEWAI_API_KEY and
// STEWAI_BASE_URL for what the options leave unset. It sends nothing. Without
// a key it fails with an error matching ErrMissingAPIKey; a bad option or
// environment value fails with one matching ErrInvalidParams, such as a
// base URL without a scheme or with credentials (whose errors never quote
// them). Without WithHTTPClient the client has a transport of its own, a
// clone of http.DefaultTransport capped at WithMaxConnsPerHost connections,
// or http.DefaultTransport itself when a program replaced it with a round
// tripper of its own. Call CloseIdleConnections when a short-lived client
// is done.
func NewClient(opts ...Option) (*Client, error) {
	s, err := settings(opts)
	if err != nil {
		return nil, err
	}
	c, err := newCore(&s)
	if err != nil {
		return nil, err
	}
	return &Client{
		Runs:        &RunsService{c},
		Storage:     &StorageService{c},
		Recipes:     &RecipesService{c},
		Marketplace: &MarketplaceService{c},
		core:        c,
	}, nil
}

// CloseIdleConnections closes the idle connections of the client's
// transport (the SDK's own, or the one given with WithHTTPClient), as
// http.Client.CloseIdleConnections does. Connections in use are not
// touched. Call it when a short-lived client is done, or before goleak
// checks a test: an idle connection keeps two goroutines for up to 90 s.
func (c *Client) CloseIdleConnections() {
	if c == nil || c.core == nil {
		return
	}
	c.core.closeIdle()
}

// settings applies opts to the defaults; nil options are skipped.
func settings(opts []Option) (config.Settings, error) {
	s := config.Settings{
		MaxRetries:       DefaultMaxRetries,
		RequestTimeout:   DefaultRequestTimeout,
		MaxResponseBytes: defaultMaxResponseBytes,
		Clock:            clock.Real,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&s); err != nil {
			return s, err
		}
	}
	return s, nil
}

// newCore builds the pipeline's state from the settings, reading the
// environment for the key and base URL they leave unset.
func newCore(s *config.Settings) (*core, error) {
	key, err := apiKey(s.APIKey)
	if err != nil {
		return nil, err
	}
	base, err := baseURL(s.BaseURL, s.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	ua := "stewai-go/" + Version
	if s.UserAgent != "" {
		ua += " " + s.UserAgent
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	auth := []string{"Bearer " + key}
	hc, closeIdle, err := httpClient(s)
	if err != nil {
		return nil, err
	}
	c := &core{
		apiKey:           func() string { return key },
		authHeader:       func() []string { return auth },
		uaHeader:         []string{ua},
		base:             base,
		baseURL:          base.String(),
		http:             sameHostOnly(hc, base),
		maxRetries:       s.MaxRetries,
		requestTimeout:   s.RequestTimeout,
		maxResponseBytes: s.MaxResponseBytes,
		log:              logger,
		clock:            s.Clock,
	}
	c.closeIdle = closeIdle
	c.requestTimeoutCtx = c.clock.WithTimeout
	if _, direct := c.http.Transport.(*http.Transport); direct && c.clock == clock.Real {
		c.requestTimeoutCtx = clock.RequestTimeout // no code of anyone else's sees the request
	}
	c.pollers = newPollers(pollConns(s))
	c.gate = newRateGate(s.PollRate)
	return c, nil
}

// apiKey returns the key given with WithAPIKey, or else STEWAI_API_KEY.
func apiKey(given *string) (string, error) {
	var key string
	if given != nil {
		key = strings.TrimSpace(*given)
		if key == "" {
			return "", fmt.Errorf("%w (WithAPIKey was given an empty key)", ErrMissingAPIKey)
		}
	} else {
		key = strings.TrimSpace(os.Getenv("STEWAI_API_KEY"))
		if key == "" {
			return "", ErrMissingAPIKey
		}
	}
	if !validHeaderValue(key) || strings.ContainsAny(key, " \t") {
		// Never echo the key: say what is wrong with it, not what it is.
		return "", invalidf("API key has spaces or control characters")
	}
	return key, nil
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

// validHeaderValue reports whether s can be sent in an HTTP header.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
