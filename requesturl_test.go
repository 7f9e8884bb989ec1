package stewai

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parsedURL is what the request's URL was before requestURL: the base's
// text joined with the path and query, parsed.
func parsedURL(t testing.TB, baseText, path, query string) (*url.URL, error) {
	t.Helper()
	target := baseText + path
	if query != "" {
		target += "?" + query
	}
	return url.Parse(target)
}

// TestRequestURLIsWhatParsingGives: the URL made from the parsed base is,
// field for field, the one url.Parse gives for the joined text, whether it
// takes the plain path or parses.
func TestRequestURLIsWhatParsingGives(t *testing.T) {
	bases := []string{
		"https://api.stewai.com/v1",
		"https://api.stewai.com",
		"http://127.0.0.1:8080/v1/",
		"http://[::1]:9/api/v1",
		"https://api.example.com:/v1",          // empty port
		"https://api.example.com/a%2Fb/v1",     // a base path with an escape: RawPath
		"https://api.example.com/caf%C3%A9/v1", // escaped, but in its usual form
		"https://api.example.com/café/v1",      // a RawPath net/url keeps but never uses
		"https://api.example.com/a|b/v1",
	}
	paths := []string{"runs/01JRUN/", "runs/", "runs/a%2Fb/", "runs/%E2%9C%93/steps/", "recipes/x/execution-contract/",
		"storage/upload/", "a;b/", "a,b/", "runs/a$b/", "runs/a+b/", "runs/~x_y-z.1/"}
	queries := []string{"", "page=2", "status=done&recipe_id=01J", "q=a%23b", "q=%E2%9C%93", "q=a+b", "x=1;y=2"}
	for _, bt := range bases {
		base, err := normalizeBaseURL(bt, true)
		require.NoError(t, err, bt)
		baseText := base.String()
		for _, p := range paths {
			for _, q := range queries {
				want, werr := parsedURL(t, baseText, p, q)
				got, gerr := requestURL(base, baseText, &request{path: p, query: q})
				if werr != nil {
					assert.Error(t, gerr, "%s + %s ? %s", baseText, p, q)
					continue
				}
				require.NoError(t, gerr, "%s + %s ? %s", baseText, p, q)
				assert.Equal(t, *want, got, "%s + %s ? %s", baseText, p, q)
				assert.Equal(t, want.String(), got.String())
			}
		}
	}
}

// TestNewRequestAtIsNewRequest: the request built around a made URL is the
// one http.NewRequestWithContext builds from the URL's text.
func TestNewRequestAtIsNewRequest(t *testing.T) {
	ctx := context.Background()
	for _, raw := range []string{"https://api.stewai.com/v1/runs/x/?page=2", "http://127.0.0.1:/v1/runs/", "http://[::1]:/v1/"} {
		want, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		require.NoError(t, err)
		u, err := url.Parse(raw)
		require.NoError(t, err)
		got, err := newRequestAt(ctx, http.MethodGet, *u, nil)
		require.NoError(t, err)
		assert.Equal(t, want.URL, got.URL, raw)
		assert.Equal(t, want.Host, got.Host, raw)
		assert.Equal(t, want.Method, got.Method)
		assert.Equal(t, want.Proto, got.Proto)
		assert.Equal(t, want.Header, got.Header)
	}
	_, err := newRequestAt(ctx, "BAD METHOD", url.URL{}, nil)
	assert.Error(t, err, "an invalid method is still refused")
}
