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
}

// Option sets part of Settings, or says why it cannot.
type Option func(*Settings) error

// WithClock replaces the clock behind waits, retry sleeps and request
// timeouts.
func WithClock(c clock.Clock) Option {
	return func(s *Settings) error {
		s.Clock = c
		return nil
	}
}
