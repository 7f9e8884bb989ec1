package stewaitest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/stewai/stewai-go"
)

// Paging, as the API's Django REST pagination does it.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// paging reads the page and page_size parameters of a list request. A
// value that is not a positive integer is answered with a 400 naming it,
// and ok is false.
func paging(w http.ResponseWriter, r *http.Request) (page, size int, ok bool) {
	page, size = 1, defaultPageSize
	for _, p := range []struct {
		name string
		into *int
	}{{"page", &page}, {"page_size", &size}} {
		v := r.URL.Query().Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s must be a positive integer, not %q.", p.name, v))
			return 0, 0, false
		}
		*p.into = n
	}
	return page, min(size, maxPageSize), true
}

// writePage answers a list request with one page of items: count, next and
// previous (absolute URLs under the server's base URL, or null) and
// results. A page past the end is a 404, as Django REST answers.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, items []any, page, size int) {
	start := (page - 1) * size
	if page > 1 && start >= len(items) {
		writeError(w, http.StatusNotFound, "Invalid page.")
		return
	}
	end := min(start+size, len(items))
	link := func(p int) any {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		rel := strings.TrimPrefix(r.URL.EscapedPath(), "/v1/")
		return s.URL + "/" + rel + "?" + q.Encode()
	}
	var next, prev any
	if end < len(items) {
		next = link(page + 1)
	}
	if page > 1 {
		prev = link(page - 1)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"count": len(items), "next": next, "previous": prev, "results": items[start:end],
	})
}

// listRuns handles GET runs/: the runs, newest first, filtered by status.
// An unknown status is a 400 naming the allowed ones, as a filtered list
// endpoint answers, so that a typo does not pass as an empty list.
// Listing does not count as a poll.
func (s *Server) listRuns(w http.ResponseWriter, r *http.Request, _ string) []byte {
	page, size, ok := paging(w, r)
	if !ok {
		return nil
	}
	status := r.URL.Query().Get("status")
	if status != "" && !slices.Contains(statuses, stewai.Status(status)) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("status must be one of %s, not %q.", statusNames(), status))
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	items := []any{}
	for i := len(s.order) - 1; i >= 0; i-- {
		obj := s.runs[s.order[i]].object(now)
		if status == "" || string(obj["status"].(stewai.Status)) == status {
			items = append(items, obj)
		}
	}
	s.writePage(w, r, items, page, size)
	return nil
}
