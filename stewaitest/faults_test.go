package stewaitest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFaultStatus(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithFault(stewaitest.Fault{Status: 503, Times: 2}))
	defer srv.Close()
	_, err := srv.Client(stewai.WithMaxRetries(0)).Runs.Get(testContext(t), "x")
	var apiErr *stewai.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Contains(t, apiErr.Message, "Injected fault")
	assert.Zero(t, apiErr.RetryAfter)

	run, err := srv.Client().Runs.Create(testContext(t), stewai.CreateRunParams{RecipeID: "r"}, stewai.NoWait())
	require.NoError(t, err, "the second 503 is retried, then the fault is used up")
	assert.Equal(t, stewai.StatusQueued, run.Status)
	assert.Len(t, srv.Runs(), 1)
}

func TestFaultRateLimitWithRetryAfter(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithRecipe("r", stewaitest.Recipe{}))
	defer srv.Close()
	c := srv.Client()
	ctx := testContext(t)
	run, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r"}, stewai.NoWait())
	require.NoError(t, err)
	srv.Inject(stewaitest.Fault{Method: "GET", Path: "runs/", Times: 3, Status: 429, Header: http.Header{"Retry-After": {"7"}}})
	start := time.Now()
	got, err := c.Runs.Wait(ctx, run.ID)
	require.NoError(t, err, "rate limits inside a wait do not end it")
	assert.Equal(t, stewai.StatusDone, got.Status)
	assert.Equal(t, 5, polls(srv), "three rate-limited polls, then running and done")
	assert.Less(t, time.Since(start), 5*time.Second, "21 s of Retry-After slept on the fake clock")

	srv.Inject(stewaitest.Fault{Status: 429, Header: http.Header{"Retry-After": {"30"}}, Times: 1})
	_, err = srv.Client(stewai.WithMaxRetries(0)).Runs.Get(ctx, run.ID)
	require.ErrorIs(t, err, stewai.ErrRateLimited)
	var apiErr *stewai.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 30*time.Second, apiErr.RetryAfter)
}

func TestFaultDrop(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithFault(stewaitest.Fault{Method: "POST", Drop: true, Times: 1}))
	defer srv.Close()
	_, err := srv.Client(stewai.WithMaxRetries(0)).Runs.Create(testContext(t), stewai.CreateRunParams{RecipeID: "r"}, stewai.NoWait())
	require.Error(t, err)
	assert.Empty(t, srv.Runs(), "dropped before handling: no run")
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Zero(t, reqs[0].Status)
	assert.True(t, reqs[0].Fault)
}

func TestFaultDropAfterHandlingCreatesOneRun(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithFault(stewaitest.Fault{Method: "POST", Path: "runs/", DropAfterHandling: true, Times: 1}))
	defer srv.Close()
	run, err := srv.Client().Runs.Create(testContext(t), stewai.CreateRunParams{RecipeID: "r"}, stewai.NoWait())
	require.NoError(t, err, "the client retries the dropped create")
	runs := srv.Runs()
	require.Len(t, runs, 1, "with the same Idempotency-Key: one run, not two")
	assert.Equal(t, runs[0].ID, run.ID)
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key"))
}

func TestFaultLatency(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	c := srv.Client(stewai.WithRequestTimeout(30*time.Second), stewai.WithMaxRetries(0))
	ctx := testContext(t)
	run, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r"}, stewai.NoWait())
	require.NoError(t, err)

	srv.Inject(stewaitest.Fault{Path: "runs/", Latency: 10 * time.Second, Times: 1})
	got, err := c.Runs.Get(ctx, run.ID)
	require.NoError(t, err, "slow but within the request timeout")
	assert.Equal(t, stewai.StatusDone, got.Status, "10 s passed on the server's clock: the 300 ms run is done")

	srv.Inject(stewaitest.Fault{Path: "runs/", Latency: 2 * time.Minute, Times: 1})
	start := time.Now()
	_, err = c.Runs.Get(ctx, run.ID)
	require.ErrorIs(t, err, stewai.ErrRequestTimeout)
	assert.Less(t, time.Since(start), 5*time.Second, "the timeout fires on the fake clock")
}

func TestFaultBodies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault stewaitest.Fault
		want  error
	}{
		{"malformed", stewaitest.Fault{Status: 200, Body: `{"id": "r1", "status"`}, stewai.ErrMalformedResponse},
		{"wrong type", stewaitest.Fault{Status: 200, Body: `["r1"]`}, stewai.ErrMalformedResponse},
		{"empty", stewaitest.Fault{Status: 200}, stewai.ErrMalformedResponse},
		{"HTML", stewaitest.Fault{Status: 502, ContentType: "text/html", Body: "<html>Bad gateway</html>"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := stewaitest.NewServer(stewaitest.WithFault(tc.fault))
			defer srv.Close()
			_, err := srv.Client(stewai.WithMaxRetries(0)).Runs.Get(testContext(t), "r1")
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				return
			}
			var apiErr *stewai.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, "<html>Bad gateway</html>", string(apiErr.Body))
			assert.Empty(t, apiErr.Message)
		})
	}
}

func TestFaultTruncate(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	c := srv.Client()
	ctx := testContext(t)
	run, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r"}, stewai.NoWait())
	require.NoError(t, err)

	srv.Inject(stewaitest.Fault{Method: "GET", Truncate: true, Times: 1})
	_, err = c.Runs.Get(ctx, run.ID)
	require.NoError(t, err, "a body cut short is a network failure: retried")
	reqs := srv.Requests()
	assert.True(t, reqs[1].Fault)
	assert.Equal(t, 200, reqs[1].Status)

	srv.Inject(stewaitest.Fault{Method: "GET", Truncate: true})
	_, err = srv.Client(stewai.WithMaxRetries(0)).Runs.Get(ctx, run.ID)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "unexpected EOF"), err.Error())
}

func TestFaultMatching(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	srv.Inject(stewaitest.Fault{Method: "GET", Path: "runs/", Status: 500, Times: 2})
	srv.Inject(stewaitest.Fault{Path: "storage/", Status: 418})
	c := srv.Client(stewai.WithMaxRetries(0))
	ctx := testContext(t)
	run, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r"}, stewai.NoWait())
	require.NoError(t, err, "POST does not match a GET fault")
	for i := range 3 {
		_, err = c.Runs.Get(ctx, run.ID)
		if i < 2 {
			require.Error(t, err, "get %d", i)
		} else {
			require.NoError(t, err, "the fault is used up after Times")
		}
	}
	for range 2 {
		_, err = c.Storage.ResolvePath(ctx, "a.txt")
		var apiErr *stewai.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, 418, apiErr.StatusCode, "Times 0 applies to every match")
	}
}

func TestFaultRetryAfterFields(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	c := srv.Client(stewai.WithMaxRetries(0))
	ctx := testContext(t)
	for _, tc := range []struct {
		fault stewaitest.Fault
		want  time.Duration
	}{
		{stewaitest.Fault{Status: 503, RetryAfter: 1500 * time.Millisecond, Times: 1}, 2 * time.Second},
		{stewaitest.Fault{Status: 429, RetryAfter: 50 * time.Second, RetryAfterDate: true, Times: 1}, 50 * time.Second},
		{stewaitest.Fault{Status: 429, RetryAfter: 90 * time.Second, Times: 1}, stewai.MaxRetryAfter}, // the one bound
	} {
		srv.Inject(tc.fault)
		_, err := c.Runs.Get(ctx, "x")
		var apiErr *stewai.APIError
		require.ErrorAs(t, err, &apiErr)
		// An HTTP date has whole seconds: the delay read back is within 1 s.
		assert.InDelta(t, tc.want, apiErr.RetryAfter, float64(time.Second), "%+v", tc.fault)
		assert.LessOrEqual(t, apiErr.RetryAfter, tc.want)
	}
	h := srv.Requests()[1].Header
	assert.Empty(t, h.Get("Retry-After"), "the log holds request headers")
}
