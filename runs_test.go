package stewai

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateWire(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params CreateRunParams
		want   string
	}{
		{
			name:   "inputs always sent, ingest omitted",
			params: CreateRunParams{RecipeID: "01JEXAMPLE00000000000000000"},
			want:   `{"recipe_id":"01JEXAMPLE00000000000000000","inputs":{}}`,
		},
		{
			name: "the Python SDK's full shape",
			params: CreateRunParams{
				RecipeID: "01JEXAMPLE00000000000000000",
				Inputs:   map[string]string{"company_name": "Acme Corp"},
				Ingest: map[string][]IngestSource{"ingest_step_1": {
					URLSource("https://example.com/report.pdf"),
					FileSource("doc://01ABCDEF", "Report"),
				}},
			},
			want: `{"recipe_id":"01JEXAMPLE00000000000000000","inputs":{"company_name":"Acme Corp"},` +
				`"ingest":{"ingest_step_1":{"sources":[{"uri":"https://example.com/report.pdf","kind":"url"},` +
				`{"uri":"doc://01ABCDEF","kind":"file","label":"Report"}]}}}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := setup(t)
			env.mux.HandleFunc("/runs/", func(w http.ResponseWriter, r *http.Request) {
				testMethod(t, r, http.MethodPost)
				assert.Equal(t, "/runs/", r.URL.Path, "trailing slash kept")
				assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
				assert.Equal(t, "Bearer "+testKey, r.Header.Get("Authorization"))
				assert.Equal(t, tc.want, strings.TrimSpace(readBody(t, r)))
				writeJSON(w, http.StatusAccepted, runJSON("01JRUN", StatusQueued))
			})
			run, err := env.client.Runs.Create(testContext(t), tc.params, NoWait())
			require.NoError(t, err)
			assert.Equal(t, "01JRUN", run.ID)
			assert.Equal(t, StatusQueued, run.Status)
		})
	}
}

func TestCreateAnySuccessStatus(t *testing.T) {
	for _, status := range []int{200, 201, 202} {
		env := setup(t)
		env.mux.HandleFunc("POST /runs/", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, status, runJSON("01JRUN", StatusQueued))
		})
		run, err := env.client.Runs.Create(testContext(t), CreateRunParams{RecipeID: "r"}, NoWait())
		require.NoError(t, err, "status %d", status)
		assert.Equal(t, "01JRUN", run.ID)
	}
}

func TestCreateIdempotencyKey(t *testing.T) {
	env := setup(t)
	var mu sync.Mutex
	var keys []string
	env.mux.HandleFunc("POST /runs/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		n := len(keys)
		mu.Unlock()
		if n == 1 || n == 2 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		writeJSON(w, http.StatusAccepted, runJSON("01JRUN", StatusQueued))
	})
	ctx := testContext(t)
	_, err := env.client.Runs.Create(ctx, CreateRunParams{RecipeID: "r"}, NoWait())
	require.NoError(t, err)
	require.Len(t, keys, 3, "two 502s, then success")
	_, err = ulid.ParseStrict(keys[0])
	require.NoError(t, err, "the key is a ULID")
	assert.Equal(t, keys[0], keys[1], "same key on every retry of one call")
	assert.Equal(t, keys[0], keys[2])

	_, err = env.client.Runs.Create(ctx, CreateRunParams{RecipeID: "r"}, NoWait())
	require.NoError(t, err)
	assert.NotEqual(t, keys[0], keys[3], "a new call gets a new key")

	_, err = env.client.Runs.Create(ctx, CreateRunParams{RecipeID: "r", IdempotencyKey: "job-42"}, NoWait())
	require.NoError(t, err)
	assert.Equal(t, "job-42", keys[4], "the caller's key is used as given")
}

func TestCreateWaitsByDefault(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("POST /runs/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusAccepted, runJSON("01JRUN", StatusQueued))
	})
	polls := statusSequence(t, env, "01JRUN", StatusQueued, StatusRunning, StatusDone)
	run, err := env.client.Runs.Create(testContext(t), CreateRunParams{RecipeID: "r"})
	require.NoError(t, err)
	assert.Equal(t, StatusDone, run.Status)
	assert.Equal(t, int64(3), polls.Load())
	assert.Len(t, env.clock.Sleeps(), 3, "a delay before each poll: the create already said queued")
}

func TestCreateTerminalAtOnce(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("POST /runs/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusAccepted, runJSON("01JRUN", StatusBlocked))
	})
	run, err := env.client.Runs.Create(testContext(t), CreateRunParams{RecipeID: "r"})
	require.ErrorIs(t, err, ErrRunBlocked)
	require.NotNil(t, run)
	assert.Equal(t, "01JRUN", run.ID)
	assert.Equal(t, int64(1), env.requests.Load(), "no poll needed")
}

func TestCreateKeepsRunOnWaitError(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("POST /runs/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusAccepted, runJSON("01JRUN", StatusQueued))
	})
	ctx, cancel := context.WithCancel(testContext(t))
	env.mux.HandleFunc("GET /runs/01JRUN/", func(w http.ResponseWriter, r *http.Request) {
		cancel()
		writeJSON(w, 200, runJSON("01JRUN", StatusRunning))
	})
	run, err := env.client.Runs.Create(ctx, CreateRunParams{RecipeID: "r"})
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, run, "the created run's id is not lost")
	assert.Equal(t, "01JRUN", run.ID)
}

func TestInvalidParamsSendNothing(t *testing.T) {
	env := setup(t)
	ctx := testContext(t)
	create := func(p CreateRunParams, opts ...WaitOption) func() error {
		return func() error { _, err := env.client.Runs.Create(ctx, p, opts...); return err }
	}
	for _, tc := range []struct {
		name string
		call func() error
		msg  string
	}{
		{"empty recipe id", create(CreateRunParams{}), "recipe id is empty"},
		{"blank recipe id", create(CreateRunParams{RecipeID: "  "}), "recipe id is empty"},
		{"empty input name", create(CreateRunParams{RecipeID: "r", Inputs: map[string]string{"": "x"}}), "inputs has an empty name"},
		{"empty step id", create(CreateRunParams{RecipeID: "r", Ingest: map[string][]IngestSource{"": {URLSource("https://a.example")}}}), "empty id"},
		{"url source not http", create(CreateRunParams{RecipeID: "r", Ingest: map[string][]IngestSource{"s": {URLSource("ftp://a.example/x")}}}),
			`ingest["s"][0]: url source "ftp://a.example/x" is not an http:// or https:// URL`},
		{"file source not doc", create(CreateRunParams{RecipeID: "r", Ingest: map[string][]IngestSource{"s": {URLSource("https://ok.example"), FileSource("https://x", "")}}}),
			`ingest["s"][1]: file source "https://x" is not a doc:// URI`},
		{"unknown kind", create(CreateRunParams{RecipeID: "r", Ingest: map[string][]IngestSource{"s": {{URI: "s3://b/k", Kind: "s3"}}}}), `unknown kind "s3"`},
		{"step with no sources", create(CreateRunParams{RecipeID: "r", Ingest: map[string][]IngestSource{"s": nil}}), `ingest["s"] has no sources`},
		{"step with an empty list", create(CreateRunParams{RecipeID: "r", Ingest: map[string][]IngestSource{"s": {}}}), `ingest["s"] has no sources`},
		{"input not UTF-8", create(CreateRunParams{RecipeID: "r", Inputs: map[string]string{"name": "caf\xe9"}}), `input "name" is not valid UTF-8`},
		{"input name not UTF-8", create(CreateRunParams{RecipeID: "r", Inputs: map[string]string{"n\xff": "x"}}), `is not valid UTF-8`},
		{"recipe id not UTF-8", create(CreateRunParams{RecipeID: "r\xff"}), `recipe id is not valid UTF-8`},
		{"nil context", func() error {
			_, err := env.client.Runs.Create(nilContext(), CreateRunParams{RecipeID: "r"})
			return err
		}, "nil context"},
		{"Get nil context", func() error { _, err := env.client.Runs.Get(nilContext(), "r1"); return err }, "nil context"},
		{"Wait nil context", func() error { _, err := env.client.Runs.Wait(nilContext(), "r1"); return err }, "nil context"},
		{"idempotency key with newline", create(CreateRunParams{RecipeID: "r", IdempotencyKey: "a\nb"}), "idempotency key"},
		{"zero timeout", create(CreateRunParams{RecipeID: "r"}, WithTimeout(0)), "WithTimeout"},
		{"negative poll interval", create(CreateRunParams{RecipeID: "r"}, WithPollInterval(-1)), "WithPollInterval"},
		{"zero max poll interval", create(CreateRunParams{RecipeID: "r"}, WithMaxPollInterval(0)), "WithMaxPollInterval"},
		{"poll interval above max", create(CreateRunParams{RecipeID: "r"}, WithPollInterval(10*time.Second), WithMaxPollInterval(time.Second)), "above WithMaxPollInterval's 1s"},
		{"poll interval above max, max first", create(CreateRunParams{RecipeID: "r"}, WithMaxPollInterval(time.Second), WithPollInterval(10*time.Second)), "above WithMaxPollInterval's 1s"},
		{"Wait poll interval above max", func() error {
			_, err := env.client.Runs.Wait(ctx, "r1", WithPollInterval(10*time.Second), WithMaxPollInterval(time.Second))
			return err
		}, "above WithMaxPollInterval"},
		{"Get empty id", func() error { _, err := env.client.Runs.Get(ctx, ""); return err }, "run id is empty"},
		{"Get dot-dot", func() error { _, err := env.client.Runs.Get(ctx, ".."); return err }, "not an id"},
		{"Wait empty id", func() error { _, err := env.client.Runs.Wait(ctx, " "); return err }, "run id is empty"},
		{"Wait NoWait", func() error { _, err := env.client.Runs.Wait(ctx, "r1", NoWait()); return err }, "NoWait only applies to Create"},
		{"Steps empty id", func() error { _, err := env.client.Runs.Steps(ctx, ""); return err }, "run id is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.ErrorIs(t, err, ErrInvalidParams)
			assert.Contains(t, err.Error(), tc.msg)
			assert.True(t, strings.HasPrefix(err.Error(), "stewai: invalid params: "), err.Error())
		})
	}
	assert.Zero(t, env.requests.Load(), "bad input never reaches the server")
}

func TestRunIDsArePathEscaped(t *testing.T) {
	for _, tc := range []struct{ id, wantURI string }{
		{"01JRUN", "/v1/runs/01JRUN/"},
		{"../../storage/upload", "/v1/runs/..%2F..%2Fstorage%2Fupload/"},
		{"a?b=c", "/v1/runs/a%3Fb=c/"},
		{"a#frag", "/v1/runs/a%23frag/"},
		{"with space", "/v1/runs/with%20space/"},
		{"%2e%2e", "/v1/runs/%252e%252e/"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			env := setup(t)
			var got string
			env.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				got = r.RequestURI
				if strings.HasSuffix(r.URL.Path, "/steps/") {
					writeJSON(w, 200, map[string]any{"steps": []any{}})
					return
				}
				writeJSON(w, 200, runJSON(tc.id, StatusDone))
			})
			_, err := env.client.Runs.Get(testContext(t), tc.id)
			require.NoError(t, err)
			assert.Equal(t, tc.wantURI, got)

			_, err = env.client.Runs.Steps(testContext(t), tc.id)
			require.NoError(t, err)
			assert.Equal(t, tc.wantURI+"steps/", got)
		})
	}
}

func TestRunDecoding(t *testing.T) {
	env := setup(t)
	const body = `{"id":"01JRUN","recipe_id":"01JEXAMPLE","status":"running","created_at":"2026-01-15T10:30:00.25Z",` +
		`"duration_ms":1234,"inputs":{"a":"b"},"future_field":{"nested":[1,2]}}`
	env.mux.HandleFunc("GET /runs/01JRUN/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(body))
	})
	run, err := env.client.Runs.Get(testContext(t), "01JRUN")
	require.NoError(t, err)
	assert.Equal(t, "01JRUN", run.ID)
	assert.Equal(t, "01JEXAMPLE", run.RecipeID)
	assert.Equal(t, StatusRunning, run.Status)
	assert.Equal(t, time.Date(2026, 1, 15, 10, 30, 0, 250e6, time.UTC), run.CreatedAt)
	assert.Equal(t, int64(1234), run.DurationMS)
	assert.JSONEq(t, body, string(run.Raw), "Raw keeps every field, unknown ones included")
	var extra struct {
		Future struct{ Nested []int } `json:"future_field"`
	}
	require.NoError(t, json.Unmarshal(run.Raw, &extra))
	assert.Equal(t, []int{1, 2}, extra.Future.Nested)
}

func TestRunDecodingLenientFields(t *testing.T) {
	for _, tc := range []struct {
		body    string
		created time.Time
		ms      int64
	}{
		{`{"id":"r","duration_ms":1500.0}`, time.Time{}, 1500},
		{`{"id":"r","created_at":null,"duration_ms":null}`, time.Time{}, 0},
		{`{"id":"r","created_at":"yesterday","duration_ms":"12"}`, time.Time{}, 12},
		{`{"id":"r","duration_ms":"soon"}`, time.Time{}, 0},
		{`{"id":"r","duration_ms":1e300}`, time.Time{}, 0},
		{`{"id":"r","created_at":"2026-01-15T10:30:00+02:00"}`, time.Date(2026, 1, 15, 8, 30, 0, 0, time.UTC), 0},
	} {
		var run Run
		require.NoError(t, json.Unmarshal([]byte(tc.body), &run), tc.body)
		assert.True(t, tc.created.Equal(run.CreatedAt), tc.body)
		assert.Equal(t, tc.ms, run.DurationMS, tc.body)
		assert.Equal(t, tc.body, string(run.Raw))
	}
	var run Run
	assert.Error(t, json.Unmarshal([]byte(`{"id":7}`), &run), "the id must be a string")
	assert.Error(t, json.Unmarshal([]byte(`{"id":"r","status":["done"]}`), &run), "the status must be a string")
}

func TestSteps(t *testing.T) {
	env := setup(t)
	const body = `{"run":{"id":"01JRUN"},"steps":[
	  {"id":"step_1","title":"Summarize","kind":"llm_simple","status":"done","depends_on":[],
	   "output_flat":{"output_flat_version":1,"type":"text","primary":"Summary text",
	     "usage":{"input_tokens":120,"output_tokens":80,"total_tokens":200,"cost":0.05},"finish_reason":"stop"}},
	  {"id":"step_2","title":"Extract","kind":"llm_json","status":"done","depends_on":["step_1"],"retries":2,
	   "output_flat":{"output_flat_version":1,"type":"json","primary":{"score":7,"tags":["a"]},
	     "schema_urn":"urn:stewai:schema:x","schema_name":"Scores","warnings":["truncated"],
	     "usage":{"input_tokens":10,"output_tokens":5,"total_tokens":15,"cost":0.01}}},
	  {"id":"step_3","title":"Later","kind":"llm_simple","status":"queued","depends_on":["step_2"],"output_flat":null}]}`
	env.mux.HandleFunc("GET /runs/01JRUN/steps/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(body))
	})
	steps, err := env.client.Runs.Steps(testContext(t), "01JRUN")
	require.NoError(t, err)
	assert.Equal(t, "01JRUN", steps.RunID)
	assert.JSONEq(t, body, string(steps.Raw))
	require.Len(t, steps.Steps, 3)

	s1 := steps.Steps[0]
	assert.Equal(t, "step_1", s1.ID)
	assert.Equal(t, "Summarize", s1.Title)
	assert.Equal(t, "llm_simple", s1.Kind)
	assert.Equal(t, StatusDone, s1.Status)
	assert.Equal(t, []string{}, s1.DependsOn)
	assert.Equal(t, 1, s1.Output.Version)
	assert.Equal(t, OutputText, s1.Output.Type)
	text, ok := s1.Output.Text()
	assert.True(t, ok)
	assert.Equal(t, "Summary text", text)
	assert.Equal(t, &Usage{InputTokens: 120, OutputTokens: 80, TotalTokens: 200, Cost: 0.05}, s1.Output.Usage)
	assert.Equal(t, "stop", s1.Output.FinishReason)

	s2, ok := steps.Step("step_2")
	require.True(t, ok)
	assert.Equal(t, []string{"step_1"}, s2.DependsOn)
	assert.Equal(t, OutputJSON, s2.Output.Type)
	_, ok = s2.Output.Text()
	assert.False(t, ok, "a json output is not text")
	var primary struct {
		Score int
		Tags  []string
	}
	require.NoError(t, s2.Output.Decode(&primary))
	assert.Equal(t, 7, primary.Score)
	assert.Equal(t, "urn:stewai:schema:x", s2.Output.SchemaURN)
	assert.Equal(t, "Scores", s2.Output.SchemaName)
	assert.JSONEq(t, `["truncated"]`, string(s2.Output.Warnings))
	assert.Contains(t, string(s2.Raw), `"retries":2`, "a step keeps its unknown fields")

	s3 := steps.Steps[2]
	assert.Equal(t, StepOutput{}, s3.Output, "no output yet")
	assert.Error(t, s3.Output.Decode(&primary))

	assert.Equal(t, Usage{InputTokens: 130, OutputTokens: 85, TotalTokens: 215, Cost: 0.06}, roundCost(steps.Usage()))
	_, ok = steps.Step("nope")
	assert.False(t, ok)
}

func roundCost(u Usage) Usage {
	u.Cost = float64(int(u.Cost*1e6+0.5)) / 1e6
	return u
}

func TestStepsRunIDFallsBack(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("GET /runs/r1/steps/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"steps":[]}`))
	})
	steps, err := env.client.Runs.Steps(testContext(t), "r1")
	require.NoError(t, err)
	assert.Equal(t, "r1", steps.RunID)
	assert.Empty(t, steps.Steps)
}

func TestErrorsFromRunsCalls(t *testing.T) {
	env := setup(t)
	var calls atomic.Int64
	env.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("X-Request-Id", "req_123")
		writeJSON(w, 404, map[string]any{"detail": "Run not found."})
	})
	_, err := env.client.Runs.Get(testContext(t), "nope")
	require.ErrorIs(t, err, ErrNotFound)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "stewai: GET runs/nope/: 404 Not Found: Run not found. (request id req_123)", err.Error())
	assert.Equal(t, int64(1), calls.Load())
}

// nilContext returns a nil context.Context, as a careless caller passes.
func nilContext() context.Context { return nil }

// A create whose answer has an id that cannot reach the run is a malformed
// answer, carrying what came back, never ErrInvalidParams ("nothing was
// sent"), and is not retried: retrying could start a second run.
func TestCreateWithAnUnusableID(t *testing.T) {
	for _, id := range []string{".", "..", "  "} {
		env := setup(t)
		var posts atomic.Int64
		env.mux.HandleFunc("POST /runs/", func(w http.ResponseWriter, r *http.Request) {
			posts.Add(1)
			writeJSON(w, http.StatusAccepted, runJSON(id, StatusQueued))
		})
		run, err := env.client.Runs.Create(testContext(t), CreateRunParams{RecipeID: "r"})
		require.ErrorIs(t, err, ErrMalformedResponse, "%q", id)
		assert.NotErrorIs(t, err, ErrInvalidParams)
		assert.Contains(t, err.Error(), `unusable id "`+id+`"`)
		require.NotNil(t, run, "what came back is returned")
		assert.Equal(t, id, run.ID)
		assert.Contains(t, string(run.Raw), `"recipe_id"`)
		assert.Equal(t, int64(1), posts.Load(), "not retried")
	}
}
