package stewai

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pagedRuns serves GET runs/ in pages of size runs named r1, r2, ... out of
// total, logging each query string.
func pagedRuns(t *testing.T, env *testEnv, total, size int) *[]string {
	t.Helper()
	var mu sync.Mutex
	var queries []string
	env.mux.HandleFunc("GET /runs/{$}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		results := []any{}
		for i := (page-1)*size + 1; i <= min(page*size, total); i++ {
			results = append(results, runJSON(fmt.Sprintf("r%d", i), StatusDone))
		}
		var next any
		if page*size < total {
			next = fmt.Sprintf("http://elsewhere.example/v1/runs/?page=%d", page+1)
		}
		writeJSON(w, http.StatusOK, map[string]any{"count": total, "next": next, "previous": nil, "results": results})
	})
	return &queries
}

func TestListRunsQuery(t *testing.T) {
	for _, tc := range []struct {
		params ListRunsParams
		want   string
	}{
		{ListRunsParams{}, ""},
		{ListRunsParams{Page: 1, PageSize: 20, Status: StatusDone}, "page=1&page_size=20&status=done"},
		{ListRunsParams{Status: StatusFailed}, "status=failed"},
		{ListRunsParams{PageSize: 5}, "page_size=5"},
		{ListRunsParams{Page: 3}, "page=3"},
	} {
		env := setup(t)
		queries := pagedRuns(t, env, 1, 20)
		page, err := env.client.Runs.List(testContext(t), tc.params)
		require.NoError(t, err)
		assert.Equal(t, []string{tc.want}, *queries, "%+v", tc.params)
		_ = page
	}

	env := setup(t)
	for _, p := range []ListRunsParams{{Page: -1}, {PageSize: -5}} {
		_, err := env.client.Runs.List(testContext(t), p)
		assert.ErrorIs(t, err, ErrInvalidParams, "%+v", p)
		for _, err := range env.client.Runs.All(testContext(t), p) {
			assert.ErrorIs(t, err, ErrInvalidParams)
		}
	}
	assert.Zero(t, env.requests.Load(), "nothing was sent")
}

func TestListRunsPage(t *testing.T) {
	env := setup(t)
	body := `{"count": 3, "next": "https://api.stewai.com/v1/runs/?page=2", "previous": null,
	          "results": [{"id": "a", "status": "done", "cost": 1.5}, {"id": "b", "status": "failed"}]}`
	env.mux.HandleFunc("GET /runs/{$}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) })
	page, err := env.client.Runs.List(testContext(t), ListRunsParams{})
	require.NoError(t, err)
	assert.Equal(t, 3, page.Count)
	assert.Equal(t, "https://api.stewai.com/v1/runs/?page=2", page.Next)
	assert.Empty(t, page.Previous, "null is empty")
	require.Len(t, page.Results, 2)
	assert.Equal(t, StatusFailed, page.Results[1].Status)
	assert.JSONEq(t, `{"id": "a", "status": "done", "cost": 1.5}`, string(page.Results[0].Raw), "each run keeps its fields")
	assert.Equal(t, body, string(page.Raw))
}

func TestListRunsMalformed(t *testing.T) {
	for _, body := range []string{
		`{"count": 1}`,                             // no results
		`{"count": 1, "results": {"id": "a"}}`,     // results not a list
		`{"count": 1, "results": [{"id": ""}]}`,    // a run without an id
		`[{"id": "a"}]`,                            // not a page
		`{"count": 1, "results": [{"id": 7}]}`,     // a run of the wrong shape
		`{"count": "x", "results": [], "next": 1}`, // next of the wrong type
	} {
		env := setup(t)
		env.mux.HandleFunc("GET /runs/{$}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) })
		_, err := env.client.Runs.List(testContext(t), ListRunsParams{})
		assert.ErrorIs(t, err, ErrMalformedResponse, body)
	}
}

// collect ranges over seq and returns the runs' ids and the errors yielded.
func collect(seq func(func(*Run, error) bool)) (ids []string, errs []error) {
	for run, err := range seq {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ids = append(ids, run.ID)
	}
	return ids, errs
}

func TestAllPagesToTheEnd(t *testing.T) {
	env := setup(t)
	queries := pagedRuns(t, env, 7, 3)
	ids, errs := collect(env.client.Runs.All(testContext(t), ListRunsParams{Status: StatusDone, PageSize: 3}))
	assert.Empty(t, errs)
	assert.Equal(t, []string{"r1", "r2", "r3", "r4", "r5", "r6", "r7"}, ids)
	assert.Equal(t, []string{
		"page=1&page_size=3&status=done", "page=2&page_size=3&status=done", "page=3&page_size=3&status=done",
	}, *queries, "the same filter on every page, and no request after the last")

	*queries = nil
	ids, _ = collect(env.client.Runs.All(testContext(t), ListRunsParams{Page: 2, PageSize: 3}))
	assert.Equal(t, []string{"r4", "r5", "r6", "r7"}, ids, "from the given page on")
	assert.Equal(t, []string{"page=2&page_size=3", "page=3&page_size=3"}, *queries)
}

func TestAllStopsOnAnEmptyPage(t *testing.T) {
	env := setup(t)
	var requests atomic.Int64
	env.mux.HandleFunc("GET /runs/{$}", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		// A server that always claims a next page: an empty page still ends the loop.
		writeJSON(w, http.StatusOK, map[string]any{"count": 0, "next": "https://x/v1/runs/?page=9", "results": []any{}})
	})
	ids, errs := collect(env.client.Runs.All(testContext(t), ListRunsParams{}))
	assert.Empty(t, ids)
	assert.Empty(t, errs)
	assert.Equal(t, int64(1), requests.Load())
}

func TestAllBreakStopsRequests(t *testing.T) {
	env := setup(t)
	queries := pagedRuns(t, env, 100, 10)
	for run, err := range env.client.Runs.All(testContext(t), ListRunsParams{PageSize: 10}) {
		require.NoError(t, err)
		assert.Equal(t, "r1", run.ID)
		break
	}
	assert.Equal(t, []string{"page=1&page_size=10"}, *queries, "one request when the loop breaks after the first run")

	*queries = nil
	n := 0
	for range env.client.Runs.All(testContext(t), ListRunsParams{PageSize: 10}) {
		if n++; n == 11 {
			break
		}
	}
	assert.Len(t, *queries, 2, "the second page is fetched only when the loop reaches it")
}

func TestAllYieldsAnErrorOnceAndEnds(t *testing.T) {
	env := setup(t)
	var requests atomic.Int64
	env.mux.HandleFunc("GET /runs/{$}", func(w http.ResponseWriter, r *http.Request) {
		switch requests.Add(1) {
		case 1:
			writeJSON(w, http.StatusOK, map[string]any{"count": 9, "next": "n2", "results": []any{runJSON("a", StatusDone)}})
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable) // retried by the pipeline
		case 3:
			writeJSON(w, http.StatusOK, map[string]any{"count": 9, "next": "n3", "results": []any{runJSON("b", StatusDone)}})
		default:
			writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Invalid page."})
		}
	})
	ids, errs := collect(env.client.Runs.All(testContext(t), ListRunsParams{}))
	assert.Equal(t, []string{"a", "b"}, ids, "a transient failure is retried like any call")
	require.Len(t, errs, 1, "the error is yielded once")
	assert.ErrorIs(t, errs[0], ErrNotFound)
	assert.Equal(t, int64(4), requests.Load(), "and nothing is fetched after it")
}

func TestAllEndsWithTheContext(t *testing.T) {
	env := setup(t)
	pagedRuns(t, env, 100, 10)
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	var errs []error
	n := 0
	for _, err := range env.client.Runs.All(ctx, ListRunsParams{PageSize: 10}) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if n++; n == 5 {
			cancel()
		}
	}
	assert.Equal(t, 10, n, "the page in hand is still yielded")
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], context.Canceled)
}

// endlessRuns serves GET runs/ as a server that never ends a listing: page
// gives each answer from the request's number (1, 2, ...) and its page
// parameter. After 20 requests it answers 400, so that a client that would
// loop fails the test instead of hanging it.
func endlessRuns(t *testing.T, env *testEnv, page func(n int, query string) map[string]any) *atomic.Int64 {
	t.Helper()
	var requests atomic.Int64
	env.mux.HandleFunc("GET /runs/{$}", func(w http.ResponseWriter, r *http.Request) {
		n := int(requests.Add(1))
		if n > 20 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "looping"})
			return
		}
		writeJSON(w, http.StatusOK, page(n, r.URL.Query().Get("page")))
	})
	return &requests
}

// A cursor-paged server ignores ?page= and sends page 1 again: All stops
// with an error that says so, rather than loop (it counted page numbers).
// The page is known again by its next link or by its results.
func TestAllStopsOnARepeatedPage(t *testing.T) {
	first := []any{runJSON("r1", StatusDone), runJSON("r2", StatusDone)}
	for name, page := range map[string]func(n int, query string) map[string]any{
		"same page": func(int, string) map[string]any {
			return map[string]any{"count": 100, "next": "https://x/v1/runs/?cursor=c2", "results": first}
		},
		"same next, a field changing": func(n int, _ string) map[string]any {
			return map[string]any{"count": 100, "next": "https://x/v1/runs/?cursor=c2", "results": first, "served": n}
		},
		"same results, next changing, no count": func(n int, _ string) map[string]any {
			return map[string]any{"next": fmt.Sprintf("https://x/v1/runs/?cursor=c2&t=%d", n), "results": first}
		},
	} {
		t.Run(name, func(t *testing.T) {
			env := setup(t)
			requests := endlessRuns(t, env, page)
			ids, errs := collect(env.client.Runs.All(testContext(t), ListRunsParams{}))
			assert.Equal(t, []string{"r1", "r2"}, ids, "the repeated page is not yielded again")
			require.Len(t, errs, 1)
			assert.ErrorIs(t, errs[0], ErrMalformedResponse)
			assert.Contains(t, errs[0].Error(), "page 2 repeats page 1")
			assert.Equal(t, int64(2), requests.Load())
		})
	}
}

// A server whose next link never ends: All stops once it has yielded the
// count the server gave, from page 1.
func TestAllStopsAfterCount(t *testing.T) {
	env := setup(t)
	requests := endlessRuns(t, env, func(n int, query string) map[string]any {
		return map[string]any{"count": 5, "next": fmt.Sprintf("https://x/v1/runs/?page=%d", n+1), "results": []any{
			runJSON(fmt.Sprintf("p%s-a", query), StatusDone), runJSON(fmt.Sprintf("p%s-b", query), StatusDone),
		}}
	})
	ids, errs := collect(env.client.Runs.All(testContext(t), ListRunsParams{}))
	assert.Empty(t, errs)
	assert.Equal(t, []string{"p1-a", "p1-b", "p2-a", "p2-b", "p3-a", "p3-b"}, ids, "the page in hand is yielded whole")
	assert.Equal(t, int64(3), requests.Load(), "no request once count results are in")

	// From a later page, what came before is unknown: next and repeats end it.
	ids, errs = collect(env.client.Runs.All(testContext(t), ListRunsParams{Page: 2}))
	assert.Len(t, errs, 1, "the fake answers 400 once it has served 20 requests")
	assert.Len(t, ids, 2*(20-3))
}
