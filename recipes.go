package stewai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"iter"
	"net/url"
	"strings"
)

// RecipesService reads the key's own recipes and their execution
// contracts; use it as Client.Recipes. Creating, updating and deleting
// recipes are not wrapped (the service disables them by default and their
// bodies are undocumented): Client.Do reaches them where they are enabled.
type RecipesService struct{ core *core }

// Recipe is one of the key's recipes.
type Recipe struct {
	// ID identifies the recipe; pass it as CreateRunParams.RecipeID. Read
	// from "id", or "recipe_ulid" when there is no id.
	ID string
	// Name is the recipe's name, read from "name", or "title" when there is
	// no name.
	Name string
	// Raw is the recipe object as received, every field included.
	Raw json.RawMessage
}

// UnmarshalJSON decodes a recipe and keeps it whole in Raw.
func (r *Recipe) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	var w recipeFields
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Recipe{ID: firstOf(w.ID, w.RecipeULID), Name: firstOf(w.Name, w.Title), Raw: bytes.Clone(b)}
	return nil
}

// recipeFields are the fields a recipe object may name itself with: the
// official SDK's README speaks of recipe_ulid, the API's style of id, and
// recipes have a name or a title.
type recipeFields struct {
	ID         string `json:"id"`
	RecipeULID string `json:"recipe_ulid"`
	Name       string `json:"name"`
	Title      string `json:"title"`
}

func (r *Recipe) decode(b []byte) error { return r.UnmarshalJSON(b) }

func (r *Recipe) validate() error {
	if r.ID == "" {
		return errors.New(`recipe object has no "id" or "recipe_ulid"`)
	}
	return nil
}

// ListRecipesParams selects the page List returns, and the page All starts
// from. Zero values are not sent.
type ListRecipesParams struct {
	// Page is the page to fetch, from 1.
	Page int
	// PageSize is the number of recipes per page.
	PageSize int
}

// List returns one page of the key's own recipes, as
// GET recipes/?page=&page_size= (each parameter only when set). A negative
// page or page size fails with ErrInvalidParams before anything is sent.
func (s *RecipesService) List(ctx context.Context, p ListRecipesParams) (*Page[Recipe], error) {
	q := url.Values{}
	if err := pageQuery(q, p.Page, p.PageSize); err != nil {
		return nil, err
	}
	return get[Page[Recipe]](ctx, s.core, pathRecipes, q.Encode())
}

// All iterates over every recipe from page p.Page (or 1) on, as
// RunsService.All does over runs: a page is fetched only when the loop
// reaches it, it stops on the last page, after count results or on a
// repeated page (never looping), an error is yielded once and ends the
// sequence, and break stops all requests.
func (s *RecipesService) All(ctx context.Context, p ListRecipesParams) iter.Seq2[*Recipe, error] {
	return all(ctx, p.Page, func(ctx context.Context, page int) (*Page[Recipe], error) {
		p.Page = page
		return s.List(ctx, p)
	})
}

// Get returns one of the key's recipes (GET recipes/{id}/, inferred). The
// service disables recipe self-service by default, and then answers 404:
// the error matches ErrNotFound, as it does for an unknown recipe.
func (s *RecipesService) Get(ctx context.Context, recipeID string) (*Recipe, error) {
	path, err := idPath(pathRecipes, "recipe id", recipeID, "")
	if err != nil {
		return nil, err
	}
	return get[Recipe](ctx, s.core, path, "")
}

// ExecutionContract is the full pre-execution contract of a published
// recipe: which steps run, in which order, and what each one is.
type ExecutionContract struct {
	// ContractVersion is the contract format's version, such as "1",
	// whether the server sent it as a number or a string.
	ContractVersion string
	// StepOrder lists the step ids in execution order.
	StepOrder []string
	// Steps holds each step's definition by step id, as received.
	Steps map[string]json.RawMessage
	// Raw is the whole contract as received.
	Raw json.RawMessage
}

// UnmarshalJSON decodes a contract and keeps it whole in Raw.
func (c *ExecutionContract) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	var w struct {
		ContractVersion json.RawMessage            `json:"contract_version"`
		StepOrder       []string                   `json:"step_order"`
		Steps           map[string]json.RawMessage `json:"steps"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	version, err := numberOrString(w.ContractVersion)
	if err != nil {
		return errors.New("contract_version is neither a number nor a string")
	}
	*c = ExecutionContract{ContractVersion: version, StepOrder: w.StepOrder, Steps: w.Steps, Raw: bytes.Clone(b)}
	return nil
}

func (c *ExecutionContract) decode(b []byte) error { return c.UnmarshalJSON(b) }

// validate rejects a contract without a "steps" object.
func (c *ExecutionContract) validate() error {
	if c.Steps == nil {
		return errors.New(`execution contract has no "steps" object`)
	}
	return nil
}

// ExecutionContract returns the execution contract of one of the key's
// own published recipes (GET recipes/{id}/execution-contract/, inferred).
// Contracts are only for the key's own recipes: a marketplace recipe,
// like an unknown or unpublished one, fails with ErrNotFound (see
// MarketplaceService.Detail for what a marketplace recipe shows).
func (s *RecipesService) ExecutionContract(ctx context.Context, recipeID string) (*ExecutionContract, error) {
	path, err := idPath(pathRecipes, "recipe id", recipeID, suffixContract)
	if err != nil {
		return nil, err
	}
	return get[ExecutionContract](ctx, s.core, path, "")
}

// numberOrString renders a JSON number or string as text; absent or null
// gives "".
func numberOrString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", err
	}
	return n.String(), nil
}

// firstOf returns the first of values that is not blank.
func firstOf(values ...string) string {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
