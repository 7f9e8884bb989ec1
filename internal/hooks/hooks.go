// Package hooks lets packages of this module reach settings of package
// stewai that are not part of its public API: stewaitest gives the clients
// it makes the fake server's clock, so that tests built on it never sleep.
package hooks

import "github.com/stewai/stewai-go/internal/clock"

// WithClock is set by package stewai at init. It returns a stewai.Option
// (as any, to avoid an import cycle) that replaces a client's clock.
var WithClock func(c clock.Clock) any
