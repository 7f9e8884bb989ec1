package stewai_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fault matrix: every call against every fault, once (the server then
// recovers) and always (the server keeps failing). Each cell checks the
// outcome RELIABILITY.md documents and the number of requests sent, and that
// the key appears in no error and no log line. Run it with
//
//	go test -run TestFaultMatrix -v .
//
// and regenerate the tables in RELIABILITY.md with -update-reliability.

var updateReliability = flag.Bool("update-reliability", false, "rewrite the fault matrix in RELIABILITY.md")

const (
	matrixKey       = "sk-live-matrix-secret-0123456789"
	matrixAgent     = "matrix-probe/1"
	waitTimeout     = 10 * time.Second
	waitInterval    = time.Second
	uploadSize      = 64 << 10
	requestTimeout  = 60 * time.Second // the default
	defaultAttempts = 3                // 1 + the default 2 retries
)

// fault is one row of the matrix.
type fault struct {
	name      string
	f         stewaitest.Fault
	transient bool             // retried by calls, kept polling through by waits
	handled   bool             // the server handled the request before failing it
	delay     [2]time.Duration // the delays a wait sleeps after it, min and max
	outcome   string           // what a call that gives up returns
}

func faults(redirectTo string) []fault {
	var out []fault
	add := func(f fault) { out = append(out, f) }
	sched := [2]time.Duration{waitInterval * 8 / 10, waitInterval} // the poll schedule, ± 20 % capped at max
	add(fault{name: "connection dropped before the request is read", f: stewaitest.Fault{Drop: true},
		transient: true, delay: sched, outcome: "connection error"})
	add(fault{name: "connection dropped after the request is read", f: stewaitest.Fault{DropAfterHandling: true},
		transient: true, handled: true, delay: sched, outcome: "connection error"})
	for _, status := range []int{408, 429, 500, 502, 503, 504} {
		outcome := fmt.Sprintf("APIError %d", status)
		if status == 429 {
			outcome = "APIError 429 (ErrRateLimited)"
		}
		add(fault{name: fmt.Sprintf("%d", status), f: stewaitest.Fault{Status: status},
			transient: true, delay: sched, outcome: outcome})
		add(fault{name: fmt.Sprintf("%d, Retry-After: 1 (seconds)", status),
			f:         stewaitest.Fault{Status: status, RetryAfter: time.Second},
			transient: true, delay: [2]time.Duration{time.Second, time.Second}, outcome: outcome})
		add(fault{name: fmt.Sprintf("%d, Retry-After: HTTP date 2 s ahead", status),
			f:         stewaitest.Fault{Status: status, RetryAfter: 2 * time.Second, RetryAfterDate: true},
			transient: true, delay: [2]time.Duration{time.Second, 2 * time.Second}, outcome: outcome})
	}
	add(fault{name: "503 echoing the key, JSON-escaped in its body and in X-Request-Id",
		f: stewaitest.Fault{Status: 503, Body: `{"detail": "bad key ` + jsonEscaped(matrixKey) + `"}`,
			Header: http.Header{"X-Request-Id": {"req-" + matrixKey}}},
		transient: true, delay: sched, outcome: "APIError 503"})
	add(fault{name: "body truncated", f: stewaitest.Fault{Truncate: true},
		transient: true, handled: true, delay: sched, outcome: "connection error"})
	add(fault{name: "body empty", f: stewaitest.Fault{Status: 200}, outcome: "ErrMalformedResponse"})
	add(fault{name: "body is HTML", f: stewaitest.Fault{Status: 200, ContentType: "text/html", Body: "<html><body>Welcome to nginx</body></html>"},
		outcome: "ErrMalformedResponse"})
	add(fault{name: "body of the wrong JSON type", f: stewaitest.Fault{Status: 200, Body: `["not", "an", "object"]`},
		outcome: "ErrMalformedResponse"})
	add(fault{name: "body not JSON, with the key echoed in its Content-Type", f: stewaitest.Fault{Status: 200, ContentType: "text/plain; key=" + matrixKey, Body: "ok"},
		outcome: "ErrMalformedResponse"})
	add(fault{name: "body larger than the 64 MiB cap", f: stewaitest.Fault{Status: 200, Body: tooLarge()},
		outcome: "ErrResponseTooLarge"})
	add(fault{name: "server slower than the request timeout", f: stewaitest.Fault{Latency: requestTimeout + time.Second},
		transient: true, delay: sched, outcome: "ErrRequestTimeout"})
	add(fault{name: "redirect to another host", f: stewaitest.Fault{Status: http.StatusFound, Header: http.Header{"Location": {redirectTo}}},
		outcome: "APIError 302"})
	return out
}

// jsonEscaped writes every character of s as a \u escape.
func jsonEscaped(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}

// tooLarge is a body over the 64 MiB cap, built only when the matrix runs.
var tooLarge = sync.OnceValue(func() string { return `{"id":"x","padding":"` + strings.Repeat("x", 64<<20) + `"}` })

// call is one column of the matrix.
type call struct {
	name   string
	method string // the method faults are aimed at; setup returns the path
	// rewinds: a transient failure can be retried (false for a one-shot
	// upload stream once the request reached the server, as it has for
	// every fault of the matrix).
	rewinds bool
	wait    bool
	setup   func(t *testing.T, srv *stewaitest.Server, c *stewai.Client) (path string, run func(context.Context) error)
}

func calls() []call {
	newRun := func(t *testing.T, c *stewai.Client) string {
		run, err := c.Runs.Create(context.Background(), stewai.CreateRunParams{RecipeID: "r"}, stewai.NoWait())
		require.NoError(t, err)
		return run.ID
	}
	payload := bytes.Repeat([]byte("pantry "), uploadSize/7)
	return []call{
		{name: "Create", method: "POST", rewinds: true, setup: func(t *testing.T, _ *stewaitest.Server, _ *stewai.Client) (string, func(context.Context) error) {
			return "runs/", func(ctx context.Context) error {
				_, err := measured.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r", Inputs: map[string]string{"a": "b"}}, stewai.NoWait())
				return err
			}
		}},
		{name: "Get", method: "GET", rewinds: true, setup: func(t *testing.T, _ *stewaitest.Server, c *stewai.Client) (string, func(context.Context) error) {
			id := newRun(t, c)
			return "runs/" + id + "/", func(ctx context.Context) error { _, err := measured.Runs.Get(ctx, id); return err }
		}},
		{name: "Wait", method: "GET", rewinds: true, wait: true, setup: func(t *testing.T, _ *stewaitest.Server, c *stewai.Client) (string, func(context.Context) error) {
			id := newRun(t, c)
			return "runs/" + id + "/", func(ctx context.Context) error {
				_, err := measured.Runs.Wait(ctx, id, stewai.WithTimeout(waitTimeout),
					stewai.WithPollInterval(waitInterval), stewai.WithMaxPollInterval(waitInterval))
				return err
			}
		}},
		{name: "Steps", method: "GET", rewinds: true, setup: func(t *testing.T, _ *stewaitest.Server, c *stewai.Client) (string, func(context.Context) error) {
			id := newRun(t, c)
			return "runs/" + id + "/steps/", func(ctx context.Context) error { _, err := measured.Runs.Steps(ctx, id); return err }
		}},
		{name: "Upload (file or io.Seeker)", method: "POST", rewinds: true, setup: func(t *testing.T, _ *stewaitest.Server, _ *stewai.Client) (string, func(context.Context) error) {
			return "storage/upload/", func(ctx context.Context) error {
				_, err := measured.Storage.Upload(ctx, bytes.NewReader(payload), "a.txt")
				return err
			}
		}},
		{name: "Upload (one-shot stream)", method: "POST", rewinds: false, setup: func(t *testing.T, _ *stewaitest.Server, _ *stewai.Client) (string, func(context.Context) error) {
			return "storage/upload/", func(ctx context.Context) error {
				_, err := measured.Storage.Upload(ctx, io.MultiReader(bytes.NewReader(payload)), "a.txt")
				return err
			}
		}},
		{name: "ResolvePath", method: "GET", rewinds: true, setup: func(t *testing.T, srv *stewaitest.Server, _ *stewai.Client) (string, func(context.Context) error) {
			srv.PutFile("Reports/Q4.pdf", []byte("%PDF"))
			return "storage/resolve/", func(ctx context.Context) error {
				_, err := measured.Storage.ResolvePath(ctx, "Reports/Q4.pdf")
				return err
			}
		}},
	}
}

// measured is the client under test in the current cell (cells run one at
// a time): it has its own transport, so that its first request opens a new
// connection, and its own User-Agent, so that its requests can be counted.
var measured *stewai.Client

// expectation is what a cell must show.
type expectation struct {
	outcome  string // "recovered", or the error
	min, max int    // requests sent by the call
	oneObj   bool   // the call creates exactly one object on the server
}

func (e expectation) String() string {
	n := fmt.Sprint(e.min)
	if e.max != e.min {
		n = fmt.Sprintf("%d–%d", e.min, e.max)
	}
	if e.outcome == "recovered" {
		return "✓ " + n
	}
	return e.outcome + " · " + n
}

// expect derives a cell's documented outcome from the rules RELIABILITY.md
// states.
func expect(c call, f fault, always bool) expectation {
	creates := c.method == "POST"
	switch {
	case !f.transient:
		// Not worth retrying: the call, or the wait, ends at once.
		return expectation{outcome: f.outcome, min: 1, max: 1}
	case !c.rewinds:
		// The stream reached the server: never sent twice.
		return expectation{outcome: f.outcome, min: 1, max: 1}
	case c.wait && f.name == "server slower than the request timeout":
		// The hanging poll is cut at the wait's deadline.
		return expectation{outcome: "ErrWaitTimeout(ErrRequestTimeout)", min: 1, max: 1}
	case c.wait && always:
		// Polls go on until the deadline, one per delay.
		lo := int(waitTimeout / f.delay[1])
		hi := int(waitTimeout/f.delay[0]) + 1
		return expectation{outcome: "ErrWaitTimeout(" + f.outcome + ")", min: lo, max: hi}
	case c.wait:
		// The run needs two polls the server handles: a failed poll the
		// server still handled counts as one of them.
		n := 3
		if f.handled {
			n = 2
		}
		return expectation{outcome: "recovered", min: n, max: n}
	case always:
		return expectation{outcome: f.outcome, min: defaultAttempts, max: defaultAttempts}
	default:
		return expectation{outcome: "recovered", min: 2, max: 2, oneObj: creates}
	}
}

// describe names an error by what a caller would match it with.
func describe(err error) string {
	var apiErr *stewai.APIError
	var te *stewai.TimeoutError
	switch {
	case err == nil:
		return "recovered"
	case errors.As(err, &te):
		if te.Err == nil {
			return "ErrWaitTimeout"
		}
		return "ErrWaitTimeout(" + describe(te.Err) + ")"
	case errors.As(err, &apiErr):
		if errors.Is(err, stewai.ErrRateLimited) {
			return "APIError 429 (ErrRateLimited)"
		}
		return fmt.Sprintf("APIError %d", apiErr.StatusCode)
	case errors.Is(err, stewai.ErrRequestTimeout):
		return "ErrRequestTimeout"
	case errors.Is(err, stewai.ErrMalformedResponse):
		return "ErrMalformedResponse"
	case errors.Is(err, stewai.ErrResponseTooLarge):
		return "ErrResponseTooLarge"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, stewai.ErrInvalidParams):
		return "unexpected: " + err.Error()
	default:
		return "connection error"
	}
}

type cellResult struct {
	call, fault string
	always      bool
	got         expectation // the documented expectation the cell met
	sent        int         // requests the call sent
}

func TestFaultMatrix(t *testing.T) {
	var redirected atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirected.Add(1)
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the key reached another host")
		}
	}))
	defer elsewhere.Close()

	var results []cellResult
	for _, always := range []bool{false, true} {
		for _, f := range faults(elsewhere.URL + "/v1/runs/") {
			for _, c := range calls() {
				mode := "once"
				if always {
					mode = "always"
				}
				t.Run(mode+"/"+f.name+"/"+c.name, func(t *testing.T) {
					want := expect(c, f, always)
					got := runCell(t, c, f, always, false)
					assert.Equal(t, want.outcome, got.outcome)
					assert.True(t, got.min >= want.min && got.min <= want.max,
						"%d requests sent, want %d–%d", got.min, want.min, want.max)
					results = append(results, cellResult{call: c.name, fault: f.name, always: always, got: want, sent: got.min})
					if !always { // the same row set through a caller's own *http.Client
						got := runCell(t, c, f, always, true)
						assert.Equal(t, want.outcome, got.outcome, "with WithHTTPClient")
						assert.True(t, got.min >= want.min && got.min <= want.max,
							"with WithHTTPClient: %d requests sent, want %d–%d", got.min, want.min, want.max)
					}
				})
			}
		}
	}
	assert.Zero(t, redirected.Load(), "no request followed a redirect to another host")
	sent := 0
	for _, r := range results {
		sent += r.sent
	}
	t.Logf("%d cells (%d calls x %d faults x 2 modes), %d requests counted", len(results), len(calls()), len(results)/len(calls())/2, sent)
	if !t.Failed() {
		checkReliabilityDoc(t, results)
	}
}

// runCell runs one call against one fault and reports what happened. The
// call runs on the SDK's own transport and pollers, as in production, or,
// with callerClient, through a caller's own *http.Client.
func runCell(t *testing.T, c call, f fault, always, callerClient bool) expectation {
	srv := stewaitest.NewServer(stewaitest.WithAPIKey(matrixKey), stewaitest.WithRecipe("r", stewaitest.Recipe{}))
	defer srv.Close()
	setupClient := srv.Client()
	defer setupClient.CloseIdleConnections()
	var logs bytes.Buffer
	opts := []stewai.Option{
		stewai.WithUserAgent(matrixAgent),
		stewai.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}
	if callerClient {
		opts = append(opts, stewai.WithHTTPClient(&http.Client{Transport: &http.Transport{}}))
	}
	measured = srv.Client(opts...)
	defer measured.CloseIdleConnections()
	path, run := c.setup(t, srv, setupClient)
	ff := f.f
	ff.Method, ff.Path, ff.Times = c.method, path, 1
	if always {
		ff.Times = 0
	}
	srv.Inject(ff)

	err := run(context.Background())

	sent := 0
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Header.Get("User-Agent"), matrixAgent) {
			sent++
		}
	}
	if err != nil {
		assert.NotContains(t, err.Error(), matrixKey)
		assert.NotContains(t, fmt.Sprintf("%+v %#v", err, err), matrixKey)
	}
	assert.NotContains(t, logs.String(), matrixKey, "no log line at any level holds the key")
	got := expectation{outcome: describe(err), min: sent, max: sent}
	if want := expect(c, f, always); want.oneObj {
		switch {
		case strings.HasPrefix(path, "runs/"):
			assert.Len(t, srv.Runs(), 1, "exactly one run exists")
		default:
			assert.Len(t, srv.Files(), 1, "exactly one file is stored")
		}
	}
	if c.name == "Create" && f.handled && always {
		assert.Len(t, srv.Runs(), 1, "every retry of the dropped create found the same run")
	}
	return got
}

// checkReliabilityDoc compares the matrix in RELIABILITY.md with the cells,
// or rewrites it with -update-reliability.
func checkReliabilityDoc(t *testing.T, results []cellResult) {
	const begin, end = "<!-- matrix:begin -->\n", "<!-- matrix:end -->"
	doc, err := os.ReadFile("RELIABILITY.md")
	require.NoError(t, err)
	i, j := bytes.Index(doc, []byte(begin)), bytes.Index(doc, []byte(end))
	require.True(t, i >= 0 && j > i, "RELIABILITY.md has the matrix markers")
	table := renderMatrix(results)
	if *updateReliability {
		out := append(append(append([]byte{}, doc[:i+len(begin)]...), table...), doc[j:]...)
		require.NoError(t, os.WriteFile("RELIABILITY.md", out, 0o644))
		return
	}
	assert.Equal(t, table, string(doc[i+len(begin):j]),
		"RELIABILITY.md is out of date: go test -run TestFaultMatrix -update-reliability .")
}

func renderMatrix(results []cellResult) string {
	var b strings.Builder
	cols := calls()
	for _, always := range []bool{false, true} {
		if always {
			b.WriteString("\n#### The fault on every request (the server keeps failing)\n\n")
		} else {
			b.WriteString("#### The fault on the first request only (the server then recovers)\n\n")
		}
		b.WriteString("| fault |")
		for _, c := range cols {
			b.WriteString(" " + c.name + " |")
		}
		b.WriteString("\n|---|")
		for range cols {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		var row string
		for _, r := range results {
			if r.always != always {
				continue
			}
			if r.fault != row {
				if row != "" {
					b.WriteString("\n")
				}
				row = r.fault
				b.WriteString("| " + r.fault + " |")
			}
			b.WriteString(" " + r.got.String() + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}
