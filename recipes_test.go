package stewai

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecipesList(t *testing.T) {
	env := setup(t)
	var query string
	env.mux.HandleFunc("GET /recipes/{$}", func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		_, _ = w.Write([]byte(`{"count": 3, "next": null, "previous": null, "results": [
			{"id": "01JA", "name": "Summarize", "visibility": "private"},
			{"recipe_ulid": "01JB", "title": "Extract"},
			{"id": "01JC", "recipe_ulid": "ignored", "name": "", "title": "Titled"}]}`))
	})
	page, err := env.client.Recipes.List(testContext(t), ListRecipesParams{Page: 2, PageSize: 3})
	require.NoError(t, err)
	assert.Equal(t, "page=2&page_size=3", query)
	assert.Equal(t, 3, page.Count)
	require.Len(t, page.Results, 3)
	assert.Equal(t, Recipe{ID: "01JA", Name: "Summarize", Raw: page.Results[0].Raw}, page.Results[0])
	assert.JSONEq(t, `{"id": "01JA", "name": "Summarize", "visibility": "private"}`, string(page.Results[0].Raw))
	assert.Equal(t, "01JB", page.Results[1].ID, "recipe_ulid when there is no id")
	assert.Equal(t, "Extract", page.Results[1].Name, "title when there is no name")
	assert.Equal(t, "01JC", page.Results[2].ID, "id wins")
	assert.Equal(t, "Titled", page.Results[2].Name)

	_, err = env.client.Recipes.List(testContext(t), ListRecipesParams{})
	require.NoError(t, err)
	assert.Empty(t, query, "zero values are not sent")
	_, err = env.client.Recipes.List(testContext(t), ListRecipesParams{PageSize: -1})
	assert.ErrorIs(t, err, ErrInvalidParams)
}

func TestRecipesAllAndMalformed(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("GET /recipes/{$}", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			_, _ = w.Write([]byte(`{"count": 2, "next": null, "results": [{"id": "b"}]}`))
			return
		}
		_, _ = w.Write([]byte(`{"count": 2, "next": "page2", "results": [{"id": "a"}]}`))
	})
	var ids []string
	for r, err := range env.client.Recipes.All(testContext(t), ListRecipesParams{}) {
		require.NoError(t, err)
		ids = append(ids, r.ID)
	}
	assert.Equal(t, []string{"a", "b"}, ids)

	bad := setup(t)
	bad.mux.HandleFunc("GET /recipes/{$}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"count": 1, "results": [{"name": "no id"}]}`))
	})
	_, err := bad.client.Recipes.List(testContext(t), ListRecipesParams{})
	assert.ErrorIs(t, err, ErrMalformedResponse, "a recipe needs an id")
}

func TestRecipeGet(t *testing.T) {
	env := setup(t)
	var paths []string
	env.mux.HandleFunc("GET /recipes/{id}/{$}", func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.EscapedPath())
		if r.PathValue("id") != "01JA" {
			writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not found."})
			return
		}
		_, _ = w.Write([]byte(`{"recipe_ulid": "01JA", "name": "Summarize"}`))
	})
	ctx := testContext(t)
	r, err := env.client.Recipes.Get(ctx, "01JA")
	require.NoError(t, err)
	assert.Equal(t, "01JA", r.ID)
	assert.Equal(t, "Summarize", r.Name)

	_, err = env.client.Recipes.Get(ctx, "a/b?c")
	assert.ErrorIs(t, err, ErrNotFound, "self-service disabled or unknown: 404")
	assert.Equal(t, []string{"/recipes/01JA/", "/recipes/a%2Fb%3Fc/"}, paths, "ids are path-escaped")

	for _, id := range []string{"", " ", ".", ".."} {
		_, err = env.client.Recipes.Get(ctx, id)
		assert.ErrorIs(t, err, ErrInvalidParams, "%q", id)
		_, err = env.client.Recipes.ExecutionContract(ctx, id)
		assert.ErrorIs(t, err, ErrInvalidParams, "%q", id)
		_, err = env.client.Marketplace.Detail(ctx, id)
		assert.ErrorIs(t, err, ErrInvalidParams, "%q", id)
	}
	assert.Len(t, paths, 2, "nothing sent for invalid ids")
}

func TestExecutionContract(t *testing.T) {
	for version, want := range map[string]string{`1`: "1", `"2.1"`: "2.1", `null`: "", `3.0`: "3.0"} {
		env := setup(t)
		body := `{"contract_version": ` + version + `, "step_order": ["s1", "s2"],
		          "steps": {"s1": {"kind": "llm_simple", "title": "One"}, "s2": {"kind": "ingest", "depends_on": ["s1"]}}, "extra": true}`
		env.mux.HandleFunc("GET /recipes/01JA/execution-contract/", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(body))
		})
		c, err := env.client.Recipes.ExecutionContract(testContext(t), "01JA")
		require.NoError(t, err, version)
		assert.Equal(t, want, c.ContractVersion, version)
		assert.Equal(t, []string{"s1", "s2"}, c.StepOrder)
		assert.JSONEq(t, `{"kind": "ingest", "depends_on": ["s1"]}`, string(c.Steps["s2"]))
		assert.Equal(t, body, string(c.Raw))
	}
	env := setup(t)
	env.mux.HandleFunc("GET /recipes/01JA/execution-contract/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"contract_version": {"major": 1}, "step_order": []}`))
	})
	_, err := env.client.Recipes.ExecutionContract(testContext(t), "01JA")
	assert.ErrorIs(t, err, ErrMalformedResponse)
}

func TestMarketplace(t *testing.T) {
	env := setup(t)
	var query string
	env.mux.HandleFunc("GET /marketplace/search/", func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		_, _ = w.Write([]byte(`{"count": 2, "next": null, "results": [
			{"recipe_ulid": "01JM", "name": "Tax report", "author": "x"}, {"id": "01JN", "title": "Other"}]}`))
	})
	env.mux.HandleFunc("GET /marketplace/recipes/01JM/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"recipe_ulid": "01JM", "name": "Tax report"}`))
	})
	var created map[string]any
	env.mux.HandleFunc("POST /runs/", func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, json.Unmarshal([]byte(readBody(t, r)), &created))
		writeJSON(w, http.StatusAccepted, runJSON("run1", StatusQueued))
	})
	statusSequence(t, env, "run1", StatusDone)
	ctx := testContext(t)

	page, err := env.client.Marketplace.Search(ctx, MarketplaceSearchParams{Query: "tax report", Visibility: "public_open", Page: 2, PageSize: 5})
	require.NoError(t, err)
	assert.Equal(t, "page=2&page_size=5&query=tax+report&visibility=public_open", query)
	require.Len(t, page.Results, 2)
	assert.Equal(t, "01JM", page.Results[0].RecipeULID)
	assert.Equal(t, "01JN", page.Results[1].RecipeULID, "id when there is no recipe_ulid")
	assert.Equal(t, "Other", page.Results[1].Name)
	assert.Contains(t, string(page.Results[0].Raw), `"author"`)

	_, err = env.client.Marketplace.Search(ctx, MarketplaceSearchParams{})
	require.NoError(t, err)
	assert.Empty(t, query)

	d, err := env.client.Marketplace.Detail(ctx, "01JM")
	require.NoError(t, err)
	assert.Equal(t, "Tax report", d.Name)

	run, err := env.client.Marketplace.Run(ctx, "01JM", map[string]string{"year": "2025"})
	require.NoError(t, err)
	assert.Equal(t, StatusDone, run.Status, "waited like any run")
	assert.Equal(t, map[string]any{"recipe_id": "01JM", "inputs": map[string]any{"year": "2025"}}, created)

	_, err = env.client.Marketplace.Run(ctx, "", nil)
	assert.ErrorIs(t, err, ErrInvalidParams)
}
