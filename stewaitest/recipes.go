package stewaitest

import (
	"net/http"
	"strings"
)

// recipeBook holds the scripted recipes in the order they were scripted,
// and how many runs each has started. The server's mutex guards it.
type recipeBook struct {
	byID  map[string]*recipeScript
	order []string
}

type recipeScript struct {
	id      string
	scripts []Recipe // the nth run follows scripts[n], the last repeating
	runs    int
}

// script sets the scripts of recipe id; its run count starts again.
func (b *recipeBook) script(id string, scripts []Recipe) {
	if _, ok := b.byID[id]; !ok {
		b.order = append(b.order, id)
	}
	b.byID[id] = &recipeScript{id: id, scripts: scripts}
}

// next returns the script the next run of recipe id follows, and counts it.
func (b *recipeBook) next(id string) Recipe {
	rs, ok := b.byID[id]
	if !ok {
		return defaultRecipe
	}
	r := rs.scripts[min(rs.runs, len(rs.scripts)-1)]
	rs.runs++
	return r
}

// object is the recipe as GET recipes/ shows it.
func (rs *recipeScript) object() map[string]any {
	name := rs.scripts[0].Name
	if name == "" {
		name = "Recipe " + rs.id
	}
	return map[string]any{"id": rs.id, "name": name}
}

// contract is the recipe's execution contract, derived from the steps of
// its first script: step_order is the step ids in order, and each step has
// its title, kind and depends_on.
func (rs *recipeScript) contract() map[string]any {
	scripted := rs.scripts[0].Steps
	if scripted == nil {
		scripted = defaultSteps(nil, nil)
	}
	order := make([]string, 0, len(scripted))
	steps := make(map[string]any, len(scripted))
	for _, st := range scripted {
		deps := st.DependsOn
		if deps == nil {
			deps = []string{}
		}
		order = append(order, st.ID)
		steps[st.ID] = map[string]any{"id": st.ID, "title": st.Title, "kind": st.Kind, "depends_on": deps}
	}
	return map[string]any{"contract_version": 1, "step_order": order, "steps": steps}
}

// listRecipes handles GET recipes/: the scripted recipes, in the order
// they were scripted.
func (s *Server) listRecipes(w http.ResponseWriter, r *http.Request, _ string) []byte {
	page, size, ok := paging(w, r)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	items := make([]any, 0, len(s.recipes.order))
	for _, id := range s.recipes.order {
		items = append(items, s.recipes.byID[id].object())
	}
	s.writePage(w, r, items, page, size)
	return nil
}

// getRecipe handles GET recipes/{id}/: 404 unless self-service is enabled.
func (s *Server) getRecipe(w http.ResponseWriter, _ *http.Request, id string) []byte {
	if !s.selfService {
		writeError(w, http.StatusNotFound, "Not found: recipe self-service is disabled.")
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rs, ok := s.recipes.byID[id]; ok {
		writeJSON(w, http.StatusOK, rs.object())
		return nil
	}
	writeError(w, http.StatusNotFound, "Recipe not found.")
	return nil
}

// getContract handles GET recipes/{id}/execution-contract/.
func (s *Server) getContract(w http.ResponseWriter, _ *http.Request, id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rs, ok := s.recipes.byID[id]; ok {
		writeJSON(w, http.StatusOK, rs.contract())
		return nil
	}
	writeError(w, http.StatusNotFound, "Recipe not found.")
	return nil
}

// MarketplaceEntry is a recipe published to the fake's marketplace.
type MarketplaceEntry struct {
	// RecipeULID identifies the recipe; runs use it as their recipe id.
	RecipeULID string `json:"recipe_ulid"`
	// Name is what search matches its query against.
	Name string `json:"name"`
	// Visibility is what the visibility filter matches; default
	// "public_open".
	Visibility string `json:"visibility,omitempty"`
}

func (e MarketplaceEntry) object() map[string]any {
	vis := e.Visibility
	if vis == "" {
		vis = "public_open"
	}
	return map[string]any{"recipe_ulid": e.RecipeULID, "name": e.Name, "visibility": vis}
}

// searchMarket handles GET marketplace/search/: the entries whose name
// contains query (ignoring case) and whose visibility is visibility, each
// when given, paged like every list.
func (s *Server) searchMarket(w http.ResponseWriter, r *http.Request, _ string) []byte {
	if s.market == nil {
		writeError(w, http.StatusNotFound, "Not found: the marketplace is not enabled.")
		return nil
	}
	page, size, ok := paging(w, r)
	if !ok {
		return nil
	}
	query := strings.ToLower(r.URL.Query().Get("query"))
	visibility := r.URL.Query().Get("visibility")
	items := []any{}
	for _, e := range s.market {
		obj := e.object()
		if strings.Contains(strings.ToLower(e.Name), query) && (visibility == "" || obj["visibility"] == visibility) {
			items = append(items, obj)
		}
	}
	s.writePage(w, r, items, page, size)
	return nil
}

// marketDetail handles GET marketplace/recipes/{ulid}/.
func (s *Server) marketDetail(w http.ResponseWriter, _ *http.Request, id string) []byte {
	if s.market == nil {
		writeError(w, http.StatusNotFound, "Not found: the marketplace is not enabled.")
		return nil
	}
	for _, e := range s.market {
		if e.RecipeULID == id {
			writeJSON(w, http.StatusOK, e.object())
			return nil
		}
	}
	writeError(w, http.StatusNotFound, "Marketplace recipe not found.")
	return nil
}
