package stewai

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every answer type is checked the same way once decoded: an empty object,
// null, or a JSON value of another shape is ErrMalformedResponse, never a
// zero value handed to the caller.
func TestEveryAnswerRejectsTheWrongShape(t *testing.T) {
	calls := map[string]func(ctx context.Context, c *Client) error{
		"run":       func(ctx context.Context, c *Client) error { _, err := c.Runs.Get(ctx, "r"); return err },
		"steps":     func(ctx context.Context, c *Client) error { _, err := c.Runs.Steps(ctx, "r"); return err },
		"runs page": func(ctx context.Context, c *Client) error { _, err := c.Runs.List(ctx, ListRunsParams{}); return err },
		"recipe":    func(ctx context.Context, c *Client) error { _, err := c.Recipes.Get(ctx, "r"); return err },
		"recipes page": func(ctx context.Context, c *Client) error {
			_, err := c.Recipes.List(ctx, ListRecipesParams{})
			return err
		},
		"contract": func(ctx context.Context, c *Client) error {
			_, err := c.Recipes.ExecutionContract(ctx, "r")
			return err
		},
		"marketplace page": func(ctx context.Context, c *Client) error {
			_, err := c.Marketplace.Search(ctx, MarketplaceSearchParams{})
			return err
		},
		"marketplace": func(ctx context.Context, c *Client) error { _, err := c.Marketplace.Detail(ctx, "r"); return err },
		"file":        func(ctx context.Context, c *Client) error { _, err := c.Storage.ResolvePath(ctx, "a.pdf"); return err },
	}
	for _, body := range []string{`{}`, `null`, `[]`, `"text"`, `42`, `{"results":null,"steps":null}`} {
		for name, call := range calls {
			t.Run(name+" "+body, func(t *testing.T) {
				env := setup(t)
				env.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(body))
				})
				err := call(testContext(t), env.client)
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrMalformedResponse)
			})
		}
	}
}

// The same answers of the right shape, however small, are accepted.
func TestEveryAnswerAcceptsTheSmallestRightShape(t *testing.T) {
	for path, body := range map[string]string{
		"/runs/r/":                       `{"id":"r"}`,
		"/runs/r/steps/":                 `{"steps":[]}`,
		"/runs/":                         `{"results":[]}`,
		"/recipes/r/":                    `{"id":"r"}`,
		"/recipes/":                      `{"results":[]}`,
		"/recipes/r/execution-contract/": `{"steps":{}}`,
		"/marketplace/search/":           `{"results":[]}`,
		"/marketplace/recipes/r/":        `{"recipe_ulid":"r"}`,
		"/storage/resolve/":              `{"uri":"doc://x"}`,
	} {
		t.Run(path, func(t *testing.T) {
			env := setup(t)
			env.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(body))
			})
			ctx, c := testContext(t), env.client
			var err error
			switch path {
			case "/runs/r/":
				_, err = c.Runs.Get(ctx, "r")
			case "/runs/r/steps/":
				_, err = c.Runs.Steps(ctx, "r")
			case "/runs/":
				_, err = c.Runs.List(ctx, ListRunsParams{})
			case "/recipes/r/":
				_, err = c.Recipes.Get(ctx, "r")
			case "/recipes/":
				_, err = c.Recipes.List(ctx, ListRecipesParams{})
			case "/recipes/r/execution-contract/":
				_, err = c.Recipes.ExecutionContract(ctx, "r")
			case "/marketplace/search/":
				_, err = c.Marketplace.Search(ctx, MarketplaceSearchParams{})
			case "/marketplace/recipes/r/":
				_, err = c.Marketplace.Detail(ctx, "r")
			case "/storage/resolve/":
				_, err = c.Storage.ResolvePath(ctx, "a.pdf")
			}
			assert.NoError(t, err)
		})
	}
}

// A malformed answer that echoes the key: the key is in no part of the
// error's chain, and a long Content-Type is cut short in the message.
func TestMalformedAnswerKeepsNoServerTextInItsChain(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("GET /runs/r/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; x="+strings.Repeat("y", 10000))
		_, _ = w.Write([]byte(`{"id":7,"status":"` + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") + `"}`))
	})
	_, err := env.client.Runs.Get(testContext(t), "r")
	require.ErrorIs(t, err, ErrMalformedResponse)
	assert.Less(t, len(err.Error()), 500)
	for e := error(err); e != nil; e = errors.Unwrap(e) {
		assert.NotContains(t, e.Error(), testKey)
		if multi, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range multi.Unwrap() {
				assert.NotContains(t, inner.Error(), testKey)
			}
		}
	}
}
