package stewai

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
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

// jsonEscapeAll writes every character of s as a \u escape, as a JSON
// encoder may.
func jsonEscapeAll(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}

// A server may echo the key in another form than the one sent: escaped in
// a JSON body, in a header, in the Content-Type of a malformed answer. It
// is cut out of every error and log line all the same.
func TestKeyEchoedInOtherForms(t *testing.T) {
	for name, answer := range map[string]func(w http.ResponseWriter){
		"JSON-escaped slash-free body": func(w http.ResponseWriter) {
			w.WriteHeader(503)
			_, _ = io.WriteString(w, `{"detail": "bad key `+jsonEscapeAll(testKey)+`"}`)
		},
		"JSON-escaped with \\/": func(w http.ResponseWriter) {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"detail": ["key `+strings.ReplaceAll(testKey, "-", `\u002d`)+`\/x"]}`)
		},
		"in X-Request-Id": func(w http.ResponseWriter) {
			w.Header().Set("X-Request-Id", "req-"+testKey)
			w.WriteHeader(503)
		},
		"in the Content-Type of a malformed 200": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/plain; key="+testKey)
			_, _ = io.WriteString(w, "not json")
		},
		"URL-escaped in a text body": func(w http.ResponseWriter) {
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "upstream said key="+url.QueryEscape(testKey+" ")+" is bad")
		},
	} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			env := setup(t, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) { answer(w) })
			_, err := env.client.Runs.Get(testContext(t), "r1")
			require.Error(t, err)
			var printed []string
			printed = append(printed, err.Error(), fmt.Sprintf("%+v", err), logs.String())
			var apiErr *APIError
			if errors.As(err, &apiErr) {
				printed = append(printed, string(apiErr.Body), apiErr.Message, apiErr.RequestID, apiErr.Code)
			}
			for _, p := range printed {
				assert.NotContains(t, p, testKey)
				assert.NotContains(t, p, strings.ToLower(jsonEscapeAll(testKey)))
				assert.NotContains(t, p, strings.ReplaceAll(testKey, "-", `\u002d`))
			}
		})
	}
}

// NewClient's errors for a rejected base URL never quote its credentials
// or query values.
func TestBaseURLErrorsHideCredentials(t *testing.T) {
	for _, raw := range []string{
		"https://user:hunter2@api.example/v1",
		"https://api.example/v1?api_key=hunter2",
		"ftp://user:hunter2@api.example/v1?api_key=hunter2",
		"http://user:hunter2@[::1:bad/v1",
	} {
		_, err := NewClient(WithAPIKey(testKey), WithBaseURL(raw))
		require.ErrorIs(t, err, ErrInvalidParams, raw)
		assert.NotContains(t, err.Error(), "hunter2", raw)
	}
}
