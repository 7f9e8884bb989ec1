package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstartWithoutKey(t *testing.T) {
	t.Setenv("STEWAI_API_KEY", "")
	t.Setenv("STEWAI_RECIPE_ID", "")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	got := out.String()
	assert.Contains(t, got, "using an embedded fake StewAI server")
	assert.Regexp(t, `: queued\n.*: running\n.*: done\nDone in \d+ ms\.`, got)
	assert.Contains(t, got, "[step_1] Summarize (llm_simple): done\n  Summary of company_name=Acme Corp, industry=Technology (1 ingested source(s)).")
	assert.Contains(t, got, `"input_count": 2`)
	assert.Regexp(t, `Usage: \d+ input \+ \d+ output = \d+ tokens`, got)
}

func TestQuickstartNeedsARecipeWithARealKey(t *testing.T) {
	t.Setenv("STEWAI_API_KEY", "sk-live-x")
	t.Setenv("STEWAI_RECIPE_ID", "")
	err := run(context.Background(), &bytes.Buffer{})
	assert.ErrorContains(t, err, "STEWAI_RECIPE_ID")
}
