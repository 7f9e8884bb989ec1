package stewaitest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// polls counts the GET runs/{id}/ requests the server saw.
func polls(srv *stewaitest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet && strings.HasPrefix(r.Path, "runs/") && !strings.HasSuffix(r.Path, "steps/") {
			n++
		}
	}
	return n
}

func TestScriptedFinalStatuses(t *testing.T) {
	for final, want := range map[stewai.Status]error{
		stewai.StatusDone: nil, stewai.StatusFailed: stewai.ErrRunFailed,
		stewai.StatusCancelled: stewai.ErrRunCancelled, stewai.StatusBlocked: stewai.ErrRunBlocked,
	} {
		t.Run(string(final), func(t *testing.T) {
			srv := stewaitest.NewServer(stewaitest.WithRecipe("r", stewaitest.Recipe{Final: final}))
			defer srv.Close()
			var seen []stewai.Status
			run, err := srv.Client().Runs.Create(testContext(t), stewai.CreateRunParams{RecipeID: "r"},
				stewai.OnStatusChange(func(r *stewai.Run) { seen = append(seen, r.Status) }))
			if want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, want)
			}
			assert.Equal(t, final, run.Status)
			assert.Equal(t, []stewai.Status{stewai.StatusQueued, stewai.StatusRunning, final}, seen)
			assert.Equal(t, 2, polls(srv), "queued at create, running at poll 1, final at poll 2")
		})
	}
}

func TestScriptedStatusesAndPollsPerStatus(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithRecipe("r", stewaitest.Recipe{
		Statuses:       []stewai.Status{stewai.StatusQueued, "provisioning", stewai.StatusRunning},
		PollsPerStatus: 3,
		Final:          stewai.StatusFailed,
	}))
	defer srv.Close()
	var seen []stewai.Status
	_, err := srv.Client().Runs.Create(testContext(t), stewai.CreateRunParams{RecipeID: "r"},
		stewai.OnStatusChange(func(r *stewai.Run) { seen = append(seen, r.Status) }))
	require.ErrorIs(t, err, stewai.ErrRunFailed)
	assert.Equal(t, []stewai.Status{stewai.StatusQueued, "provisioning", stewai.StatusRunning, stewai.StatusFailed}, seen)
	assert.Equal(t, 9, polls(srv), "three statuses of three polls each, the create counting as the first")
}

func TestScriptedImmediateAndEndless(t *testing.T) {
	srv := stewaitest.NewServer(
		stewaitest.WithRecipe("instant", stewaitest.Recipe{Statuses: []stewai.Status{}}),
		stewaitest.WithRecipe("endless", stewaitest.Recipe{Final: stewai.StatusRunning}),
	)
	defer srv.Close()
	c := srv.Client()
	run, err := c.Runs.Create(testContext(t), stewai.CreateRunParams{RecipeID: "instant"})
	require.NoError(t, err)
	assert.Equal(t, stewai.StatusDone, run.Status)
	assert.Zero(t, polls(srv), "done in the create answer")

	start := time.Now()
	_, err = c.Runs.Create(testContext(t), stewai.CreateRunParams{RecipeID: "endless"}, stewai.WithTimeout(10*time.Minute))
	var te *stewai.TimeoutError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, stewai.StatusRunning, te.LastStatus)
	assert.Less(t, time.Since(start), 10*time.Second, "ten virtual minutes pass without real waiting")
}

func TestScriptedDuration(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithRecipe("slow", stewaitest.Recipe{Duration: 90 * time.Second}))
	defer srv.Close()
	run, err := srv.Client().Runs.Create(testContext(t), stewai.CreateRunParams{RecipeID: "slow"})
	require.NoError(t, err)
	assert.Equal(t, stewai.StatusDone, run.Status)
	assert.Equal(t, int64(90_000), run.DurationMS, "the run took its scripted time")
	// About 90 s of polls at ≤ 5 s apart: far more than two polls.
	assert.Greater(t, polls(srv), 15)
}

func TestScriptedStepsOfEachType(t *testing.T) {
	calls := []map[string]any{{"name": "search", "arguments": map[string]any{"q": "acme"}}}
	srv := stewaitest.NewServer(stewaitest.WithRecipe("r", stewaitest.Recipe{Steps: []stewaitest.Step{
		{ID: "t", Title: "Write", Kind: "llm_simple", Output: stewaitest.Text("Hello")},
		{ID: "j", Kind: "llm_json", DependsOn: []string{"t"}, Output: stewaitest.JSON(map[string]int{"score": 9})},
		{ID: "m", Kind: "image", Output: stewaitest.Media("doc://01JIMG", "chart.png", "image/png")},
		{ID: "c", Kind: "agent", Output: stewaitest.ToolCalls(calls)},
		{ID: "n", Kind: "router", Output: stewaitest.NoOutput()},
		{ID: "s", Kind: "llm_simple", Status: "skipped"},
	}}))
	defer srv.Close()
	c := srv.Client()
	run, err := c.Runs.Create(testContext(t), stewai.CreateRunParams{RecipeID: "r"})
	require.NoError(t, err)
	steps, err := c.Runs.Steps(testContext(t), run.ID)
	require.NoError(t, err)
	require.Len(t, steps.Steps, 6)

	text, ok := steps.Steps[0].Output.Text()
	assert.True(t, ok)
	assert.Equal(t, "Hello", text)
	assert.Equal(t, "stop", steps.Steps[0].Output.FinishReason)
	assert.NotNil(t, steps.Steps[0].Output.Usage)

	var score struct{ Score int }
	require.NoError(t, steps.Steps[1].Output.Decode(&score))
	assert.Equal(t, 9, score.Score)
	assert.Equal(t, []string{"t"}, steps.Steps[1].DependsOn)

	var media struct{ URI, Filename string }
	require.NoError(t, steps.Steps[2].Output.Decode(&media))
	assert.Equal(t, stewai.OutputMedia, steps.Steps[2].Output.Type)
	assert.Equal(t, "chart.png", media.Filename)

	assert.Equal(t, stewai.OutputToolCalls, steps.Steps[3].Output.Type)
	assert.JSONEq(t, `[{"name":"search","arguments":{"q":"acme"}}]`, string(steps.Steps[3].Output.Primary))
	assert.Equal(t, stewai.OutputNone, steps.Steps[4].Output.Type)

	assert.Equal(t, stewai.Status("skipped"), steps.Steps[5].Status)
	assert.Equal(t, stewai.StepOutput{}, steps.Steps[5].Output, "only done steps have outputs")
}

func TestStepsFollowTheRun(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithRecipe("r", stewaitest.Recipe{Final: stewai.StatusFailed}))
	defer srv.Close()
	c := srv.Client()
	ctx := testContext(t)
	run, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r"}, stewai.NoWait())
	require.NoError(t, err)
	statuses := func() []stewai.Status {
		steps, err := c.Runs.Steps(ctx, run.ID)
		require.NoError(t, err)
		var out []stewai.Status
		for _, s := range steps.Steps {
			out = append(out, s.Status)
			if s.Status != stewai.StatusDone {
				assert.Empty(t, s.Output.Type, "no output before a step is done")
			}
		}
		return out
	}
	assert.Equal(t, []stewai.Status{"queued", "queued"}, statuses())
	_, _ = c.Runs.Get(ctx, run.ID)
	assert.Equal(t, []stewai.Status{"running", "queued"}, statuses())
	_, _ = c.Runs.Get(ctx, run.ID)
	assert.Equal(t, []stewai.Status{"failed", "failed"}, statuses())
	assert.Equal(t, 2, polls(srv), "reading steps is not a poll")
}

func TestDefaultRecipe(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	c := srv.Client()
	ctx := testContext(t)
	doc := srv.PutFile("brief.pdf", []byte("%PDF"))
	run, err := c.Runs.Create(ctx, stewai.CreateRunParams{
		RecipeID: "01JEXAMPLE00000000000000000",
		Inputs:   map[string]string{"company_name": "Acme Corp", "industry": "Technology"},
		Ingest: map[string][]stewai.IngestSource{"ingest_step_1": {
			stewai.URLSource("https://example.com/report.pdf"), stewai.FileSource(doc.URI, "Brief"),
		}},
	})
	require.NoError(t, err)
	assert.Equal(t, stewai.StatusDone, run.Status)
	assert.Equal(t, int64(300), run.DurationMS, "done in 300 ms")
	steps, err := c.Runs.Steps(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, steps.Steps, 2)
	text, _ := steps.Steps[0].Output.Text()
	assert.Equal(t, "Summary of company_name=Acme Corp, industry=Technology (2 ingested source(s)).", text)
	var extracted struct {
		Inputs     map[string]string
		InputCount int `json:"input_count"`
		Sources    []string
	}
	require.NoError(t, steps.Steps[1].Output.Decode(&extracted))
	assert.Equal(t, "Acme Corp", extracted.Inputs["company_name"])
	assert.Equal(t, 2, extracted.InputCount)
	assert.Equal(t, []string{"https://example.com/report.pdf", doc.URI}, extracted.Sources)
	assert.Positive(t, steps.Usage().TotalTokens)
}

func TestScriptAtRuntime(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	srv.Script("r", stewaitest.Recipe{Final: stewai.StatusCancelled})
	_, err := srv.Client().Runs.Create(testContext(t), stewai.CreateRunParams{RecipeID: "r"})
	assert.ErrorIs(t, err, stewai.ErrRunCancelled)
}

func TestParseScripts(t *testing.T) {
	const doc = `{
	  "recipes": {
	    "slow": {"statuses": ["queued", "running"], "final": "failed", "duration": "2s"},
	    "two":  {"final": "done", "polls_per_status": 2, "steps": [
	      {"id": "step_1", "title": "Summarize", "kind": "llm_simple",
	       "output": {"output_flat_version": 1, "type": "text", "primary": "Hello",
	                  "usage": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4, "cost": 0.001},
	                  "finish_reason": "stop"}}]}
	  },
	  "faults": [
	    {"method": "POST", "path": "runs/", "times": 1, "status": 503, "header": {"Retry-After": ["1"]}},
	    {"path": "runs/", "times": 1, "latency": 0.25}
	  ]
	}`
	opts, err := stewaitest.ParseScripts(strings.NewReader(doc))
	require.NoError(t, err)
	srv := stewaitest.NewServer(opts...)
	defer srv.Close()
	c := srv.Client()
	ctx := testContext(t)

	_, err = c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "slow"})
	require.ErrorIs(t, err, stewai.ErrRunFailed)
	reqs := srv.Requests()
	assert.Equal(t, 503, reqs[0].Status, "the scripted fault answered the first create")
	assert.True(t, reqs[0].Fault)
	assert.True(t, reqs[1].Fault, "the latency fault delayed the retry")
	assert.Equal(t, 202, reqs[1].Status)

	run, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "two"})
	require.NoError(t, err)
	steps, err := c.Runs.Steps(ctx, run.ID)
	require.NoError(t, err)
	text, _ := steps.Steps[0].Output.Text()
	assert.Equal(t, "Hello", text)
	assert.Equal(t, int64(4), steps.Steps[0].Output.Usage.TotalTokens)

	for _, bad := range []string{
		`{"recipes": {"r": {"finale": "done"}}}`,
		`{"faults": [{"status": 42}]}`,
		`{"faults": [{"times": -1}]}`,
		`{"recipes": {"r": {"duration": "soon"}}}`,
		`{"recipes": {"r": {"steps": [{"title": "no id"}]}}}`,
		`[]`,
	} {
		_, err := stewaitest.ParseScripts(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
}

func TestRequestLog(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	_, err := srv.Client().Runs.Create(testContext(t), stewai.CreateRunParams{RecipeID: "r", Inputs: map[string]string{"a": "b"}}, stewai.NoWait())
	require.NoError(t, err)
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, "POST", r.Method)
	assert.Equal(t, "runs/", r.Path)
	assert.JSONEq(t, `{"recipe_id":"r","inputs":{"a":"b"}}`, string(r.Body))
	assert.Equal(t, 202, r.Status)
	assert.False(t, r.Fault)
	assert.Equal(t, "stewai-go/"+stewai.Version, r.Header.Get("User-Agent"))
}

func TestRealTimeServer(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithRealTime(), stewaitest.WithRecipe("r", stewaitest.Recipe{}))
	defer srv.Close()
	// Poll-driven runs move on real time too, with no waiting.
	c := srv.Client()
	ctx := testContext(t)
	run, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r"}, stewai.NoWait())
	require.NoError(t, err)
	for _, want := range []stewai.Status{stewai.StatusRunning, stewai.StatusDone} {
		got, err := c.Runs.Get(ctx, run.ID)
		require.NoError(t, err)
		assert.Equal(t, want, got.Status)
	}
}

func TestDurationsAreTimeDurationsInGoAndStringsInJSON(t *testing.T) {
	rec := stewaitest.Recipe{Final: stewai.StatusFailed, Duration: 1500 * time.Millisecond}
	b, err := json.Marshal(rec)
	require.NoError(t, err)
	assert.JSONEq(t, `{"final": "failed", "duration": "1.5s"}`, string(b))
	var back stewaitest.Recipe
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, rec, back)

	f := stewaitest.Fault{Path: "runs/", Latency: 250 * time.Millisecond, RetryAfter: 2 * time.Second}
	b, err = json.Marshal(f)
	require.NoError(t, err)
	assert.JSONEq(t, `{"path": "runs/", "latency": "250ms", "retry_after": "2s"}`, string(b))
	var fb stewaitest.Fault
	require.NoError(t, json.Unmarshal([]byte(`{"latency": 0.5, "retry_after": "3s"}`), &fb))
	assert.Equal(t, 500*time.Millisecond, fb.Latency, "a number is seconds")
	assert.Equal(t, 3*time.Second, fb.RetryAfter)

	assert.Error(t, json.Unmarshal([]byte(`{"latency": "soon"}`), &fb))
	assert.Error(t, json.Unmarshal([]byte(`{"latence": "1s"}`), &fb), "unknown fields are errors")
	assert.Error(t, json.Unmarshal([]byte(`{"duration": true}`), &back))
	assert.Error(t, (*stewaitest.Recipe)(nil).UnmarshalJSON([]byte(`{}`)), "nil, without a panic")
	assert.Error(t, (*stewaitest.Fault)(nil).UnmarshalJSON([]byte(`{}`)))
}

func TestRequestLogKeepsTheLastMaxLoggedRequests(t *testing.T) {
	srv := stewaitest.NewServer()
	defer srv.Close()
	const extra = 5
	for i := range stewaitest.MaxLoggedRequests + extra {
		req := httptest.NewRequest(http.MethodGet, "/v1/runs/?n="+strconv.Itoa(i), nil) // no key: 401, logged all the same
		srv.ServeHTTP(httptest.NewRecorder(), req)
	}
	reqs := srv.Requests()
	require.Len(t, reqs, stewaitest.MaxLoggedRequests)
	assert.Equal(t, strconv.Itoa(extra), reqs[0].Query.Get("n"), "the oldest requests are dropped")
	assert.Equal(t, strconv.Itoa(stewaitest.MaxLoggedRequests+extra-1), reqs[len(reqs)-1].Query.Get("n"), "the newest last")
	for i, r := range reqs {
		if r.Query.Get("n") != strconv.Itoa(i+extra) || r.Status != http.StatusUnauthorized {
			t.Fatalf("request %d of the log is n=%s with status %d: want n=%d, 401", i, r.Query.Get("n"), r.Status, i+extra)
		}
	}

	_, err := srv.Client().Runs.Create(testContext(t), stewai.CreateRunParams{RecipeID: "r"}, stewai.NoWait())
	require.NoError(t, err)
	reqs = srv.Requests()
	require.Len(t, reqs, stewaitest.MaxLoggedRequests)
	assert.Equal(t, "runs/", reqs[len(reqs)-1].Path)
	assert.Equal(t, http.StatusAccepted, reqs[len(reqs)-1].Status, "the outcome is filled in past the wrap")
}
