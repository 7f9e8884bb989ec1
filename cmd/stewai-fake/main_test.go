package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewai/stewai-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// start runs the command with args and returns the environment it printed.
func start(t *testing.T, args ...string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, pw); pw.Close() }()
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
		err := run(context.Background(), args, io.Discard)
		assert.Error(t, err, "%v", args)
	}
}
