package stewai

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewai/stewai-go/internal/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCancelDuringRetrySleep(t *testing.T) {
	env := setup(t)
	ctx, cancel := context.WithCancel(testContext(t))
	env.clock.OnSleep(func(time.Duration) { cancel() })
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	_, err := env.client.Runs.Get(ctx, "r1")
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int64(1), env.requests.Load(), "no attempt after the cancel")
}

func TestCancelDuringRetrySleepRealClock(t *testing.T) {
	// On the real clock: the sleep (60 s asked by Retry-After) must end
	// when the context is cancelled, not when the timer fires.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(503)
	}))
	defer srv.Close()
	sleeping := make(chan struct{}, 1)
	c, err := NewClient(WithAPIKey(testKey), WithBaseURL(srv.URL), withClock(notifyingClock{clock.Real, sleeping}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(testContext(t))
	go func() { <-sleeping; cancel() }()
	_, err = c.Runs.Get(ctx, "r1")
	assert.ErrorIs(t, err, context.Canceled)
}

// notifyingClock signals each Sleep before delegating it.
type notifyingClock struct {
	clock.Clock
	sleeping chan<- struct{}
}

func (c notifyingClock) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case c.sleeping <- struct{}{}:
	default:
	}
	return c.Clock.Sleep(ctx, d)
}

func TestCancelMidRequest(t *testing.T) {
	env := setup(t)
	ctx, cancel := context.WithCancel(testContext(t))
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	})
	_, err := env.client.Runs.Get(ctx, "r1")
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int64(1), env.requests.Load())
}

func TestWaitCancel(t *testing.T) {
	env := setup(t)
	statusSequence(t, env, "r1", StatusRunning)
	ctx, cancel := context.WithCancel(testContext(t))
	var sleeps atomic.Int64
	env.clock.OnSleep(func(time.Duration) {
		if sleeps.Add(1) == 3 {
			cancel()
		}
	})
	run, err := env.client.Runs.Wait(ctx, "r1")
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrWaitTimeout)
	require.NotNil(t, run)
	assert.Equal(t, int64(3), env.requests.Load(), "no poll after the cancel")
}

func TestWaitCancelRealClock(t *testing.T) {
	// On the real clock, with an hour between polls: cancelling must end the
	// sleep at once (the test would time out otherwise).
	var polls atomic.Int64
	ctx, cancel := context.WithCancel(testContext(t))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		polls.Add(1)
		writeJSON(w, 200, runJSON("r1", StatusRunning))
		cancel()
	}))
	defer srv.Close()
	c, err := NewClient(WithAPIKey(testKey), WithBaseURL(srv.URL))
	require.NoError(t, err)
	_, err = c.Runs.Wait(ctx, "r1", WithPollInterval(time.Hour), WithMaxPollInterval(time.Hour))
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int64(1), polls.Load())
}

func TestUploadCancel(t *testing.T) {
	env := setup(t)
	ctx, cancel := context.WithCancel(testContext(t))
	received := make(chan struct{})
	env.mux.HandleFunc("POST /storage/upload/", func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 1024)
		_, _ = io.ReadFull(r.Body, buf)
		close(received)
		_, _ = io.Copy(io.Discard, r.Body) // until the client gives up
	})
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write(bytes.Repeat([]byte("a"), 4096)) // then the stream stalls
	}()
	go func() { <-received; cancel() }()
	_, err := env.client.Storage.Upload(ctx, pr, "stalled.txt")
	require.ErrorIs(t, err, context.Canceled)
	pw.Close() // unblock the read left in progress
	assert.Equal(t, int64(1), env.requests.Load())
}
