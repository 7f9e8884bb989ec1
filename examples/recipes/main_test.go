package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecipesWithoutKey(t *testing.T) {
	t.Setenv("STEWAI_API_KEY", "")
	t.Setenv("STEWAI_RECIPE_ID", "")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	got := out.String()
	assert.Contains(t, got, "using an embedded fake StewAI server")
	assert.Regexp(t, `01JRECIPE0REPORT000000000A +Quarterly report\n +01JRECIPE0TRANSLATE000000B +Translate\n`, got, "the recipes, aligned")
	assert.Contains(t, got, "Execution contract of 01JRECIPE0REPORT000000000A (version 1):")
	assert.Regexp(t, `1\. +ingest +ingest +Read the filings`, got)
	assert.Regexp(t, `2\. +summary +llm_simple +Summarize +after ingest`, got)
	assert.Contains(t, got, "Running 01JRECIPE0REPORT000000000A: queued running done\n")
	assert.Contains(t, got, "  summary: Revenue grew 12 %.\n")
	assert.Contains(t, got, `  figures (json): {"revenue_growth":0.12}`)
	assert.NotContains(t, got, "ingest:", "a step without output is left out")
}
