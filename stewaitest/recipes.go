package stewaitest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
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

// remove forgets recipe id, reporting whether it was known.
func (b *recipeBook) remove(id string) bool {
	if _, ok := b.byID[id]; !ok {
		return false
	}
	delete(b.byID, id)
	b.order = slices.DeleteFunc(b.order, func(o string) bool { return o == id })
	return true
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

// selfServiceOff answers 404 and returns true when recipe self-service is
// disabled, as it is by default on the real service.
func (s *Server) selfServiceOff(w http.ResponseWriter) bool {
	if !s.selfService {
		writeError(w, http.StatusNotFound, "Not found: recipe self-service is disabled.")
	}
	return !s.selfService
}

// getRecipe handles GET recipes/{id}/: 404 unless self-service is enabled.
func (s *Server) getRecipe(w http.ResponseWriter, _ *http.Request, id string) []byte {
	if s.selfServiceOff(w) {
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

// getContract handles GET recipes/{id}/execution-contract/. Contracts are
// for the key's own recipes (scripted or created), so a marketplace
// recipe's is a 404 whose detail says so.
func (s *Server) getContract(w http.ResponseWriter, _ *http.Request, id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rs, ok := s.recipes.byID[id]; ok {
		writeJSON(w, http.StatusOK, rs.contract())
		return nil
	}
	for _, e := range s.market {
		if e.RecipeULID == id {
			writeError(w, http.StatusNotFound, "Recipe not found: execution contracts are only for the key's own recipes, and this is a marketplace recipe (see marketplace/recipes/{recipe_ulid}/).")
			return nil
		}
	}
	writeError(w, http.StatusNotFound, "Recipe not found: execution contracts are only for the key's own recipes.")
	return nil
}

// recipeEdit is a self-service create or update body, as parsed.
type recipeEdit struct {
	name     *string
	steps    []Step
	hasSteps bool
}

// parseRecipeEdit checks a self-service body: a JSON object with name
// (required when creating) and steps. problem says what is wrong, in the
// words of a 400 answer.
func parseRecipeEdit(body []byte, creating bool) (e recipeEdit, problem string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return e, "Body must be a JSON object."
	}
	for name := range fields {
		if name != "name" && name != "steps" {
			return e, fmt.Sprintf("Unknown field %q: a recipe has name and steps.", name)
		}
	}
	if raw, ok := fields["name"]; ok || creating {
		var name string
		if json.Unmarshal(raw, &name) != nil || strings.TrimSpace(name) == "" {
			return e, "name is required and must be a non-empty string."
		}
		e.name = &name
	}
	raw, ok := fields["steps"]
	if !ok {
		return e, ""
	}
	var steps []struct {
		ID        string   `json:"id"`
		Title     string   `json:"title"`
		Kind      string   `json:"kind"`
		DependsOn []string `json:"depends_on"`
	}
	if err := strictDecode(raw, &steps); err != nil || steps == nil {
		return e, `steps must be a list of {"id", "title", "kind", "depends_on"}.`
	}
	ids := map[string]bool{}
	for i, st := range steps {
		if strings.TrimSpace(st.ID) == "" {
			return e, fmt.Sprintf("steps[%d] needs an id.", i)
		}
		if ids[st.ID] {
			return e, fmt.Sprintf("steps[%d]: id %q is repeated.", i, st.ID)
		}
		ids[st.ID] = true
	}
	e.steps, e.hasSteps = make([]Step, len(steps)), true
	for i, st := range steps {
		for _, dep := range st.DependsOn {
			if !ids[dep] || dep == st.ID {
				return e, fmt.Sprintf("steps[%d].depends_on: %q is not another step of the recipe.", i, dep)
			}
		}
		title := st.Title
		if title == "" {
			title = st.ID
		}
		e.steps[i] = Step{ID: st.ID, Title: st.Title, Kind: st.Kind, DependsOn: st.DependsOn, Output: Text("Output of " + title + ".")}
	}
	return e, ""
}

// apply makes the edit to every script of the recipe.
func (e recipeEdit) apply(rs *recipeScript) {
	for i := range rs.scripts {
		if e.name != nil {
			rs.scripts[i].Name = *e.name
		}
		if e.hasSteps {
			rs.scripts[i].Steps = e.steps
		}
	}
}

// createRecipe handles POST recipes/ (self-service).
func (s *Server) createRecipe(w http.ResponseWriter, r *http.Request, _ string) []byte {
	if s.selfServiceOff(w) {
		return nil
	}
	edit, body, ok := readParsed(w, r, func(b []byte) (recipeEdit, string) { return parseRecipeEdit(b, true) })
	if !ok {
		return body
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	digest := sha256.Sum256(body)
	if id, seen := s.replayed(w, r, "recipes", digest); seen {
		if rs, still := s.recipes.byID[id]; still {
			writeJSON(w, http.StatusCreated, rs.object())
		} else if id != "" {
			writeError(w, http.StatusNotFound, "Recipe not found: it was deleted since.")
		}
		return body
	}
	id := s.newID()
	script := Recipe{Duration: 300 * time.Millisecond}
	s.recipes.script(id, []Recipe{script})
	rs := s.recipes.byID[id]
	edit.apply(rs)
	s.remember(r, "recipes", digest, id)
	writeJSON(w, http.StatusCreated, rs.object())
	return body
}

// updateRecipe handles PATCH recipes/{id}/ (self-service).
func (s *Server) updateRecipe(w http.ResponseWriter, r *http.Request, id string) []byte {
	if s.selfServiceOff(w) {
		return nil
	}
	body, ok := readJSONBody(w, r)
	if !ok {
		return nil
	}
	edit, problem := parseRecipeEdit(body, false)
	if problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return body
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, found := s.recipes.byID[id]
	if !found {
		writeError(w, http.StatusNotFound, "Recipe not found.")
		return body
	}
	edit.apply(rs)
	writeJSON(w, http.StatusOK, rs.object())
	return body
}

// deleteRecipe handles DELETE recipes/{id}/ (self-service).
func (s *Server) deleteRecipe(w http.ResponseWriter, _ *http.Request, id string) []byte {
	if s.selfServiceOff(w) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.recipes.remove(id) {
		writeError(w, http.StatusNotFound, "Recipe not found.")
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
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
