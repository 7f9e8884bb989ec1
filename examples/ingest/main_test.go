package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIngestFile(t *testing.T) {
	t.Setenv("STEWAI_API_KEY", "")
	path := filepath.Join(t.TempDir(), "notes.md")
	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("note\n"), 1000), 0o600))
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{path}, &out, true))
	got := out.String()
	assert.Contains(t, got, "\rUploading [##############################] 100% 0.0/0.0 MiB\n", "the bar ends full")
	assert.Regexp(t, `Uploaded notes.md \(5000 bytes\) as doc://\w+`, got)
	assert.Regexp(t, `Run \w+: done`, got)
	assert.Contains(t, got, "Summarize: Summary of question=What does notes.md say? (1 ingested source(s)).")
}

func TestIngestSampleQuietly(t *testing.T) {
	t.Setenv("STEWAI_API_KEY", "")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), nil, &out, false))
	assert.NotContains(t, out.String(), "\r", "no bar redraws when not on a terminal")
	assert.Contains(t, out.String(), "Uploaded 8.0 MiB\n")
}
