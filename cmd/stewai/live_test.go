//go:build unix

package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"
	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowRecipe lasts long enough for the live line to turn a few times.
var slowRecipe = stewaitest.Recipe{
	Statuses: []stewai.Status{stewai.StatusQueued, stewai.StatusRunning},
	Duration: 1200 * time.Millisecond,
	Steps: []stewaitest.Step{
		{ID: "step_1", Title: "Fetch sources", Kind: "ingest", Output: stewaitest.NoOutput()},
		{ID: "step_2", Title: "Summarize the quarterly report for the board", Kind: "llm_simple", Output: stewaitest.Text("ok")},
		{ID: "step_3", Title: "Extract", Kind: "llm_json", Output: stewaitest.JSON(map[string]int{"growth": 12})},
	},
}

// runInTerminal runs the command in a real pseudo-terminal of cols
// columns, with env added, and returns all it wrote and its exit status.
func runInTerminal(t *testing.T, srv *stewaitest.Server, cols uint16, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "STEWAI_CLI_MAIN=1", "STEWAI_BASE_URL="+srv.URL, "STEWAI_API_KEY="+srv.APIKey, "NO_COLOR=", "COLUMNS=")
	cmd.Env = append(cmd.Env, env...)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: cols, Rows: 10})
	require.NoError(t, err)
	defer tty.Close()
	var out bytes.Buffer
	_, _ = io.Copy(&out, tty) // ends with EIO when the command exits
	err = cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), code
}

// redraws are the states the terminal showed: each piece between carriage
// returns and newlines, with the erase-line code taken off.
func redraws(out string) []string {
	out = strings.ReplaceAll(out, "\x1b[K", "")
	return strings.FieldsFunc(out, func(r rune) bool { return r == '\r' || r == '\n' })
}

var liveState = regexp.MustCompile(`^(\S) (queued|running|done)  (\d+s)(  step (\d)/3 .*)?  run 01[0-9A-Z]{24}`)

// The live line, in a real terminal at 40 and 120 columns, with and without
// escape codes: never wider than the terminal (so it never wraps), a
// spinner, the status, the time since the run's created_at and the current
// step; ESC[K to redraw only when the terminal takes escape codes.
func TestLiveLineInTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command in a pseudo-terminal for over a second")
	}
	srv := stewaitest.NewServer(stewaitest.WithRealTime(), stewaitest.WithRecipe("slow", slowRecipe))
	defer srv.Close()
	for _, tc := range []struct {
		cols uint16
		env  []string
		dumb bool
	}{
		{cols: 40, env: []string{"TERM=xterm-256color"}},
		{cols: 120, env: []string{"TERM=xterm-256color"}},
		{cols: 40, env: []string{"TERM=dumb"}, dumb: true},
		{cols: 120, env: []string{"TERM=dumb"}, dumb: true},
		{cols: 120, env: []string{"TERM=xterm", "NO_COLOR=1"}, dumb: true},
	} {
		t.Run(strings.Join(tc.env, ",")+"/"+string(rune('0'+tc.cols/40)), func(t *testing.T) {
			out, code := runInTerminal(t, srv, tc.cols, tc.env, "run", "slow", "--poll-interval", "100ms")
			require.Equal(t, 0, code, "%q", out)
			if tc.dumb {
				assert.NotContains(t, out, "\x1b", "no escape codes")
			} else {
				assert.Regexp(t, "\r[^\r\n]+\x1b\\[K\r", out, "redrawn in place")
			}
			spinners, statuses, steps := map[string]bool{}, map[string]bool{}, 0
			for _, line := range redraws(out) {
				line = strings.TrimRight(line, " ")
				assert.LessOrEqual(t, utf8.RuneCountInString(line), int(tc.cols)-1, "%q is wider than the terminal", line)
				if tc.cols < 120 {
					continue
				}
				if m := liveState.FindStringSubmatch(line); m != nil {
					spinners[m[1]], statuses[m[2]] = true, true
					if m[5] != "" {
						steps++
					}
				}
			}
			if tc.cols == 120 {
				assert.GreaterOrEqual(t, len(spinners), 3, "the spinner turns")
				assert.True(t, statuses["running"] && statuses["done"], "%v", statuses)
				assert.Positive(t, steps, "the current step is shown")
				// Which step a poll lands on depends on the machine's load
				// (the fake runs in real time); that one is shown, numbered.
				assert.Regexp(t, `step [123]/3 (Fetch sources|Summarize[^\r\n]*|Extract)  run `, out)
			} else {
				assert.Contains(t, out, "…", "cut to the width")
			}
			assert.Regexp(t, `(?m)^status +done\r?$`, out)
		})
	}
	// At most one steps request per status poll.
	polls, stepReqs := 0, 0
	for _, r := range srv.Requests() {
		switch {
		case r.Method == "GET" && regexp.MustCompile(`^runs/[^/]+/$`).MatchString(r.Path):
			polls++
		case r.Method == "GET" && strings.HasSuffix(r.Path, "/steps/"):
			stepReqs++
		}
	}
	assert.Positive(t, stepReqs)
	assert.LessOrEqual(t, stepReqs, polls, "steps requests, polls")
}

// A failing poll shows on the live line with its reason.
func TestLiveLineShowsFailedPolls(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command in a pseudo-terminal")
	}
	srv := stewaitest.NewServer(stewaitest.WithRealTime(), stewaitest.WithRecipe("slow", slowRecipe),
		stewaitest.WithFault(stewaitest.Fault{Method: "GET", Path: "runs/01", Status: 503, Times: 3}))
	defer srv.Close()
	out, code := runInTerminal(t, srv, 120, []string{"TERM=xterm"}, "run", "slow", "--poll-interval", "100ms")
	require.Equal(t, 0, code, "%q", out)
	assert.Regexp(t, `queued  \ds  poll failed: GET runs/01[0-9A-Z]{24}/: 503; retry in \d`, out)
}

func TestElapsedSinceCreated(t *testing.T) {
	c := newCLI(streams{out: io.Discard, err: io.Discard})
	d := &display{c: c}
	assert.Equal(t, "1m05s", d.elapsed(&stewai.Run{CreatedAt: time.Now().Add(-65 * time.Second)}))
	assert.Equal(t, "1h01m01s", d.elapsed(&stewai.Run{CreatedAt: time.Now().Add(-3661 * time.Second)}))
	assert.Equal(t, "0s", d.elapsed(&stewai.Run{CreatedAt: time.Now().Add(time.Minute)}), "a clock ahead is not negative")
	c.started = time.Now().Add(-5 * time.Second)
	assert.Equal(t, "5s", d.elapsed(&stewai.Run{}), "no created_at: since the command started")
}

func TestFit(t *testing.T) {
	assert.Equal(t, "abc", fit("abc", 3))
	assert.Equal(t, "ab…", fit("abcd", 3))
	assert.Equal(t, "⠋ r…", fit("⠋ running", 4))
}

func TestCurrentStep(t *testing.T) {
	steps := []stewai.Step{{ID: "a", Status: stewai.StatusDone}, {ID: "b", Title: "B\x1b]0;x\x07", Status: stewai.StatusRunning}, {ID: "c"}}
	assert.Equal(t, `step 2/3 B\x1b]0;x\x07`, currentStep(steps))
	assert.Equal(t, "", currentStep(nil))
}

func TestShortReason(t *testing.T) {
	assert.Equal(t, "connection refused", shortReason("GET runs/r/: dial tcp 127.0.0.1:8080: connect: connection refused"))
	assert.Equal(t, "GET runs/r/: 503", shortReason("GET runs/r/: 503"))
}
