package stewai

import (
	"net/url"
	"strings"
)

// Every endpoint this package calls, relative to the base URL. Those marked
// inferred are not documented by StewAI: they follow from the official
// SDK's method names and the API's Django REST style (see the README). If
// the service's differ, Client.Do reaches any path.
const (
	pathRuns          = "runs/"                // POST create, GET list (list inferred)
	pathUpload        = "storage/upload/"      // POST multipart
	pathResolve       = "storage/resolve/"     // GET ?path=
	pathRecipes       = "recipes/"             // GET list
	pathMarketSearch  = "marketplace/search/"  // GET, inferred
	pathMarketRecipes = "marketplace/recipes/" // + {id}/, inferred
	suffixSteps       = "steps/"               // runs/{id}/steps/
	suffixContract    = "execution-contract/"  // recipes/{id}/execution-contract/, inferred
)

// idPath returns collection + the id escaped as one path segment + "/" +
// suffix, so that no id reaches another path or adds a query. what names
// the id in the error for an empty or dot id.
func idPath(collection, what, id, suffix string) (string, error) {
	if !usableID(id) {
		if strings.TrimSpace(id) == "" {
			return "", invalidf("%s is empty", what)
		}
		return "", invalidf("%s %q is not an id", what, id)
	}
	return collection + url.PathEscape(id) + "/" + suffix, nil
}

// usableID reports whether id can name a resource in a path: not blank,
// and not "." or "..", which a path would resolve away.
func usableID(id string) bool {
	return strings.TrimSpace(id) != "" && id != "." && id != ".."
}

// runPath returns "runs/{id}/" + suffix.
func runPath(runID, suffix string) (string, error) {
	return idPath(pathRuns, "run id", runID, suffix)
}
