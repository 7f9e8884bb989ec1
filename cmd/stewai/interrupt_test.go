package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"syscall"
	"testing"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An interrupt during a wait exits 130, says how to resume, prints the last
// run with --json, and never cancels the run: only GETs follow the create.
func TestInterruptDuringWait(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		srv := stewaitest.NewServer(stewaitest.WithRealTime(),
			stewaitest.WithRecipe("forever", stewaitest.Recipe{Final: stewai.StatusRunning}),
			stewaitest.OnRequest(func(r stewaitest.Request) {
				if r.Method == http.MethodGet {
					cancel(signalCause{sig}) // the signal while the wait polls
				}
			}))
		defer srv.Close()
		var stdout, stderr bytes.Buffer
		c := newCLI(streams{out: &stdout, err: &stderr, in: &bytes.Buffer{}})
		code := c.main(ctx, []string{"run", "forever", "--base-url", srv.URL, "--api-key", srv.APIKey, "--poll-interval", "1ms", "--json", "-q"})
		assert.Equal(t, signalCause{sig}.status(), code)
		runs := srv.Runs()
		require.Len(t, runs, 1)
		assert.Regexp(t, `^stewai: (interrupted|terminated); run `+runs[0].ID+` goes on: resume with: stewai wait `+runs[0].ID+"\n$", stderr.String())
		assert.Regexp(t, `^\{.*"id":"`+runs[0].ID+`".*\}\n$`, stdout.String())
		for _, r := range srv.Requests()[1:] {
			assert.Equal(t, http.MethodGet, r.Method, "nothing but polls after the create: the run is not cancelled")
		}
	}
}

func TestExitStatuses(t *testing.T) {
	for err, want := range map[error]int{
		nil:                   exitOK,
		&usageError{msg: "x"}: exitUsage,
		&stewai.RunError{Run: &stewai.Run{Status: stewai.StatusFailed}}:          exitFailed,
		&stewai.RunError{Run: &stewai.Run{Status: stewai.StatusCancelled}}:       exitCancelled,
		&stewai.RunError{Run: &stewai.Run{Status: stewai.StatusBlocked}}:         exitBlocked,
		&stewai.TimeoutError{RunID: "r"}:                                         exitTimeout,
		&stewai.TimeoutError{RunID: "r", Err: &stewai.APIError{StatusCode: 503}}: exitError,
		stewai.ErrMissingAPIKey:                                                  exitError,
		&stewai.APIError{StatusCode: 404}:                                        exitError,
	} {
		c := newCLI(streams{out: &bytes.Buffer{}, err: &bytes.Buffer{}})
		assert.Equal(t, want, c.finish(err), "%v", err)
	}
}

// run waits from the create's answer: the wait's first state is the one
// the create returned, and the first poll comes after a poll interval, not
// at once (with NoWait and a separate wait it came at once, a poll lost).
func TestRunWaitsFromTheCreateAnswer(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithRealTime(),
		stewaitest.WithRecipe("two", stewaitest.Recipe{Statuses: []stewai.Status{stewai.StatusQueued}, PollsPerStatus: 1}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	c := newCLI(streams{out: &stdout, err: &stderr, in: &bytes.Buffer{}})
	code := c.main(context.Background(), []string{"run", "two", "--base-url", srv.URL, "--api-key", srv.APIKey, "--poll-interval", "1ms", "--json"})
	require.Equal(t, exitOK, code, stderr.String())
	var methods []string
	for _, r := range srv.Requests() {
		methods = append(methods, r.Method+" "+r.Path)
	}
	assert.Regexp(t, `"status":"done"`, stdout.String())
	assert.Equal(t, "POST runs/", methods[0])
	assert.Regexp(t, `^stewai: run 01[0-9A-Z]{24}: queued \(0s\)\n`, stderr.String(), "the create's answer is the first state shown")
	assert.Len(t, methods, 2, "%v: the create's queued answer, then one poll that finds it done", methods)
}
