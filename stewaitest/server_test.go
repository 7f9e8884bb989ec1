package stewaitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// call sends a raw request, as a client that is not this SDK would, and
// returns the status and the decoded JSON answer.
func call(t *testing.T, srv *stewaitest.Server, method, path, contentType, body string, header ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/"+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+srv.APIKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "every answer is JSON: %s", raw)
	}
	return resp.StatusCode, out
}

func createBody(recipe string) string { return `{"recipe_id":"` + recipe + `","inputs":{}}` }

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

func TestAuthentication(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithAPIKey("sk-live-mine"))
	defer srv.Close()
	assert.Equal(t, "sk-live-mine", srv.APIKey)
	for _, auth := range []string{"", "Bearer sk-live-wrong", "sk-live-mine", "Bearer  sk-live-mine", "Basic c2stbGl2ZS1taW5l"} {
		for _, path := range []string{"runs/", "runs/x/", "runs/x/steps/", "storage/upload/", "storage/resolve/?path=a"} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/"+path, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%q on %s", auth, path)
		}
	}
	assert.Empty(t, srv.Runs())
}

func TestRouting(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"POST", "runs", http.StatusNotFound},
		{"GET", "runs/abc", http.StatusNotFound},
		{"GET", "runs/abc/steps", http.StatusNotFound},
		{"GET", "storage/resolve", http.StatusNotFound},
		{"GET", "nope/", http.StatusNotFound},
		{"PUT", "runs/", http.StatusMethodNotAllowed},
		{"DELETE", "runs/abc/", http.StatusMethodNotAllowed},
		{"POST", "runs/abc/steps/", http.StatusMethodNotAllowed},
		{"GET", "storage/upload/", http.StatusMethodNotAllowed},
		{"GET", "runs/unknown/", http.StatusNotFound},
		{"GET", "runs/unknown/steps/", http.StatusNotFound},
	} {
		status, body := call(t, srv, tc.method, tc.path, "", "")
		assert.Equal(t, tc.want, status, "%s %s", tc.method, tc.path)
		assert.NotEmpty(t, body["detail"], "%s %s explains itself", tc.method, tc.path)
	}
	resp, err := http.Get(strings.TrimSuffix(srv.URL, "/v1") + "/runs/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the API lives under /v1/")
}

func TestCreateValidation(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithStrictFiles())
	defer srv.Close()
	doc := srv.PutFile("Reports/Q4.pdf", []byte("%PDF"))
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		detail            string
	}{
		{"wrong content type", "text/plain", createBody("r"), 415, "application/json"},
		{"not JSON", "application/json", `{recipe_id: r}`, 400, "JSON object"},
		{"not an object", "application/json", `["r"]`, 400, "JSON object"},
		{"unknown field", "application/json", `{"recipe_id":"r","inputs":{},"recipeId":"r"}`, 400, `"recipeId"`},
		{"no recipe", "application/json", `{"inputs":{}}`, 400, "recipe_id is required"},
		{"empty recipe", "application/json", `{"recipe_id":" ","inputs":{}}`, 400, "recipe_id is required"},
		{"numeric recipe", "application/json", `{"recipe_id":7,"inputs":{}}`, 400, "recipe_id is required"},
		{"inputs not strings", "application/json", `{"recipe_id":"r","inputs":{"n":1}}`, 400, "inputs must be an object"},
		{"inputs null", "application/json", `{"recipe_id":"r","inputs":null}`, 400, "inputs must be an object"},
		{"inputs a list", "application/json", `{"recipe_id":"r","inputs":["a"]}`, 400, "inputs must be an object"},
		{"ingest a list", "application/json", `{"recipe_id":"r","ingest":[]}`, 400, "ingest must be an object"},
		{"ingest step flat list", "application/json", `{"recipe_id":"r","ingest":{"s":[{"uri":"https://a.example","kind":"url"}]}}`, 400, `ingest["s"] must be {"sources"`},
		{"ingest step without sources", "application/json", `{"recipe_id":"r","ingest":{"s":{}}}`, 400, `ingest["s"] must be`},
		{"ingest step extra field", "application/json", `{"recipe_id":"r","ingest":{"s":{"sources":[],"x":1}}}`, 400, `ingest["s"] must be`},
		{"empty step id", "application/json", `{"recipe_id":"r","ingest":{"":{"sources":[]}}}`, 400, "step ids"},
		{"url source not http", "application/json", `{"recipe_id":"r","ingest":{"s":{"sources":[{"uri":"ftp://a/b","kind":"url"}]}}}`, 400, "sources[0]: url sources need"},
		{"file source not doc", "application/json", `{"recipe_id":"r","ingest":{"s":{"sources":[{"uri":"https://a.example","kind":"file"}]}}}`, 400, "file sources need a doc:// uri"},
		{"file source unknown", "application/json", `{"recipe_id":"r","ingest":{"s":{"sources":[{"uri":"doc://01NOPE","kind":"file"}]}}}`, 400, "not in storage"},
		{"unknown kind", "application/json", `{"recipe_id":"r","ingest":{"s":{"sources":[{"uri":"s3://b/k","kind":"s3"}]}}}`, 400, `kind must be`},
		{"source extra field", "application/json", `{"recipe_id":"r","ingest":{"s":{"sources":[{"uri":"https://a.example","kind":"url","x":1}]}}}`, 400, "sources[0] must be"},
		{"too large", "application/json", `{"recipe_id":"r","inputs":{"a":"` + strings.Repeat("x", 1<<20) + `"}}`, 413, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, srv, "POST", "runs/", tc.ctype, tc.body)
			assert.Equal(t, tc.status, status)
			assert.Contains(t, body["detail"], tc.detail)
		})
	}
	assert.Empty(t, srv.Runs(), "nothing invalid starts a run")

	status, body := call(t, srv, "POST", "runs/", "application/json; charset=utf-8",
		`{"recipe_id":"r","ingest":{"s":{"sources":[{"uri":"https://a.example/x","kind":"url"},{"uri":"`+doc.URI+`","kind":"file","label":"Q4"}]}}}`)
	assert.Equal(t, http.StatusAccepted, status, "inputs may be left out; valid sources pass: %v", body)
	assert.Equal(t, "queued", body["status"])
	assert.Len(t, srv.Runs(), 1)
}

func TestIdempotencyKey(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	_, first := call(t, srv, "POST", "runs/", "application/json", createBody("r"), "Idempotency-Key", "k1")
	_, again := call(t, srv, "POST", "runs/", "application/json", createBody("r"), "Idempotency-Key", "k1")
	assert.Equal(t, first["id"], again["id"], "the same key gives the same run")
	assert.Len(t, srv.Runs(), 1, "and starts no new one")

	status, body := call(t, srv, "POST", "runs/", "application/json", createBody("other"), "Idempotency-Key", "k1")
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, body["detail"], "different content")

	_, other := call(t, srv, "POST", "runs/", "application/json", createBody("r"), "Idempotency-Key", "k2")
	_, none := call(t, srv, "POST", "runs/", "application/json", createBody("r"))
	assert.NotEqual(t, first["id"], other["id"])
	assert.NotEqual(t, other["id"], none["id"])
	assert.Len(t, srv.Runs(), 3)
}

func TestRunLifecycleByPolls(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithRecipe("r", stewaitest.Recipe{}))
	defer srv.Close()
	status, run := call(t, srv, "POST", "runs/", "application/json", createBody("r"))
	require.Equal(t, http.StatusAccepted, status)
	id := run["id"].(string)
	assert.Equal(t, "queued", run["status"])
	assert.Equal(t, "r", run["recipe_id"])
	assert.NotEmpty(t, run["created_at"])
	assert.Contains(t, run, "duration_ms")

	var seen []any
	for range 4 {
		_, got := call(t, srv, "GET", "runs/"+id+"/", "", "")
		seen = append(seen, got["status"])
	}
	assert.Equal(t, []any{"running", "done", "done", "done"}, seen)
	runs := srv.Runs()
	require.Len(t, runs, 1)
	assert.Equal(t, id, runs[0].ID)
	assert.Equal(t, stewai.StatusDone, runs[0].Status)
	assert.Equal(t, run["created_at"], runs[0].CreatedAt.Format(time.RFC3339Nano))
	_, again := call(t, srv, "GET", "runs/"+id+"/", "", "")
	assert.Equal(t, again["duration_ms"], float64(runs[0].DurationMS), "the duration stops at the end")
}

func TestUploadAndResolve(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	post := func(t *testing.T, build func(*multipart.Writer), header ...string) (int, map[string]any) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		build(mw)
		require.NoError(t, mw.Close())
		return call(t, srv, "POST", "storage/upload/", mw.FormDataContentType(), buf.String(), header...)
	}
	file := func(name, content string) func(*multipart.Writer) {
		return func(mw *multipart.Writer) {
			w, _ := mw.CreateFormFile("file", name)
			io.WriteString(w, content)
		}
	}

	status, body := post(t, func(mw *multipart.Writer) {
		mw.WriteField("folder_ulid", "01HZX3K7Q9V5M2N8P4R6T0W1YB")
		file("notes.txt", "twelve bytes")(mw)
	})
	require.Equal(t, http.StatusCreated, status, "%v", body)
	assert.Equal(t, "notes.txt", body["filename"])
	assert.Equal(t, float64(12), body["size_bytes"])
	assert.True(t, strings.HasPrefix(body["uri"].(string), "doc://"))
	assert.Equal(t, "doc://"+body["obj_ulid"].(string), body["uri"])
	stored := srv.Files()
	require.Len(t, stored, 1)
	assert.Equal(t, "01HZX3K7Q9V5M2N8P4R6T0W1YB", stored[0].Folder)
	assert.Equal(t, "twelve bytes", string(stored[0].Content))

	status, got := call(t, srv, "GET", "storage/resolve/?path=notes.txt", "", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, body["uri"], got["uri"], "an upload resolves at its filename")
	status, _ = call(t, srv, "GET", "storage/resolve/?path=other.txt", "", "")
	assert.Equal(t, http.StatusNotFound, status)
	status, _ = call(t, srv, "GET", "storage/resolve/", "", "")
	assert.Equal(t, http.StatusBadRequest, status)

	for _, tc := range []struct {
		name   string
		build  func(*multipart.Writer)
		detail string
	}{
		{"no file part", func(mw *multipart.Writer) { mw.WriteField("folder_ulid", "01HZX3K7Q9V5M2N8P4R6T0W1YB") }, "no file part"},
		{"bad folder", func(mw *multipart.Writer) { mw.WriteField("folder_ulid", "Reports"); file("a", "x")(mw) }, "not a ULID"},
		{"no filename", func(mw *multipart.Writer) { w, _ := mw.CreateFormField("file"); io.WriteString(w, "x") }, "needs a filename"},
		{"unexpected field", func(mw *multipart.Writer) { mw.WriteField("name", "x"); file("a", "x")(mw) }, `"name"`},
		{"two files", func(mw *multipart.Writer) { file("a", "x")(mw); file("b", "y")(mw) }, "one file part"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, tc.build)
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Contains(t, body["detail"], tc.detail)
		})
	}
	status, body = call(t, srv, "POST", "storage/upload/", "application/json", "{}")
	assert.Equal(t, http.StatusUnsupportedMediaType, status)
	assert.Contains(t, body["detail"], "multipart/form-data")
	assert.Len(t, srv.Files(), 1, "nothing invalid is stored")

	_, a := post(t, file("same.txt", "one"), "Idempotency-Key", "u1")
	_, b := post(t, file("same.txt", "one"), "Idempotency-Key", "u1")
	assert.Equal(t, a["uri"], b["uri"])
	assert.Len(t, srv.Files(), 2, "a repeated key stores nothing new")
}

// The StewAI docs create a run with IngestSource(uri="doc://01ABCDEF...",
// kind="file"). The fake accepts that call as it is, unless told to be
// strict about which files exist.
func TestDocsFileSourceAcceptedByDefault(t *testing.T) {
	const docsExample = `{"recipe_id": "01JEXAMPLE00000000000000000", "inputs": {"company_name": "Acme Corp"},
	  "ingest": {"ingest_step_1": {"sources": [{"uri": "https://example.com/report.pdf", "kind": "url"},
	                                            {"uri": "doc://01ABCDEF...", "kind": "file", "label": "Report"}]}}}`
	srv := stewaitest.NewServer()
	defer srv.Close()
	status, body := call(t, srv, "POST", "runs/", "application/json", docsExample)
	assert.Equal(t, http.StatusAccepted, status, "%v", body)

	strict := stewaitest.NewServer(stewaitest.WithStrictFiles())
	defer strict.Close()
	status, body = call(t, strict, "POST", "runs/", "application/json", docsExample)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body["detail"], "doc://01ABCDEF...", "the 400 names the unknown file")
	file := strict.PutFile("Reports/Q4.pdf", []byte("pdf"))
	status, _ = call(t, strict, "POST", "runs/", "application/json",
		`{"recipe_id": "r", "ingest": {"s": {"sources": [{"uri": "`+file.URI+`", "kind": "file"}]}}}`)
	assert.Equal(t, http.StatusAccepted, status, "a stored file is accepted")
}

func TestUploadPastMaxStoredBytesIs413AndKeepsEarlierFiles(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithMaxStoredBytes(2500))
	defer srv.Close()
	c := srv.Client()
	ctx := testContext(t)
	kilo := func(b byte) []byte { return bytes.Repeat([]byte{b}, 1000) }

	first, err := c.Storage.Upload(ctx, bytes.NewReader(kilo('a')), "a.txt")
	require.NoError(t, err)
	_, err = c.Storage.Upload(ctx, bytes.NewReader(kilo('b')), "b.txt")
	require.NoError(t, err)
	_, err = c.Storage.Upload(ctx, bytes.NewReader(kilo('c')), "c.txt")
	var apiErr *stewai.APIError
	require.ErrorAs(t, err, &apiErr, "3000 bytes would pass the 2500 allowed")
	assert.Equal(t, http.StatusRequestEntityTooLarge, apiErr.StatusCode)
	assert.Contains(t, apiErr.Message, "at most 2500 bytes of uploaded content")
	assert.Contains(t, apiErr.Message, "Earlier files are kept")

	files := srv.Files()
	require.Len(t, files, 2, "the refused file is not stored")
	assert.Equal(t, kilo('a'), files[0].Content, "earlier files are kept whole")
	assert.Equal(t, kilo('b'), files[1].Content)
	got, err := c.Storage.ResolvePath(ctx, "a.txt")
	require.NoError(t, err)
	assert.Equal(t, first.URI, got.URI)
	_, err = c.Storage.ResolvePath(ctx, "c.txt")
	assert.ErrorIs(t, err, stewai.ErrNotFound)

	_, err = c.Storage.Upload(ctx, bytes.NewReader(kilo('d')[:500]), "d.txt")
	assert.NoError(t, err, "a file that fits still goes in")
	_, err = c.Storage.Upload(ctx, bytes.NewReader(nil), "empty.txt")
	assert.NoError(t, err, "an empty file always fits")
	assert.Len(t, srv.Files(), 4)

	none := stewaitest.NewServer(stewaitest.WithMaxStoredBytes(-1))
	defer none.Close()
	_, err = none.Client().Storage.Upload(ctx, strings.NewReader("x"), "x.txt")
	assert.ErrorAs(t, err, &apiErr, "a negative bound keeps nothing, without panicking")
}

func TestDefaultMaxStoredBytes(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	c := srv.Client()
	ctx := testContext(t)
	big := bytes.Repeat([]byte("x"), stewaitest.MaxKeptContent)
	for i := range stewaitest.DefaultMaxStoredBytes / stewaitest.MaxKeptContent {
		_, err := c.Storage.Upload(ctx, bytes.NewReader(big), "f.bin")
		require.NoError(t, err, "upload %d", i)
	}
	_, err := c.Storage.Upload(ctx, strings.NewReader("one byte more"), "g.bin")
	var apiErr *stewai.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusRequestEntityTooLarge, apiErr.StatusCode, "64 MiB kept is the default bound")
}
