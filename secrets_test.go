package stewai

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeyNeverPrinted(t *testing.T) {
	env := setup(t)
	c := env.client
	holder := struct {
		client *Client
		value  Client
	}{c, *c}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		for _, v := range []any{c, *c, holder, c.Runs, c.Storage, &holder} {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, testKey, "verb %s on %T", verb, v)
			assert.NotContains(t, out, fmt.Sprintf("%x", testKey), "verb %s on %T", verb, v)
		}
	}
	assert.Contains(t, c.String(), env.server.URL, "String still says where the client points")
}

func TestKeyNotInErrorsOrLogs(t *testing.T) {
	var logs bytes.Buffer
	env := setup(t, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	// A server that echoes the key back in its error body.
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, map[string]any{"detail": "invalid key " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")})
	})
	_, err := env.client.Runs.Get(testContext(t), "r1")
	require.ErrorIs(t, err, ErrAuthentication)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.NotContains(t, err.Error(), testKey)
	assert.NotContains(t, string(apiErr.Body), testKey)
	assert.Contains(t, apiErr.Message, "invalid key [REDACTED]")
	assert.NotContains(t, fmt.Sprintf("%+v %#v", apiErr, apiErr), testKey)

	assert.Contains(t, logs.String(), "path=runs/r1/", "debug logging is on")
	assert.NotContains(t, logs.String(), testKey)
}

func TestAPIErrorRedactsSecret(t *testing.T) {
	e := newAPIError("GET", "runs/x/", 401, http.Header{}, []byte(`{"detail":"key sk-live-secret is revoked"}`), 0, "sk-live-secret")
	assert.Equal(t, "key [REDACTED] is revoked", e.Message)
	assert.NotContains(t, string(e.Body), "sk-live-secret")
}
