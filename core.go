package stewai

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/stewai/stewai-go/internal/clock"
)

// jsonContentType is the header value of JSON bodies and of Accept.
var jsonContentType = []string{"application/json"}

// core is the state shared by a Client and its services: the settings and
// the one request pipeline (do).
type core struct {
	// apiKey returns the key. It is a closure, not a string field, because
	// fmt prints nested struct fields under some verbs (%s, %q, %x) but
	// never the variables a function value captures: no way of printing a
	// Client, a service or a struct holding them shows the key.
	apiKey func() string
	// authHeader returns the Authorization header's value list, built once
	// (a closure for the same reason as apiKey). Header values are shared
	// by every request and only read: a RoundTripper must not change them.
	authHeader       func() []string
	uaHeader         []string
	base             *url.URL // normalized: its path ends with "/"; never changed
	baseURL          string   // base's text
	http             *http.Client
	maxRetries       int
	requestTimeout   time.Duration
	maxResponseBytes int64
	log              *slog.Logger
	clock            clock.Clock
	// requestTimeoutCtx bounds an attempt: clock.RequestTimeout when the
	// request goes straight to net/http's transport on the real clock, the
	// clock's WithTimeout otherwise.
	requestTimeoutCtx func(context.Context, time.Duration, error) (context.Context, context.CancelFunc)
	// pollers run the polls of waits (transport.go).
	pollers *pollers
	// paused and gate pace the polls of all waits (pace.go): the pause
	// after a 429, and WithPollRate (nil without it).
	paused pause
	gate   *rateGate
	// closeIdle closes the idle connections of the transport.
	closeIdle func()
}

// request is one API call, as the services describe it to the pipeline.
type request struct {
	method string
	path   string // relative to the base URL, escaped
	query  string // encoded, without "?"
	body   body
	// idempotencyKey, sent as Idempotency-Key, makes a POST safe to retry.
	idempotencyKey string
	// deadline, when set, bounds every attempt (on the client's clock): a
	// wait passes its own deadline.
	deadline time.Time
	// noRetry makes one attempt only, for callers with their own schedule.
	noRetry bool
	// emptyOK accepts an empty 2xx body as an answer with nothing to decode.
	emptyOK bool
	// reached is set when an attempt has written its request headers: from
	// then on the server may have seen the request.
	reached atomic.Bool
	// secret returns the key, to cut out of the messages of errors built
	// for the request (a server may echo it). Set by do.
	secret func() string
}

// body is a request body that can be opened once per attempt.
type body interface {
	// open returns the body for an attempt with context ctx (which ends
	// with the attempt). A *bytes.Reader gives the transport a replayable
	// body with a known length.
	open(ctx context.Context) (io.Reader, error)
	contentType() string
	// size is the body's length in bytes, or -1 when unknown.
	size() int64
	// replayable reports whether open may be called again, given whether
	// the last attempt reached the server (wrote its request headers). It
	// may wait, until ctx ends, for the last attempt to stop reading.
	replayable(ctx context.Context, reached bool) bool
	// streams reports whether sending the body may take long: the request
	// timeout then bounds a stall, not the whole transfer.
	streams() bool
}

// jsonBody is an encoded JSON request body.
type jsonBody []byte

func (b jsonBody) open(context.Context) (io.Reader, error) { return bytes.NewReader(b), nil }
func (b jsonBody) size() int64                             { return int64(len(b)) }
func (jsonBody) contentType() string                       { return jsonContentType[0] }
func (jsonBody) replayable(context.Context, bool) bool     { return true }
func (jsonBody) streams() bool                             { return false }
