package stewai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
)

// MarketplaceService searches and runs recipes published to the StewAI
// marketplace, where the deployment enables it (elsewhere every call fails
// with ErrNotFound); use it as Client.Marketplace. Its paths are inferred:
// see the README.
type MarketplaceService struct{ core *core }

// MarketplaceRecipe is a recipe published to the marketplace.
type MarketplaceRecipe struct {
	// RecipeULID identifies the recipe; pass it to Detail and Run. Read from
	// "recipe_ulid", or "id" when there is none.
	RecipeULID string
	// Name is the recipe's name, read from "name", or "title" when there is
	// none.
	Name string
	// Raw is the object as received, every field included.
	Raw json.RawMessage
}

// UnmarshalJSON decodes a marketplace recipe and keeps it whole in Raw.
func (r *MarketplaceRecipe) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	var w recipeFields
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = MarketplaceRecipe{RecipeULID: firstOf(w.RecipeULID, w.ID), Name: firstOf(w.Name, w.Title), Raw: bytes.Clone(b)}
	return nil
}

func (r *MarketplaceRecipe) decode(b []byte) error { return r.UnmarshalJSON(b) }

func (r *MarketplaceRecipe) validate() error {
	if r.RecipeULID == "" {
		return errors.New(`marketplace recipe has no "recipe_ulid"`)
	}
	return nil
}

// MarketplaceSearchParams selects what Search returns. Zero values are not
// sent.
type MarketplaceSearchParams struct {
	// Query is the text to search for.
	Query string
	// Visibility filters by visibility, such as "public_open" (the official
	// SDK's default).
	Visibility string
	// Page is the page to fetch, from 1.
	Page int
	// PageSize is the number of recipes per page.
	PageSize int
}

// Search returns one page of the marketplace recipes matching p, as
// GET marketplace/search/?page=&page_size=&query=&visibility= (each only when
// set). A negative page or page size fails with ErrInvalidParams before
// anything is sent.
func (s *MarketplaceService) Search(ctx context.Context, p MarketplaceSearchParams) (*Page[MarketplaceRecipe], error) {
	q := url.Values{}
	if err := pageQuery(q, p.Page, p.PageSize); err != nil {
		return nil, err
	}
	if p.Query != "" {
		q.Set("query", p.Query)
	}
	if p.Visibility != "" {
		q.Set("visibility", p.Visibility)
	}
	return get[Page[MarketplaceRecipe]](ctx, s.core, pathMarketSearch, q.Encode())
}

// Detail returns one marketplace recipe (GET marketplace/recipes/{ulid}/).
// An unknown recipe fails with ErrNotFound.
func (s *MarketplaceService) Detail(ctx context.Context, recipeULID string) (*MarketplaceRecipe, error) {
	path, err := idPath(pathMarketRecipes, "marketplace recipe id", recipeULID, "")
	if err != nil {
		return nil, err
	}
	return get[MarketplaceRecipe](ctx, s.core, path, "")
}

// Run starts a run of a marketplace recipe with inputs, an ordinary
// POST runs/ with the recipe's ULID as its recipe id, and waits for it as
// RunsService.Create does (NoWait and the other wait options apply). An
// empty id fails with ErrInvalidParams, as Create's recipe id does.
func (s *MarketplaceService) Run(ctx context.Context, recipeULID string, inputs map[string]string, opts ...WaitOption) (*Run, error) {
	runs := RunsService{core: s.core}
	return runs.Create(ctx, CreateRunParams{RecipeID: recipeULID, Inputs: inputs}, opts...)
}
