// Package config owns the settings a stewai.Client is built from. Package
// stewai declares its Option as an alias of Option here, so that packages of
// this module (stewaitest) can set what users cannot, such as the clock,
// through an ordinary option.
package config

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/stewai/stewai-go/internal/clock"
)

// Settings is what the options of a client set. Pointers are nil when the
// option was not given, so that the environment can fill them in.
type Settings struct {
	APIKey           *string
	BaseURL          *string
	HTTPClient       *http.Client
	MaxRetries       int
	RequestTimeout   time.Duration
	MaxResponseBytes int64
	Logger           *slog.Logger
	UserAgent        string
	Clock            clock.Clock
	// AllowInsecureHTTP lets the key travel over plain http:// to a host
	// that is not loopback.
	AllowInsecureHTTP bool
	// MaxConnsPerHost caps the connections of the SDK's own transport.
	MaxConnsPerHost int
	// Middleware wraps every request, the first outermost.
	Middleware []Middleware
	// Beneath wraps the transport the requests finally go through, beneath
	// the middleware: what a fake server on the same clock needs to know of
	// a request (stewaitest tags it with its call) goes there.
	Beneath func(http.RoundTripper) http.RoundTripper
	// PollRate bounds the polls per second of all waits; 0 for no bound.
	PollRate float64
}

// Middleware is one layer around the requests of a client: it may change
// the request, call next (or not), and look at or replace the answer.
type Middleware = func(req *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error)

// Option sets part of Settings, or says why it cannot.
type Option func(*Settings) error

// WithBeneath sets Settings.Beneath.
func WithBeneath(wrap func(http.RoundTripper) http.RoundTripper) Option {
	return func(s *Settings) error {
		s.Beneath = wrap
		return nil
	}
}

// WithClock replaces the clock behind waits, retry sleeps and request
// timeouts.
func WithClock(c clock.Clock) Option {
	return func(s *Settings) error {
		s.Clock = c
		return nil
	}
}
