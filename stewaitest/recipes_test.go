package stewaitest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecipeListing(t *testing.T) {
	srv := stewaitest.NewServer(
		stewaitest.WithRecipe("01JB", stewaitest.Recipe{Name: "Quarterly report"}),
		stewaitest.WithRecipe("01JA", stewaitest.Recipe{}),
	)
	defer srv.Close()
	c := srv.Client()
	ctx := testContext(t)

	page, err := c.Recipes.List(ctx, stewai.ListRecipesParams{})
	require.NoError(t, err)
	assert.Equal(t, 2, page.Count)
	require.Len(t, page.Results, 2)
	assert.Equal(t, "01JB", page.Results[0].ID, "in the order they were scripted")
	assert.Equal(t, "Quarterly report", page.Results[0].Name)
	assert.Equal(t, "Recipe 01JA", page.Results[1].Name, "a recipe without a name still has one")

	page, err = c.Recipes.List(ctx, stewai.ListRecipesParams{Page: 2, PageSize: 1})
	require.NoError(t, err)
	assert.Equal(t, "01JA", page.Results[0].ID, "pages like every list")
	_, err = c.Recipes.List(ctx, stewai.ListRecipesParams{Page: 3, PageSize: 1})
	assert.ErrorIs(t, err, stewai.ErrNotFound)

	_, err = c.Recipes.Get(ctx, "01JB")
	assert.ErrorIs(t, err, stewai.ErrNotFound, "self-service is disabled by default")

	self := stewaitest.NewServer(stewaitest.WithSelfService(), stewaitest.WithRecipe("01JB", stewaitest.Recipe{Name: "Quarterly report"}))
	defer self.Close()
	r, err := self.Client().Recipes.Get(ctx, "01JB")
	require.NoError(t, err)
	assert.Equal(t, "Quarterly report", r.Name)
	_, err = self.Client().Recipes.Get(ctx, "unknown")
	assert.ErrorIs(t, err, stewai.ErrNotFound)
}

func TestExecutionContractFromSteps(t *testing.T) {
	srv := stewaitest.NewServer(
		stewaitest.WithRecipe("custom", stewaitest.Recipe{Steps: []stewaitest.Step{
			{ID: "ingest", Title: "Read", Kind: "ingest", Output: stewaitest.NoOutput()},
			{ID: "sum", Title: "Summarize", Kind: "llm_simple", DependsOn: []string{"ingest"}, Output: stewaitest.Text("x")},
		}}),
		stewaitest.WithRecipe("plain", stewaitest.Recipe{}),
	)
	defer srv.Close()
	c := srv.Client()
	ctx := testContext(t)

	contract, err := c.Recipes.ExecutionContract(ctx, "custom")
	require.NoError(t, err)
	assert.Equal(t, "1", contract.ContractVersion)
	assert.Equal(t, []string{"ingest", "sum"}, contract.StepOrder)
	assert.JSONEq(t, `{"id": "sum", "title": "Summarize", "kind": "llm_simple", "depends_on": ["ingest"]}`, string(contract.Steps["sum"]))
	assert.JSONEq(t, `{"id": "ingest", "title": "Read", "kind": "ingest", "depends_on": []}`, string(contract.Steps["ingest"]))

	contract, err = c.Recipes.ExecutionContract(ctx, "plain")
	require.NoError(t, err)
	assert.Equal(t, []string{"step_1", "step_2"}, contract.StepOrder, "the default recipe's steps")

	_, err = c.Recipes.ExecutionContract(ctx, "unknown")
	assert.ErrorIs(t, err, stewai.ErrNotFound)
}

func TestMarketplaceFake(t *testing.T) {
	ctx := testContext(t)
	off := stewaitest.NewServer()
	defer off.Close()
	_, err := off.Client().Marketplace.Search(ctx, stewai.MarketplaceSearchParams{})
	assert.ErrorIs(t, err, stewai.ErrNotFound, "not enabled: 404")
	_, err = off.Client().Marketplace.Detail(ctx, "01JM")
	assert.ErrorIs(t, err, stewai.ErrNotFound)

	srv := stewaitest.NewServer(
		stewaitest.WithMarketplace(
			stewaitest.MarketplaceEntry{RecipeULID: "01JM1", Name: "Tax Report"},
			stewaitest.MarketplaceEntry{RecipeULID: "01JM2", Name: "Tax summary", Visibility: "private"},
			stewaitest.MarketplaceEntry{RecipeULID: "01JM3", Name: "Translate"},
		),
		stewaitest.WithRecipe("01JM3", stewaitest.Recipe{Final: stewai.StatusBlocked}),
	)
	defer srv.Close()
	c := srv.Client()

	page, err := c.Marketplace.Search(ctx, stewai.MarketplaceSearchParams{Query: "tax"})
	require.NoError(t, err)
	assert.Equal(t, 2, page.Count, "the query matches names, ignoring case")
	page, err = c.Marketplace.Search(ctx, stewai.MarketplaceSearchParams{Query: "tax", Visibility: "public_open"})
	require.NoError(t, err)
	require.Equal(t, 1, page.Count, "and visibility filters")
	assert.Equal(t, "01JM1", page.Results[0].RecipeULID)
	page, err = c.Marketplace.Search(ctx, stewai.MarketplaceSearchParams{PageSize: 2, Page: 2})
	require.NoError(t, err)
	assert.Equal(t, "01JM3", page.Results[0].RecipeULID, "pages like every list")

	d, err := c.Marketplace.Detail(ctx, "01JM2")
	require.NoError(t, err)
	assert.Equal(t, "Tax summary", d.Name)
	_, err = c.Marketplace.Detail(ctx, "nope")
	assert.ErrorIs(t, err, stewai.ErrNotFound)

	run, err := c.Marketplace.Run(ctx, "01JM1", map[string]string{"year": "2025"})
	require.NoError(t, err)
	assert.Equal(t, stewai.StatusDone, run.Status)
	_, err = c.Marketplace.Run(ctx, "01JM3", nil)
	assert.ErrorIs(t, err, stewai.ErrRunBlocked, "runs follow the recipe's script")
}

func TestRecipeSequences(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithRecipe("r",
		stewaitest.Recipe{Final: stewai.StatusFailed},
		stewaitest.Recipe{Final: stewai.StatusCancelled},
		stewaitest.Recipe{}))
	defer srv.Close()
	c := srv.Client()
	ctx := testContext(t)
	var outcomes []error
	for range 5 {
		_, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r"})
		outcomes = append(outcomes, err)
	}
	assert.ErrorIs(t, outcomes[0], stewai.ErrRunFailed, "the first run follows the first script")
	assert.ErrorIs(t, outcomes[1], stewai.ErrRunCancelled, "the second the second")
	assert.NoError(t, outcomes[2], "the third the last")
	assert.NoError(t, outcomes[3], "which repeats")
	assert.NoError(t, outcomes[4])

	// An idempotent replay is the same run, not the next in the sequence.
	srv.Script("r", stewaitest.Recipe{Final: stewai.StatusBlocked}, stewaitest.Recipe{})
	p := stewai.CreateRunParams{RecipeID: "r", IdempotencyKey: "job-42"}
	_, err := c.Runs.Create(ctx, p)
	assert.ErrorIs(t, err, stewai.ErrRunBlocked, "Script starts the sequence again")
	_, err = c.Runs.Create(ctx, p)
	assert.ErrorIs(t, err, stewai.ErrRunBlocked, "a replay is the same blocked run")
	_, err = c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r"})
	assert.NoError(t, err, "the next new run follows the second script")
}

func TestScriptsFormatGrows(t *testing.T) {
	const doc = `{
	  "recipes": {"flaky": [{"final": "failed", "name": "Flaky"}, {}], "steady": {"name": "Steady"}},
	  "self_service": true,
	  "marketplace": [{"recipe_ulid": "01JM", "name": "Market"}]
	}`
	opts, err := stewaitest.ParseScripts(strings.NewReader(doc))
	require.NoError(t, err)
	srv := stewaitest.NewServer(opts...)
	defer srv.Close()
	c := srv.Client()
	ctx := testContext(t)

	_, err = c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "flaky"})
	assert.ErrorIs(t, err, stewai.ErrRunFailed)
	_, err = c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "flaky"})
	assert.NoError(t, err, "a list of scripts is a sequence")
	r, err := c.Recipes.Get(ctx, "steady")
	require.NoError(t, err, "self_service enables recipe get")
	assert.Equal(t, "Steady", r.Name)
	_, err = c.Marketplace.Detail(ctx, "01JM")
	assert.NoError(t, err)

	_, err = stewaitest.ParseScripts(strings.NewReader(`{"recipes": {"r": {"final": "finished"}}}`))
	require.Error(t, err, "a typo in a final status is caught")
	for _, allowed := range []string{"queued", "running", "done", "failed", "cancelled", "blocked"} {
		assert.Contains(t, err.Error(), allowed, "the error names the allowed statuses")
	}
	for _, bad := range []string{
		`{"recipes": {"r": []}}`,
		`{"recipes": {"r": [{"finale": "done"}]}}`,
		`{"marketplace": [{"name": "no ulid"}]}`,
		`{"self_service": "yes"}`,
	} {
		_, err := stewaitest.ParseScripts(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
	// Unknown statuses before the final one stay allowed: they test
	// forward compatibility.
	_, err = stewaitest.ParseScripts(strings.NewReader(`{"recipes": {"r": {"statuses": ["paused"], "final": "running"}}}`))
	assert.NoError(t, err)
}

func TestRecipeRoutes(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithRecipe("r", stewaitest.Recipe{}))
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"POST", "recipes/", http.StatusNotFound}, // self-service is disabled
		{"DELETE", "recipes/r/", http.StatusNotFound},
		{"PUT", "recipes/r/", http.StatusMethodNotAllowed},
		{"POST", "recipes/r/", http.StatusMethodNotAllowed},
		{"GET", "recipes/r/execution-contract", http.StatusNotFound},
		{"GET", "recipes/r/execution-contract/", http.StatusOK},
	} {
		status, body := call(t, srv, tc.method, tc.path, "", "")
		assert.Equal(t, tc.want, status, "%s %s", tc.method, tc.path)
		assert.NotEmpty(t, body, "%s %s answers JSON", tc.method, tc.path)
	}
}

func TestStrictRecipesRejectUnknownAndRecordNothing(t *testing.T) {
	srv := stewaitest.NewServer(
		stewaitest.WithStrictRecipes(),
		stewaitest.WithRecipe("known", stewaitest.Recipe{Final: stewai.StatusFailed}, stewaitest.Recipe{}),
		stewaitest.WithMarketplace(stewaitest.MarketplaceEntry{RecipeULID: "01JMARKET", Name: "Tax"}),
	)
	defer srv.Close()
	c := srv.Client()
	ctx := testContext(t)

	_, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "no-such-recipe"})
	require.ErrorIs(t, err, stewai.ErrNotFound, "a mistyped recipe id fails the test")
	var apiErr *stewai.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "Recipe not found.", apiErr.Message)
	assert.Empty(t, srv.Runs(), "no run recorded")
	status, body := call(t, srv, "POST", "runs/", "application/json", createBody("no-such-recipe"))
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, map[string]any{"detail": "Recipe not found."}, body)
	for _, r := range srv.Requests() {
		assert.Equal(t, http.StatusNotFound, r.Status, "no create in the log succeeded: %s %s", r.Method, r.Path)
	}
	page, err := c.Runs.List(ctx, stewai.ListRunsParams{})
	require.NoError(t, err)
	assert.Zero(t, page.Count)

	_, err = c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "known"})
	assert.ErrorIs(t, err, stewai.ErrRunFailed, "the first script of a known recipe, not used up by the rejected runs")
	_, err = c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "01JMARKET"})
	assert.NoError(t, err, "a marketplace recipe is known")
	assert.Len(t, srv.Runs(), 2)

	lenient := stewaitest.NewServer()
	defer lenient.Close()
	_, err = lenient.Client().Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "01JEXAMPLE00000000000000000"})
	assert.NoError(t, err, "by default the docs' made-up ids run")

	opts, err := stewaitest.ParseScripts(strings.NewReader(`{"strict_recipes": true}`))
	require.NoError(t, err)
	scripted := stewaitest.NewServer(opts...)
	defer scripted.Close()
	_, err = scripted.Client().Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r"})
	assert.ErrorIs(t, err, stewai.ErrNotFound, "strict_recipes in a scripts file")
}

func TestEmptyMarketplaceIsEnabled(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithMarketplace())
	defer srv.Close()
	page, err := srv.Client().Marketplace.Search(testContext(t), stewai.MarketplaceSearchParams{})
	require.NoError(t, err)
	assert.Zero(t, page.Count)
	off := stewaitest.NewServer()
	defer off.Close()
	status, body := call(t, off, "GET", "marketplace/recipes/01JX/", "", "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, body["detail"], "not enabled")
}

func TestSelfServiceCRUDThroughDo(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithSelfService(), stewaitest.WithStrictRecipes(),
		stewaitest.WithRecipe("01JSCRIPTED", stewaitest.Recipe{Name: "Scripted"}))
	defer srv.Close()
	c := srv.Client()
	ctx := testContext(t)

	var created map[string]any
	err := c.Do(ctx, http.MethodPost, "recipes/", map[string]any{"name": "Weekly digest", "steps": []map[string]any{
		{"id": "fetch", "title": "Fetch", "kind": "ingest"},
		{"id": "sum", "title": "Summarize", "kind": "llm_simple", "depends_on": []string{"fetch"}},
	}}, &created)
	require.NoError(t, err)
	id, _ := created["id"].(string)
	require.NotEmpty(t, id)
	assert.Equal(t, "Weekly digest", created["name"])

	got, err := c.Recipes.Get(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "Weekly digest", got.Name)
	page, err := c.Recipes.List(ctx, stewai.ListRecipesParams{})
	require.NoError(t, err)
	require.Equal(t, 2, page.Count)
	assert.Equal(t, id, page.Results[1].ID, "listed after the scripted recipes")
	contract, err := c.Recipes.ExecutionContract(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, []string{"fetch", "sum"}, contract.StepOrder)

	run, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: id})
	require.NoError(t, err, "a created recipe runs, even on a strict server")
	assert.Equal(t, stewai.StatusDone, run.Status)
	steps, err := c.Runs.Steps(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, steps.Steps, 2)
	text, _ := steps.Steps[1].Output.Text()
	assert.Equal(t, "Output of Summarize.", text)

	require.NoError(t, c.Do(ctx, http.MethodPatch, "recipes/"+id+"/", map[string]any{"name": "Daily digest"}, nil))
	got, err = c.Recipes.Get(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "Daily digest", got.Name)
	contract, err = c.Recipes.ExecutionContract(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, []string{"fetch", "sum"}, contract.StepOrder, "a PATCH without steps keeps them")

	require.NoError(t, c.Do(ctx, http.MethodPatch, "recipes/01JSCRIPTED/", map[string]any{"name": "Renamed"}, nil))
	got, err = c.Recipes.Get(ctx, "01JSCRIPTED")
	require.NoError(t, err)
	assert.Equal(t, "Renamed", got.Name, "scripted recipes can be updated too")

	require.NoError(t, c.Do(ctx, http.MethodDelete, "recipes/"+id+"/", nil, nil))
	_, err = c.Recipes.Get(ctx, id)
	assert.ErrorIs(t, err, stewai.ErrNotFound)
	page, err = c.Recipes.List(ctx, stewai.ListRecipesParams{})
	require.NoError(t, err)
	assert.Equal(t, 1, page.Count, "gone from the list")
	_, err = c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: id})
	assert.ErrorIs(t, err, stewai.ErrNotFound, "a deleted recipe is unknown to a strict server")
	_, err = c.Runs.Get(ctx, run.ID)
	assert.NoError(t, err, "its runs remain")
	assert.ErrorIs(t, c.Do(ctx, http.MethodDelete, "recipes/"+id+"/", nil, nil), stewai.ErrNotFound)
	assert.ErrorIs(t, c.Do(ctx, http.MethodPatch, "recipes/nope/", map[string]any{"name": "x"}, nil), stewai.ErrNotFound)
}

func TestSelfServiceValidation(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithSelfService())
	defer srv.Close()
	for _, tc := range []struct{ method, path, body, detail string }{
		{"POST", "recipes/", `{"name": `, "JSON object"},
		{"POST", "recipes/", `[]`, "JSON object"},
		{"POST", "recipes/", `{}`, "name is required"},
		{"POST", "recipes/", `{"name": "  "}`, "name is required"},
		{"POST", "recipes/", `{"name": 3}`, "name is required"},
		{"POST", "recipes/", `{"name": "x", "colour": "red"}`, `"colour"`},
		{"POST", "recipes/", `{"name": "x", "steps": {}}`, "steps must be a list"},
		{"POST", "recipes/", `{"name": "x", "steps": [{"title": "no id"}]}`, "steps[0] needs an id"},
		{"POST", "recipes/", `{"name": "x", "steps": [{"id": "a"}, {"id": "a"}]}`, "repeated"},
		{"POST", "recipes/", `{"name": "x", "steps": [{"id": "a", "depends_on": ["b"]}]}`, "depends_on"},
		{"POST", "recipes/", `{"name": "x", "steps": [{"id": "a", "model": "big"}]}`, "steps must be a list"},
		{"PATCH", "recipes/01JX/", `{"name": ""}`, "name is required"},
	} {
		status, body := call(t, srv, tc.method, tc.path, "application/json", tc.body)
		assert.Equal(t, http.StatusBadRequest, status, tc.body)
		assert.Contains(t, body["detail"], tc.detail, tc.body)
	}
	status, _ := call(t, srv, "POST", "recipes/", "text/plain", `{"name": "x"}`)
	assert.Equal(t, http.StatusUnsupportedMediaType, status)
	page, err := srv.Client().Recipes.List(testContext(t), stewai.ListRecipesParams{})
	require.NoError(t, err)
	assert.Zero(t, page.Count, "no bad body created a recipe")

	status, first := call(t, srv, "POST", "recipes/", "application/json", `{"name": "x"}`, "Idempotency-Key", "k1")
	require.Equal(t, http.StatusCreated, status)
	status, again := call(t, srv, "POST", "recipes/", "application/json", `{"name": "x"}`, "Idempotency-Key", "k1")
	assert.Equal(t, http.StatusCreated, status)
	assert.Equal(t, first["id"], again["id"], "a retried create makes one recipe")

	off := stewaitest.NewServer()
	defer off.Close()
	ctx := testContext(t)
	for _, tc := range []struct{ method, path string }{{"POST", "recipes/"}, {"PATCH", "recipes/01JX/"}, {"DELETE", "recipes/01JX/"}} {
		err := off.Client().Do(ctx, tc.method, tc.path, map[string]any{"name": "x"}, nil)
		assert.ErrorIs(t, err, stewai.ErrNotFound, "self-service is disabled by default: %s %s", tc.method, tc.path)
		assert.ErrorContains(t, err, "self-service is disabled")
	}
}

func TestContractOfAMarketplaceRecipeIs404ThatSaysWhy(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithMarketplace(stewaitest.MarketplaceEntry{RecipeULID: "01JMARKET", Name: "Tax"}))
	defer srv.Close()
	ctx := testContext(t)
	_, err := srv.Client().Recipes.ExecutionContract(ctx, "01JMARKET")
	require.ErrorIs(t, err, stewai.ErrNotFound)
	assert.ErrorContains(t, err, "execution contracts are only for the key's own recipes, and this is a marketplace recipe")
	_, err = srv.Client().Recipes.ExecutionContract(ctx, "01JUNKNOWN")
	require.ErrorIs(t, err, stewai.ErrNotFound)
	assert.ErrorContains(t, err, "execution contracts are only for the key's own recipes")
}
