package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stewai/stewai-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the command with args and returns the environment it printed.
func start(t *testing.T, args ...string) map[string]string {
	return startLogging(t, io.Discard, args...)
}

// startLogging is start with the request log going to logw.
func startLogging(t *testing.T, logw io.Writer, args ...string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, pw, logw); pw.Close() }()
	t.Cleanup(func() {
		cancel()
		go func() { _, _ = io.Copy(io.Discard, pr) }() // unblock the last print
		require.NoError(t, <-done)
	})
	env := map[string]string{}
	sc := bufio.NewScanner(pr)
	for len(env) < 2 && sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env
}

func TestServesTheAPI(t *testing.T) {
	scripts := filepath.Join(t.TempDir(), "scripts.json")
	require.NoError(t, os.WriteFile(scripts, []byte(`{"recipes": {"blocked": {"final": "blocked", "statuses": []}}}`), 0o600))
	env := start(t, "--addr", "127.0.0.1:0", "--api-key", "sk-test-cli", "--scripts", scripts)
	assert.Equal(t, "sk-test-cli", env["STEWAI_API_KEY"])
	require.True(t, strings.HasPrefix(env["STEWAI_BASE_URL"], "http://127.0.0.1:"))
	require.True(t, strings.HasSuffix(env["STEWAI_BASE_URL"], "/v1"))

	c, err := stewai.NewClient(stewai.WithAPIKey(env["STEWAI_API_KEY"]), stewai.WithBaseURL(env["STEWAI_BASE_URL"]))
	require.NoError(t, err)
	_, err = c.Runs.Create(context.Background(), stewai.CreateRunParams{RecipeID: "blocked"})
	assert.ErrorIs(t, err, stewai.ErrRunBlocked, "the scripted recipe from the file")
}

func TestBadArguments(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"recipes": {"r": {"finale": "done"}}}`), 0o600))
	for _, args := range [][]string{
		{"--nope"},
		{"extra"},
		{"--addr", "256.0.0.1:1"},
		{"--addr", "127.0.0.1:0", "--scripts", filepath.Join(t.TempDir(), "missing.json")},
		{"--addr", "127.0.0.1:0", "--scripts", bad},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		assert.Error(t, err, "%v", args)
		assert.Equal(t, 2, exitCode(err, io.Discard), "%v", args)
	}
	typo := filepath.Join(t.TempDir(), "typo.json")
	require.NoError(t, os.WriteFile(typo, []byte(`{"recipes": {"r": {"final": "finished"}}}`), 0o600))
	err := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--scripts", typo}, io.Discard, io.Discard)
	require.Error(t, err, "a final status that is not one of the six")
	assert.Contains(t, err.Error(), "done, failed, cancelled, blocked")
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &out, io.Discard)
	assert.Equal(t, 0, exitCode(err, io.Discard), "asking for help succeeds")
	help := out.String()
	for _, want := range []string{"STEWAI_BASE_URL=", "STEWAI_API_KEY=", "stewai run", "examples/quickstart", "-scripts", "-quiet", "-strict-files", "-strict-recipes", "-marketplace", "recipe_ulid", "-max-stored-bytes", "10,000 requests"} {
		assert.Contains(t, help, want)
	}
}

func TestRequestLog(t *testing.T) {
	var logs syncBuffer
	env := startLogging(t, &logs, "--addr", "127.0.0.1:0")
	c, err := stewai.NewClient(stewai.WithAPIKey(env["STEWAI_API_KEY"]), stewai.WithBaseURL(env["STEWAI_BASE_URL"]))
	require.NoError(t, err)
	run, err := c.Runs.Create(context.Background(), stewai.CreateRunParams{RecipeID: "r"}, stewai.NoWait())
	require.NoError(t, err)
	_, err = c.Runs.Get(context.Background(), "missing")
	require.ErrorIs(t, err, stewai.ErrNotFound)
	_, _ = c.Runs.Steps(context.Background(), run.ID)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 3, logs.String())
	assert.Regexp(t, `^POST /v1/runs/ 202 \d`, lines[0], "method, path, status, duration")
	assert.Regexp(t, `^GET /v1/runs/missing/ 404 \d`, lines[1])
	assert.Regexp(t, `^GET /v1/runs/`+run.ID+`/steps/ 200 \d`, lines[2])

	var quiet syncBuffer
	env = startLogging(t, &quiet, "--addr", "127.0.0.1:0", "--quiet")
	c, err = stewai.NewClient(stewai.WithAPIKey(env["STEWAI_API_KEY"]), stewai.WithBaseURL(env["STEWAI_BASE_URL"]))
	require.NoError(t, err)
	_, err = c.Runs.Create(context.Background(), stewai.CreateRunParams{RecipeID: "r"}, stewai.NoWait())
	require.NoError(t, err)
	assert.Empty(t, quiet.String(), "--quiet logs nothing")
}

func TestMarketplaceFileAndStrictRecipes(t *testing.T) {
	market := filepath.Join(t.TempDir(), "market.json")
	require.NoError(t, os.WriteFile(market, []byte(`[
	  {"recipe_ulid": "01JMARKET0TAX0000000000000", "name": "Tax filing"},
	  {"recipe_ulid": "01JMARKET0DIGEST0000000000", "name": "Digest", "visibility": "private"}]`), 0o600))
	env := start(t, "--addr", "127.0.0.1:0", "--marketplace", market, "--strict-recipes")
	c, err := stewai.NewClient(stewai.WithAPIKey(env["STEWAI_API_KEY"]), stewai.WithBaseURL(env["STEWAI_BASE_URL"]))
	require.NoError(t, err)
	ctx := context.Background()

	page, err := c.Marketplace.Search(ctx, stewai.MarketplaceSearchParams{Query: "tax"})
	require.NoError(t, err, "the marketplace is enabled without --scripts")
	require.Equal(t, 1, page.Count)
	assert.Equal(t, "01JMARKET0TAX0000000000000", page.Results[0].RecipeULID)
	_, err = c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "01JMARKET0DIGEST0000000000"}, stewai.NoWait())
	assert.NoError(t, err, "a marketplace recipe runs on a strict server")
	_, err = c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "no-such-recipe"}, stewai.NoWait())
	assert.ErrorIs(t, err, stewai.ErrNotFound, "--strict-recipes")

	for body, want := range map[string]string{
		`{"recipe_ulid": "x"}`:                          "JSON list",
		`[{"recipe_ulid": "x", "nom": "y"}]`:            "nom",
		`[{"name": "no id"}]`:                           "entry 0 has no recipe_ulid",
		`[{"recipe_ulid": "a"}, {"recipe_ulid": "a"}]`:  "listed twice",
		`[{"recipe_ulid": "a"}] [{"recipe_ulid": "b"}]`: "after the list",
		`[{"recipe_ulid": "a", "visibility": 3}]`:       "JSON list",
	} {
		bad := filepath.Join(t.TempDir(), "bad.json")
		require.NoError(t, os.WriteFile(bad, []byte(body), 0o600))
		err := run(ctx, []string{"--addr", "127.0.0.1:0", "--marketplace", bad}, io.Discard, io.Discard)
		require.Error(t, err, body)
		assert.Contains(t, err.Error(), want, body)
		assert.Equal(t, 2, exitCode(err, io.Discard))
	}
	err = run(ctx, []string{"--addr", "127.0.0.1:0", "--marketplace", filepath.Join(t.TempDir(), "missing.json")}, io.Discard, io.Discard)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestMaxStoredBytesFlag(t *testing.T) {
	env := start(t, "--addr", "127.0.0.1:0", "--max-stored-bytes", "10")
	c, err := stewai.NewClient(stewai.WithAPIKey(env["STEWAI_API_KEY"]), stewai.WithBaseURL(env["STEWAI_BASE_URL"]))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.Storage.Upload(ctx, strings.NewReader("ten bytes!"), "a.txt")
	require.NoError(t, err)
	_, err = c.Storage.Upload(ctx, strings.NewReader("x"), "b.txt")
	var apiErr *stewai.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 413, apiErr.StatusCode)
	_, err = c.Storage.ResolvePath(ctx, "a.txt")
	assert.NoError(t, err, "the earlier file is kept")

	err = run(ctx, []string{"--addr", "127.0.0.1:0", "--max-stored-bytes", "-1"}, io.Discard, io.Discard)
	assert.ErrorContains(t, err, "must not be negative")
}

func TestMemoryLimit(t *testing.T) {
	assert.Equal(t, int64(64<<20+24<<20), memoryLimit(64<<20), "the default store plus headroom")
	assert.Equal(t, int64(math.MaxInt64), memoryLimit(math.MaxInt64-1), "no overflow")
}

// A server listening on every interface prints a loopback URL, which
// clients accept over plain http://; any other address is printed as is.
func TestReachableURL(t *testing.T) {
	for _, tc := range []struct{ addr, base, want string }{
		{"0.0.0.0:8080", "http://0.0.0.0:8080/v1", "http://127.0.0.1:8080/v1"},
		{"[::]:9090", "http://[::]:9090/v1", "http://127.0.0.1:9090/v1"},
		{"127.0.0.1:8080", "http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := reachableURL(addr, tc.base); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.addr, got, tc.want)
		}
	}
}
