package stewai

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDoWire(t *testing.T) {
	env := setup(t)
	var got *http.Request
	var body string
	env.mux.HandleFunc("PATCH /recipes/r1/", func(w http.ResponseWriter, r *http.Request) {
		got, body = r, readBody(t, r)
		writeJSON(w, http.StatusOK, map[string]any{"id": "r1", "name": "Renamed", "extra": 1})
	})
	var out struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	err := env.client.Do(testContext(t), http.MethodPatch, "recipes/r1/?dry_run=1", map[string]string{"name": "Renamed"}, &out)
	require.NoError(t, err)
	assert.Equal(t, "r1", out.ID)
	assert.Equal(t, "Renamed", out.Name)
	assert.Equal(t, `{"name":"Renamed"}`, body)
	assert.Equal(t, "dry_run=1", got.URL.RawQuery)
	assert.Equal(t, "Bearer "+testKey, got.Header.Get("Authorization"))
	assert.Equal(t, "application/json", got.Header.Get("Content-Type"))
	assert.Equal(t, "stewai-go/"+Version, got.Header.Get("User-Agent"))
	assert.Len(t, got.Header.Get("Idempotency-Key"), 26, "PATCH carries a ULID key")
}

func TestDoRawAnswerAndNoBody(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("GET /runs/", func(w http.ResponseWriter, r *http.Request) {
		assert.Empty(t, r.Header.Get("Idempotency-Key"), "GET carries no key")
		assert.Empty(t, r.Header.Get("Content-Type"), "no body, no content type")
		assert.Equal(t, "status=done", r.URL.RawQuery)
		_, _ = w.Write([]byte(`{"count": 1, "results": [ {"id": "a"} ]}`))
	})
	env.mux.HandleFunc("DELETE /recipes/r1/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	var raw json.RawMessage
	require.NoError(t, env.client.Do(testContext(t), http.MethodGet, "/runs/?status=done", nil, &raw))
	assert.Equal(t, `{"count": 1, "results": [ {"id": "a"} ]}`, string(raw), "kept byte for byte")

	require.NoError(t, env.client.Do(testContext(t), http.MethodGet, "runs/?status=done", nil, nil), "out nil discards the answer")
	var untouched = map[string]any{"kept": true}
	require.NoError(t, env.client.Do(testContext(t), http.MethodDelete, "recipes/r1/", nil, &untouched))
	assert.Equal(t, map[string]any{"kept": true}, untouched, "a 204 leaves out as it was")
}

func TestDoIdempotencyKeySameAcrossRetries(t *testing.T) {
	env := setup(t)
	var mu sync.Mutex
	var keys []string
	env.mux.HandleFunc("POST /recipes/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		n := len(keys)
		mu.Unlock()
		if n < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id": "new"}`))
	})
	var out map[string]any
	require.NoError(t, env.client.Do(testContext(t), http.MethodPost, "recipes/", json.RawMessage(`{"title":"x"}`), &out))
	assert.Equal(t, "new", out["id"])
	require.Len(t, keys, 3)
	assert.Len(t, keys[0], 26)
	assert.Equal(t, keys[0], keys[1])
	assert.Equal(t, keys[0], keys[2])

	first := keys[0]
	require.NoError(t, env.client.Do(testContext(t), http.MethodPost, "recipes/", nil, nil))
	require.Len(t, keys, 4)
	assert.NotEqual(t, first, keys[3], "each call has its own key")
}

func TestDoErrors(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("GET /recipes/missing/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Recipe not found."})
	})
	env.mux.HandleFunc("GET /recipes/secret/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, map[string]string{"detail": "Self-service is disabled."})
	})
	env.mux.HandleFunc("GET /recipes/garbled/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<html>`))
	})
	ctx := testContext(t)

	err := env.client.Do(ctx, http.MethodGet, "recipes/missing/", nil, nil)
	require.ErrorIs(t, err, ErrNotFound)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "GET", apiErr.Method)
	assert.Equal(t, "recipes/missing/", apiErr.Path)
	assert.Equal(t, "Recipe not found.", apiErr.Message)

	assert.ErrorIs(t, env.client.Do(ctx, http.MethodGet, "recipes/secret/", nil, nil), ErrAuthentication)
	var out map[string]any
	assert.ErrorIs(t, env.client.Do(ctx, http.MethodGet, "recipes/garbled/", nil, &out), ErrMalformedResponse)
}

func TestDoPathChecks(t *testing.T) {
	env := setup(t)
	ctx := testContext(t)
	for _, tc := range []struct{ method, path string }{
		{"GET", ""},
		{"GET", "https://evil.example/v1/runs/"},
		{"GET", "//evil.example/runs/"},
		{"GET", "../admin/"},
		{"GET", "runs/../../admin/"},
		{"GET", "runs/%2e%2e/%2E%2E/admin/"},
		{"GET", "runs/./"},
		{"GET", "runs/..%2F..%2Fadmin/"},
		{"GET", "runs/..%2f..%2fadmin/"},
		{"GET", "%2e%2e%2fadmin"},
		{"GET", "runs/%2E%2e%2Fadmin/"},
		{"GET", "runs/x%2F..%2F..%2Fadmin/"},
		{"GET", "runs/.%2F"},
		{"GET", "runs/..%5Cadmin/"},
		{"DELETE", "recipes/..%2F..%2Fadmin/"},
		{"GET", "runs/#frag"},
		{"GET", "runs/\n"},
		{"", "runs/"},
		{"GE T", "runs/"},
	} {
		err := env.client.Do(ctx, tc.method, tc.path, nil, nil)
		assert.ErrorIs(t, err, ErrInvalidParams, "%s %q", tc.method, tc.path)
	}
	assert.ErrorIs(t, env.client.Do(ctx, http.MethodPost, "runs/", func() {}, nil), ErrInvalidParams, "a body that does not encode")
	assert.Zero(t, env.requests.Load(), "nothing was sent")

	var nilClient *Client
	assert.ErrorIs(t, nilClient.Do(ctx, http.MethodGet, "runs/", nil, nil), ErrInvalidParams)
}

// Segments that are not . or .. once decoded are sent as they are.
func TestDoPathDotsInsideNames(t *testing.T) {
	env := setup(t)
	var got []string
	env.mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.EscapedPath())
		writeJSON(w, http.StatusOK, map[string]any{})
	})
	for _, p := range []string{"runs/...%2F/", "runs/a..b/", "runs/.hidden/", "runs/%2e%2e%2e/"} {
		require.NoError(t, env.client.Do(testContext(t), http.MethodGet, p, nil, nil), p)
	}
	assert.Equal(t, []string{"/runs/...%2F/", "/runs/a..b/", "/runs/.hidden/", "/runs/%2e%2e%2e/"}, got)
}

// An out that json.Unmarshal cannot fill is ErrInvalidParams before the
// request: a POST would otherwise create the run, then blame the answer
// (and a typed nil pointer panicked).
func TestDoOutMustBeANonNilPointer(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("POST /runs/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusAccepted, runJSON("r1", StatusQueued))
	})
	ctx := testContext(t)
	in := map[string]any{"recipe_id": "x", "inputs": map[string]string{}}
	for name, out := range map[string]any{
		"struct value":  Run{},
		"typed nil":     (*Run)(nil),
		"map value":     map[string]any{},
		"string":        "x",
		"typed nil map": (*map[string]any)(nil),
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = env.client.Do(ctx, http.MethodPost, "runs/", in, out) })
			require.ErrorIs(t, err, ErrInvalidParams)
			assert.Contains(t, err.Error(), "not a non-nil pointer")
		})
	}
	assert.Zero(t, env.requests.Load(), "nothing was sent, no run was created")

	var run Run
	require.NoError(t, env.client.Do(ctx, http.MethodPost, "runs/", in, &run))
	assert.Equal(t, "r1", run.ID)
	require.NoError(t, env.client.Do(ctx, http.MethodPost, "runs/", in, nil), "nil discards the answer")
	assert.Equal(t, int64(2), env.requests.Load())
}
