package main

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An interrupt during a wait exits 130, says how to resume, and never
// cancels the run: only GETs follow the create.
func TestInterruptDuringWait(t *testing.T) {
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	srv := stewaitest.NewServer(stewaitest.WithRealTime(),
		stewaitest.WithRecipe("forever", stewaitest.Recipe{Final: stewai.StatusRunning}),
		stewaitest.OnRequest(func(r stewaitest.Request) {
			if r.Method == http.MethodGet {
				interrupt() // Ctrl-C while the wait polls
			}
		}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"run", "forever", "--base-url", srv.URL, "--api-key", srv.APIKey, "--poll-interval", "1ms"}, &stdout, &stderr, false)
	assert.Equal(t, exitInterrupted, code)
	runs := srv.Runs()
	require.Len(t, runs, 1)
	assert.Regexp(t, `^stewai: interrupted; run `+runs[0].ID+` goes on: resume with: stewai wait `+runs[0].ID+"\n$", stderr.String())
	for _, r := range srv.Requests()[1:] {
		assert.Equal(t, http.MethodGet, r.Method, "nothing but polls after the create: the run is not cancelled")
	}
}

func TestExitStatuses(t *testing.T) {
	for err, want := range map[error]int{
		nil:                   exitOK,
		&usageError{msg: "x"}: exitUsage,
		&stewai.RunError{Run: &stewai.Run{Status: stewai.StatusFailed}}:    exitFailed,
		&stewai.RunError{Run: &stewai.Run{Status: stewai.StatusCancelled}}: exitCancelled,
		&stewai.RunError{Run: &stewai.Run{Status: stewai.StatusBlocked}}:   exitBlocked,
		&stewai.TimeoutError{RunID: "r"}:                                   exitTimeout,
		&interruptedError{runID: "r"}:                                      exitInterrupted,
		stewai.ErrMissingAPIKey:                                            exitError,
		&stewai.APIError{StatusCode: 404}:                                  exitError,
	} {
		c := &cli{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
		assert.Equal(t, want, c.fail(err), "%v", err)
	}
}
