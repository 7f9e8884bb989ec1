package stewai_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// One client shared by 1,000 goroutines, each creating its own run, polling
// it, waiting for it and reading its steps: every goroutine must get its own
// results. Run under -race in CI.
func TestOneClientThousandGoroutines(t *testing.T) {
	const workers = 1000
	srv := stewaitest.NewServer(stewaitest.WithRecipe("r", stewaitest.Recipe{}))
	defer srv.Close()
	// A realistic pool: 1,000 connections at once would need more file
	// descriptors than many machines allow a test.
	transport := &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}
	defer transport.CloseIdleConnections()
	client := srv.Client(stewai.WithHTTPClient(&http.Client{Transport: transport}))

	ctx := context.Background()
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- worker(ctx, client, i)
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			if failed <= 5 {
				t.Error(err)
			}
		}
	}
	assert.Zero(t, failed)
	assert.Len(t, srv.Runs(), workers, "one run per goroutine, no more")
}

func worker(ctx context.Context, c *stewai.Client, i int) error {
	me := fmt.Sprintf("worker-%d", i)
	run, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r", Inputs: map[string]string{"who": me}}, stewai.NoWait())
	if err != nil {
		return fmt.Errorf("%s: create: %w", me, err)
	}
	got, err := c.Runs.Get(ctx, run.ID)
	if err != nil || got.ID != run.ID {
		return fmt.Errorf("%s: get: %v (%v)", me, err, got)
	}
	done, err := c.Runs.Wait(ctx, run.ID)
	if err != nil || done.Status != stewai.StatusDone || done.ID != run.ID {
		return fmt.Errorf("%s: wait: %v (%v)", me, err, done)
	}
	steps, err := c.Runs.Steps(ctx, run.ID)
	if err != nil {
		return fmt.Errorf("%s: steps: %w", me, err)
	}
	text, _ := steps.Steps[0].Output.Text()
	if !strings.Contains(text, "who="+me+".") {
		return fmt.Errorf("%s: got another run's output: %q", me, text)
	}
	return nil
}

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
		{"mid-request", stewaitest.Fault{Latency: stewaitest.Duration(time.Hour)}, onArrival, func(ctx context.Context, c *stewai.Client) error {
			_, err := c.Runs.Get(ctx, "r1")
			return err
		}},
		{"mid-retry-sleep", stewaitest.Fault{Status: 503, RetryAfter: stewaitest.Duration(30 * time.Second)}, onSleep, func(ctx context.Context, c *stewai.Client) error {
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
func (h cancelOnSleep) WithGroup(string) slog.Handler      { return h }

// The key is in no value of the SDK a program might print or log.
func TestKeyInNoPrintedValue(t *testing.T) {
	const key = "sk-live-printed-0123456789"
	srv := stewaitest.NewServer(stewaitest.WithAPIKey(key),
		stewaitest.WithRecipe("failing", stewaitest.Recipe{Final: stewai.StatusFailed}),
		stewaitest.WithRecipe("slow", stewaitest.Recipe{Final: stewai.StatusRunning}))
	defer srv.Close()
	var logs bytes.Buffer
	c := srv.Client(stewai.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))))
	ctx := context.Background()

	values := []any{c, *c, c.Runs, c.Storage}
	run, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "failing"})
	values = append(values, run, err)
	_, err = c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "slow"}, stewai.WithTimeout(time.Second))
	values = append(values, err)
	bad := srv.Client(stewai.WithAPIKey(key + "-wrong"))
	_, err = bad.Runs.Get(ctx, run.ID)
	require.ErrorIs(t, err, stewai.ErrAuthentication)
	values = append(values, err)
	srv.Inject(stewaitest.Fault{Drop: true})
	_, err = c.Runs.Get(ctx, run.ID)
	values = append(values, err)
	_, err = stewai.NewClient(stewai.WithAPIKey(key + "\n\x00"))
	values = append(values, err)

	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, key, "%s of %T", verb, v)
			assert.NotContains(t, out, fmt.Sprintf("%x", key), "%s of %T", verb, v)
		}
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("value", "v", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("value", "v", v)
		assert.NotContains(t, text.String()+js.String(), key, "slog of %T", v)
		if b, err := json.Marshal(v); err == nil {
			assert.NotContains(t, string(b), key, "JSON of %T", v)
		}
	}
	assert.NotEmpty(t, logs.String())
	assert.NotContains(t, logs.String(), key, "no log line at any level")

	// The one panic in this module: a test helper given a bad option.
	func() {
		defer func() {
			p := recover()
			require.NotNil(t, p)
			assert.NotContains(t, fmt.Sprint(p), key)
		}()
		srv.Client(stewai.WithAPIKey(key + "\x00tail"))
	}()
}
