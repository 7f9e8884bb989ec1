package stewai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A password with "/", "?" or "#" in it makes net/url read the rest of it
// as a port, and its error quotes that text; a password of digits followed
// by "/" even parses, as a host with a port. No base URL error may show any
// of it, from the option or from the environment.
func TestBaseURLErrorsNeverQuoteCredentials(t *testing.T) {
	for _, raw := range []string{
		"https://svc:Hunter2Secret/xyz@host/v1",
		"https://svc:Hunter2?Secret@host/v1",
		"https://svc:Hunter2#Secret@host/v1",
		"https://svc:98765/xyz@127.0.0.1/v1",
		"https://svc:Hunter2Secret@host/v1",
		"https://a@b@host/v1",
		"svc:Hunter2Secret@host/v1",
	} {
		t.Run(raw, func(t *testing.T) {
			check := func(t *testing.T, c *Client, err error, from string) {
				require.ErrorIs(t, err, ErrInvalidParams)
				assert.Nil(t, c)
				msg := err.Error()
				assert.Contains(t, msg, from)
				assert.Contains(t, msg, "credentials")
				for _, part := range []string{"Hunter", "Secret", "98765", "xyz", "svc"} {
					assert.NotContains(t, msg, part, "no part of the user info is quoted")
				}
			}
			c, err := NewClient(WithAPIKey(testKey), WithBaseURL(raw))
			check(t, c, err, "WithBaseURL")
			t.Setenv("STEWAI_BASE_URL", raw)
			c, err = NewClient(WithAPIKey(testKey))
			check(t, c, err, "STEWAI_BASE_URL")
		})
	}
}

// A base URL without a scheme is told to add one, whatever net/url makes
// of it ("127.0.0.1:8080/v1" does not parse; "localhost:8080" parses with
// "localhost" as its scheme).
func TestBaseURLWithoutScheme(t *testing.T) {
	for _, raw := range []string{"127.0.0.1:8080/v1", "localhost:8080", "api.stewai.com/v1", "localhost:8080/v1?token=abc"} {
		t.Run(raw, func(t *testing.T) {
			_, err := NewClient(WithAPIKey(testKey), WithBaseURL(raw))
			require.ErrorIs(t, err, ErrInvalidParams)
			assert.Contains(t, err.Error(), "add https:// (or http:// for loopback)")
			assert.NotContains(t, err.Error(), "abc", "a query is not quoted")
			t.Setenv("STEWAI_BASE_URL", raw)
			_, err = NewClient(WithAPIKey(testKey))
			require.ErrorIs(t, err, ErrInvalidParams)
			assert.Contains(t, err.Error(), "STEWAI_BASE_URL")
			assert.Contains(t, err.Error(), "add https:// (or http:// for loopback)")
		})
	}
}

func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	for _, ok := range []string{"http://localhost:8080/v1", "http://127.0.0.1/v1", "http://127.9.9.9:1/v1", "http://[::1]:9/v1", "http://api.localhost/v1", "https://api.example/v1"} {
		_, err := NewClient(WithAPIKey(testKey), WithBaseURL(ok))
		assert.NoError(t, err, ok)
	}
	_, err := NewClient(WithAPIKey(testKey), WithBaseURL("http://api.example/v1"))
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.Contains(t, err.Error(), "clear text")
	assert.Contains(t, err.Error(), "WithInsecureHTTP()", "the error says how to opt in")
	_, err = NewClient(WithAPIKey(testKey), WithBaseURL("http://api.example/v1"), WithInsecureHTTP())
	assert.NoError(t, err, "an explicit opt-in")

	t.Setenv("STEWAI_BASE_URL", "http://10.0.0.7/v1")
	_, err = NewClient(WithAPIKey(testKey))
	assert.ErrorIs(t, err, ErrInvalidParams, "from the environment too")
}

func TestBaseURLEndingInAnEndpoint(t *testing.T) {
	for _, raw := range []string{"https://api.stewai.com/v1/runs", "https://api.stewai.com/v1/runs/", "https://api.stewai.com/v1/storage/upload/", "https://api.stewai.com/v1/recipes"} {
		_, err := NewClient(WithAPIKey(testKey), WithBaseURL(raw))
		require.ErrorIs(t, err, ErrInvalidParams, raw)
		assert.Contains(t, err.Error(), "endpoint path", raw)
	}
	_, err := NewClient(WithAPIKey(testKey), WithBaseURL("https://proxy.example/stewai/runs-api/v1"))
	assert.NoError(t, err, "only a whole endpoint segment counts")
}
