package stewaitest_test

import (
	"net/http"
	"testing"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListRunsPages(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithRecipe("bad", stewaitest.Recipe{Statuses: []stewai.Status{}, Final: stewai.StatusFailed}))
	defer srv.Close()
	var ids []string // creation order
	for i := range 5 {
		recipe := "r"
		if i%2 == 1 {
			recipe = "bad"
		}
		status, run := call(t, srv, "POST", "runs/", "application/json", createBody(recipe))
		require.Equal(t, http.StatusAccepted, status)
		ids = append(ids, run["id"].(string))
	}

	status, page := call(t, srv, "GET", "runs/?page_size=2", "", "")
	require.Equal(t, http.StatusOK, status)
	assert.EqualValues(t, 5, page["count"])
	assert.Equal(t, srv.URL+"/runs/?page=2&page_size=2", page["next"], "an absolute URL under the server's base URL")
	assert.Nil(t, page["previous"])
	results := page["results"].([]any)
	require.Len(t, results, 2)
	assert.Equal(t, ids[4], results[0].(map[string]any)["id"], "newest first")
	assert.Equal(t, ids[3], results[1].(map[string]any)["id"])

	status, page = call(t, srv, "GET", "runs/?page=3&page_size=2", "", "")
	require.Equal(t, http.StatusOK, status)
	assert.Nil(t, page["next"], "the last page")
	assert.Equal(t, srv.URL+"/runs/?page=2&page_size=2", page["previous"])
	assert.Equal(t, ids[0], page["results"].([]any)[0].(map[string]any)["id"])

	status, page = call(t, srv, "GET", "runs/?status=failed", "", "")
	require.Equal(t, http.StatusOK, status)
	assert.EqualValues(t, 2, page["count"], "only the failed runs")
	for _, r := range page["results"].([]any) {
		assert.Equal(t, "failed", r.(map[string]any)["status"])
	}

	for q, name := range map[string]string{"page=0": "page ", "page=x": "page ", "page_size=0": "page_size", "page_size=-3": "page_size", "page_size=ten": "page_size"} {
		status, body := call(t, srv, "GET", "runs/?"+q, "", "")
		assert.Equal(t, http.StatusBadRequest, status, q)
		assert.Contains(t, body["detail"], name, "the 400 names the parameter: %s", q)
	}
	status, body := call(t, srv, "GET", "runs/?page=4&page_size=2", "", "")
	assert.Equal(t, http.StatusNotFound, status, "a page past the end")
	assert.Equal(t, "Invalid page.", body["detail"])

	empty := stewaitest.NewServer()
	defer empty.Close()
	status, page = call(t, empty, "GET", "runs/", "", "")
	assert.Equal(t, http.StatusOK, status, "the first page of an empty list exists")
	assert.Empty(t, page["results"])
}

func TestListRunsThroughTheSDK(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := testContext(t)
	var created []string
	for range 45 {
		run, err := client.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r"}, stewai.NoWait())
		require.NoError(t, err)
		created = append(created, run.ID)
	}
	before := len(srv.Requests())
	var listed []string
	for run, err := range client.Runs.All(ctx, stewai.ListRunsParams{PageSize: 20}) {
		require.NoError(t, err)
		listed = append(listed, run.ID)
	}
	require.Len(t, listed, 45)
	for i, id := range listed {
		assert.Equal(t, created[44-i], id)
	}
	assert.Len(t, srv.Requests()[before:], 3, "three pages of 20")
}

func TestListRunsUnknownStatusIs400(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	ctx := testContext(t)
	_, err := srv.Client().Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r"})
	require.NoError(t, err)

	_, err = srv.Client().Runs.List(ctx, stewai.ListRunsParams{Status: "complete"})
	var apiErr *stewai.APIError
	require.ErrorAs(t, err, &apiErr, "a typo is not an empty list")
	assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
	status, body := call(t, srv, "GET", "runs/?status=complete", "", "")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, `status must be one of queued, running, done, failed, cancelled, blocked, not "complete".`, body["detail"])

	page, err := srv.Client().Runs.List(ctx, stewai.ListRunsParams{Status: stewai.StatusDone})
	require.NoError(t, err)
	assert.Equal(t, 1, page.Count, "a documented status still filters")
}
