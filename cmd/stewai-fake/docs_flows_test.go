package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawClient speaks the documented wire by hand, as the official Python SDK
// does, with no help from this module's client.
type rawClient struct {
	t          *testing.T
	base, auth string
}

func (c rawClient) do(method, path, contentType string, body io.Reader) (int, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+"/"+path, body)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+c.auth)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(c.t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// The StewAI docs' flows, exactly as written there, against the fake.
func TestDocumentedFlows(t *testing.T) {
	// The docs' recipe moves by polls here, so the test never sleeps.
	scripts := filepath.Join(t.TempDir(), "scripts.json")
	require.NoError(t, os.WriteFile(scripts, []byte(`{"recipes": {"01JEXAMPLE00000000000000000": {"polls_per_status": 1}}}`), 0o600))
	env := start(t, "--addr", "127.0.0.1:0", "--scripts", scripts)
	c := rawClient{t: t, base: env["STEWAI_BASE_URL"], auth: env["STEWAI_API_KEY"]}

	// runs.create(recipe_id=..., inputs=..., ingest=[IngestSource(uri="https://...", kind="url"),
	// IngestSource(uri="doc://01ABCDEF...", kind="file", label="Report")], wait=False)
	status, run := c.do("POST", "runs/", "application/json", bytes.NewBufferString(`{
	  "recipe_id": "01JEXAMPLE00000000000000000",
	  "inputs": {"company_name": "Acme Corp"},
	  "ingest": {"ingest_step_1": {"sources": [
	    {"uri": "https://example.com/report.pdf", "kind": "url"},
	    {"uri": "doc://01ABCDEF...", "kind": "file", "label": "Report"}]}}}`))
	require.Equal(t, http.StatusAccepted, status, "%v", run)
	assert.Equal(t, "queued", run["status"])
	id := run["id"].(string)

	// runs.get(run_id), then runs.wait(run_id): poll until a terminal status.
	status, got := c.do("GET", "runs/"+id+"/", "", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, id, got["id"])
	for range 5 {
		if got["status"] == "done" {
			break
		}
		_, got = c.do("GET", "runs/"+id+"/", "", nil)
	}
	require.Equal(t, "done", got["status"], "queued, running, done: the run ends at the second poll")

	// run.steps(): the full execution trace.
	status, steps := c.do("GET", "runs/"+id+"/steps/", "", nil)
	require.Equal(t, http.StatusOK, status)
	list := steps["steps"].([]any)
	require.NotEmpty(t, list)
	first := list[0].(map[string]any)
	assert.Equal(t, "text", first["output_flat"].(map[string]any)["type"])

	// storage.upload(path), then storage.resolve_path("Q4.pdf").
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, err := mw.CreateFormFile("file", "Q4.pdf")
	require.NoError(t, err)
	_, _ = part.Write([]byte("%PDF-1.7"))
	require.NoError(t, mw.Close())
	status, file := c.do("POST", "storage/upload/", mw.FormDataContentType(), &form)
	require.Less(t, status, 300, "%v", file)
	status, resolved := c.do("GET", "storage/resolve/?path="+url.QueryEscape("Q4.pdf"), "", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, file["uri"], resolved["uri"])

	// Errors: a wrong key, an ftp:// url source, a missing run.
	status, _ = rawClient{t: t, base: c.base, auth: "sk-live-wrong"}.do("GET", "runs/"+id+"/", "", nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	status, body := c.do("POST", "runs/", "application/json", bytes.NewBufferString(
		`{"recipe_id": "01JEXAMPLE00000000000000000", "inputs": {}, "ingest": {"s": {"sources": [{"uri": "ftp://example.com/a.pdf", "kind": "url"}]}}}`))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body["detail"], "http")
	status, _ = c.do("GET", "runs/01JNOSUCHRUN0000000000000000/", "", nil)
	assert.Equal(t, http.StatusNotFound, status)
}
