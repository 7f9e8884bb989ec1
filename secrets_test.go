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
	e := newAPIError("GET", "runs/x/", 401, http.Header{}, []byte(`{"detail":"key sk-live-secret is revoked"}`), false, 0, "sk-live-secret")
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

// The error body is kept up to 64 KiB: a key echoed across that cut must
// not survive in APIError.Body, whole (a JSON-escaped echo whose string
// the cut leaves open) or in part (a plain echo of which the cut keeps all
// but the last characters).
func TestKeyCutAtTheErrorBodyCap(t *testing.T) {
	escaped := `\u0073` + testKey[1:] // as a JSON encoder may write it
	for name, body := range map[string]string{
		"JSON-escaped, ending at the cap":              `{"detail": "` + strings.Repeat("x", maxErrorBodyBytes-len(`{"detail": "`)-len(escaped)) + escaped + ` is revoked"}`,
		"JSON-escaped, all escaped, ending at the cap": `{"detail": "` + strings.Repeat("x", maxErrorBodyBytes-len(`{"detail": "`)-len(jsonEscapeAll(testKey))) + jsonEscapeAll(testKey) + `"}`,
		"JSON-escaped, cut inside":                     `{"detail": "` + strings.Repeat("x", maxErrorBodyBytes-len(`{"detail": "`)-20) + escaped + `"}`,
		"JSON-escaped, cut in an escape":               `{"detail": "` + strings.Repeat("x", maxErrorBodyBytes-len(`{"detail": "`)-4) + escaped + `"}`,
		"plain, all but 4 characters before the cap":   strings.Repeat("x", maxErrorBodyBytes-len(testKey)+4) + testKey + " is revoked",
		"plain JSON, cut inside":                       `{"detail": "` + strings.Repeat("x", maxErrorBodyBytes-len(`{"detail": "`)-9) + testKey + `"}`,
		"plain, cut after 1 character":                 strings.Repeat("x", maxErrorBodyBytes-1) + testKey,
	} {
		t.Run(name, func(t *testing.T) {
			env := setup(t)
			env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusForbidden)
				_, _ = io.WriteString(w, body)
			})
			_, err := env.client.Runs.Get(testContext(t), "r1")
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			got := string(apiErr.Body)
			assert.LessOrEqual(t, len(got), maxErrorBodyBytes)
			assert.Greater(t, len(got), maxErrorBodyBytes-200, "the body is kept up to the cap, less the key")
			for _, form := range []string{testKey, escaped, jsonEscapeAll(testKey)} {
				for n := len(form); n > 0; n-- {
					if !assert.False(t, strings.HasSuffix(got, form[:n]), "Body ends in the key's first %d bytes %q", n, form[:n]) {
						break
					}
				}
			}
			assert.NotContains(t, got, testKey[:len(testKey)-4])
			assert.NotContains(t, got, escaped[:len(escaped)-4])
			assert.NotContains(t, err.Error(), testKey[:8])
		})
	}
}

// Wherever a body is cut, what redactCut keeps holds no start of the key
// at its end and the key nowhere: as it is in text, and in each form a
// JSON string may hold it in.
func TestRedactCutAtEveryPosition(t *testing.T) {
	forms := []string{testKey, `\u0073` + testKey[1:], jsonEscapeAll(testKey), strings.ReplaceAll(testKey, "-", `\u002d`)}
	bodies := []string{"key " + testKey + " is revoked", "key=" + url.QueryEscape(testKey+" ")}
	for _, form := range forms {
		bodies = append(bodies, `{"detail": "key `+form+` is revoked"}`)
	}
	for _, body := range bodies {
		for k := 1; k <= len(body); k++ {
			got := string(redactCut([]byte(body[:k]), testKey))
			require.NotContains(t, got, testKey, "%q cut at %d", body, k)
			for _, f := range forms {
				for n := len(f); n > 0; n-- {
					require.False(t, strings.HasSuffix(got, f[:n]), "%q cut at %d gives %q, ending in %q", body, k, got, f[:n])
				}
			}
		}
	}
}
