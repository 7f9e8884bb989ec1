package stewai_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// Cancelling at each point where a call can block leaves no goroutine. Each
// call runs on real time, so it truly blocks, and is cancelled at a precise
// moment: when the server has received the request, or when the client logs
// that it is about to sleep.
func TestCancelLeavesNoGoroutine(t *testing.T) {
	type when int
	const (
		onArrival when = iota
		onSleep
	)
	for _, tc := range []struct {
		name   string
		fault  stewaitest.Fault
		cancel when
		call   func(ctx context.Context, c *stewai.Client) error
	}{
		{"mid-request", stewaitest.Fault{Latency: time.Hour}, onArrival, func(ctx context.Context, c *stewai.Client) error {
			_, err := c.Runs.Get(ctx, "r1")
			return err
		}},
		{"mid-retry-sleep", stewaitest.Fault{Status: 503, RetryAfter: 30 * time.Second}, onSleep, func(ctx context.Context, c *stewai.Client) error {
			_, err := c.Runs.Get(ctx, "r1")
			return err
		}},
		{"mid-wait", stewaitest.Fault{Status: 200, Body: `{"id":"r1","status":"running"}`}, onSleep, func(ctx context.Context, c *stewai.Client) error {
			_, err := c.Runs.Wait(ctx, "r1", stewai.WithPollInterval(time.Hour), stewai.WithMaxPollInterval(time.Hour))
			return err
		}},
		{"mid-upload", stewaitest.Fault{}, onArrival, func(ctx context.Context, c *stewai.Client) error {
			pr, pw := io.Pipe()
			defer pw.Close()
			go func() { _, _ = pw.Write(make([]byte, 1024)) }() // then the stream stalls
			_, err := c.Storage.Upload(ctx, pr, "stalled.bin")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var hook stewaitest.Option
			var logger *slog.Logger
			if tc.cancel == onArrival {
				hook = stewaitest.OnRequest(func(stewaitest.Request) { cancel() })
			} else {
				logger = slog.New(cancelOnSleep{cancel})
			}
			srv := stewaitest.NewServer(stewaitest.WithRealTime(), stewaitest.WithFault(tc.fault), hook)
			defer srv.Close()
			err := tc.call(ctx, srv.Client(stewai.WithLogger(logger)))
			require.ErrorIs(t, err, context.Canceled)
			assert.Len(t, srv.Requests(), 1)
		})
	}
}

// cancelOnSleep is a slog.Handler that cancels when the client logs that it
// is about to sleep before a retry or the next poll.
type cancelOnSleep struct{ cancel context.CancelFunc }

func (cancelOnSleep) Enabled(context.Context, slog.Level) bool { return true }

func (h cancelOnSleep) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "stewai: retrying" || r.Message == "stewai: poll" {
		h.cancel()
	}
	return nil
}

func (h cancelOnSleep) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h cancelOnSleep) WithGroup(string) slog.Handler { return h }
