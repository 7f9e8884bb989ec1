package stewai_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
)

// The examples run against the fake server of package stewaitest; with a
// real key, make the client with stewai.NewClient() instead.

func ExampleNewClient() {
	// The key comes from STEWAI_API_KEY unless given; so does the base URL
	// (STEWAI_BASE_URL). Options override the environment.
	client, err := stewai.NewClient(
		stewai.WithMaxRetries(3),
		stewai.WithRequestTimeout(30*time.Second),
		stewai.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		stewai.WithUserAgent("invoice-service/2.1"),
	)
	if errors.Is(err, stewai.ErrMissingAPIKey) {
		log.Fatal("set STEWAI_API_KEY")
	}
	_ = client
}

// Create starts a run and waits until it ends.
func ExampleRunsService_Create() {
	srv := stewaitest.NewServer()
	defer srv.Close()
	client := srv.Client()

	run, err := client.Runs.Create(context.Background(), stewai.CreateRunParams{
		RecipeID: "01JEXAMPLE00000000000000000",
		Inputs:   map[string]string{"company_name": "Acme Corp"},
		Ingest: map[string][]stewai.IngestSource{
			"ingest_step_1": {stewai.URLSource("https://example.com/report.pdf")},
		},
	}, stewai.WithTimeout(10*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(run.Status, run.DurationMS, "ms")
	// Output: done 300 ms
}

// Start a run without waiting, then wait for it later, watching its status.
func ExampleRunsService_Wait() {
	srv := stewaitest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	run, err := client.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "01JEXAMPLE00000000000000000"}, stewai.NoWait())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", run.Status)

	run, err = client.Runs.Wait(ctx, run.ID, stewai.OnStatusChange(func(r *stewai.Run) {
		fmt.Println("status:", r.Status)
	}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("finished:", run.Status)
	// Output:
	// created: queued
	// status: queued
	// status: done
	// finished: done
}

// Steps reads each step's output once a run is done.
func ExampleRunsService_Steps() {
	srv := stewaitest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	run, err := client.Runs.Create(ctx, stewai.CreateRunParams{
		RecipeID: "01JEXAMPLE00000000000000000",
		Inputs:   map[string]string{"company_name": "Acme Corp"},
	})
	if err != nil {
		log.Fatal(err)
	}
	steps, err := client.Runs.Steps(ctx, run.ID)
	if err != nil {
		log.Fatal(err)
	}
	for _, step := range steps.Steps {
		switch step.Output.Type {
		case stewai.OutputText:
			text, _ := step.Output.Text()
			fmt.Printf("%s (%s): %s\n", step.ID, step.Title, text)
		case stewai.OutputJSON:
			var v struct {
				InputCount int `json:"input_count"`
			}
			if err := step.Output.Decode(&v); err != nil {
				log.Fatal(err)
			}
			fmt.Printf("%s (%s): %d input(s)\n", step.ID, step.Title, v.InputCount)
		}
	}
	fmt.Println("tokens:", steps.Usage().TotalTokens)
	// Output:
	// step_1 (Summarize): Summary of company_name=Acme Corp.
	// step_2 (Extract): 1 input(s)
	// tokens: 82
}

// Errors say what went wrong: match them with errors.Is and errors.As.
func Example_errors() {
	srv := stewaitest.NewServer(
		stewaitest.WithRecipe("credits", stewaitest.Recipe{Final: stewai.StatusBlocked}),
		stewaitest.WithRecipe("forever", stewaitest.Recipe{Final: stewai.StatusRunning}),
	)
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	explain := func(err error) {
		var runErr *stewai.RunError
		var timeout *stewai.TimeoutError
		var apiErr *stewai.APIError
		switch {
		case err == nil:
			fmt.Println("ok")
		case errors.Is(err, stewai.ErrInvalidParams):
			fmt.Println("fix the call:", err)
		case errors.As(err, &runErr):
			fmt.Println("the run ended", runErr.Run.Status)
		case errors.As(err, &timeout):
			fmt.Println("still", timeout.LastStatus, "after", timeout.Timeout, "- it goes on; wait again later")
		case errors.Is(err, stewai.ErrNotFound):
			fmt.Println("no such run")
		case errors.As(err, &apiErr):
			fmt.Println("the API said", apiErr.StatusCode, apiErr.Message)
		default:
			fmt.Println("network trouble:", err)
		}
	}

	_, err := client.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "credits"})
	explain(err)
	_, err = client.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "forever"}, stewai.WithTimeout(time.Minute))
	explain(err)
	_, err = client.Runs.Get(ctx, "01JNOSUCHRUN")
	explain(err)
	_, err = client.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "x", Ingest: map[string][]stewai.IngestSource{
		"ingest_step_1": {stewai.FileSource("https://example.com/a.pdf", "")},
	}})
	explain(err)
	// Output:
	// the run ended blocked
	// still running after 1m0s - it goes on; wait again later
	// no such run
	// fix the call: stewai: invalid params: ingest["ingest_step_1"][0]: file source "https://example.com/a.pdf" is not a doc:// URI
}

// Upload a document to the Pantry and run a recipe that ingests it.
func ExampleStorageService_Upload() {
	srv := stewaitest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	report := strings.NewReader("Q4 revenue grew 12%.") // any io.Reader: a file, a request body, a stream
	file, err := client.Storage.Upload(ctx, report, "q4-notes.txt",
		stewai.WithProgress(func(sent, total int64) { /* draw a progress bar */ }))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(file.Filename, file.SizeBytes, "bytes")

	run, err := client.Runs.Create(ctx, stewai.CreateRunParams{
		RecipeID: "01JEXAMPLE00000000000000000",
		Ingest:   map[string][]stewai.IngestSource{"ingest_step_1": {file.IngestSource("Q4 notes")}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(run.Status)
	// Output:
	// q4-notes.txt 20 bytes
	// done
}

// Do reaches any endpoint through the same pipeline (key, retries, errors):
// here a run read as a map, to get at fields this package does not name.
// The same call with http.MethodPost, "recipes/" and a body creates a
// recipe where the service allows it.
func ExampleClient_Do() {
	srv := stewaitest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	run, err := client.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "01JEXAMPLE00000000000000000"}, stewai.NoWait())
	if err != nil {
		log.Fatal(err)
	}
	var raw map[string]any
	if err := client.Do(ctx, http.MethodGet, "runs/"+run.ID+"/", nil, &raw); err != nil {
		log.Fatal(err)
	}
	fmt.Println(raw["recipe_id"], raw["status"])

	err = client.Do(ctx, http.MethodGet, "recipes/unknown/", nil, &raw)
	fmt.Println(errors.Is(err, stewai.ErrNotFound))
	// Output:
	// 01JEXAMPLE00000000000000000 queued
	// true
}

// All lists every failed run, page by page, fetching a page only when the
// loop reaches it.
func ExampleRunsService_All() {
	srv := stewaitest.NewServer(stewaitest.WithRecipe("flaky", stewaitest.Recipe{Final: stewai.StatusFailed}))
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()
	for _, recipe := range []string{"flaky", "01JEXAMPLE00000000000000000", "flaky"} {
		_, _ = client.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: recipe})
	}

	failed := 0
	for run, err := range client.Runs.All(ctx, stewai.ListRunsParams{Status: stewai.StatusFailed, PageSize: 50}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(run.RecipeID, run.Status)
		failed++
	}
	fmt.Println(failed, "failed runs")
	// Output:
	// flaky failed
	// flaky failed
	// 2 failed runs
}

// Watch follows a run as its status changes, for a live display.
func ExampleRunsService_Watch() {
	srv := stewaitest.NewServer(stewaitest.WithRecipe("report", stewaitest.Recipe{PollsPerStatus: 2}))
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()
	run, err := client.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "report"}, stewai.NoWait())
	if err != nil {
		log.Fatal(err)
	}

	for run, err := range client.Runs.Watch(ctx, run.ID, stewai.WithTimeout(time.Minute)) {
		if err != nil {
			log.Fatal(err) // failed, cancelled, blocked, timed out: the run comes with it
		}
		fmt.Println(run.Status)
	}
	// Output:
	// queued
	// running
	// done
}

// WaitAll waits for many runs at once and reports each in the order asked.
func ExampleRunsService_WaitAll() {
	srv := stewaitest.NewServer(
		stewaitest.WithRecipe("report", stewaitest.Recipe{}),
		stewaitest.WithRecipe("no-credits", stewaitest.Recipe{Final: stewai.StatusBlocked}),
	)
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	var ids []string
	for _, recipe := range []string{"report", "no-credits", "report"} {
		run, err := client.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: recipe}, stewai.NoWait())
		if err != nil {
			log.Fatal(err)
		}
		ids = append(ids, run.ID)
	}
	runs, err := client.Runs.WaitAll(ctx, ids, stewai.WithTimeout(10*time.Minute))
	for i, run := range runs {
		fmt.Println(i, run.RecipeID, run.Status)
	}
	fmt.Println("blocked:", errors.Is(err, stewai.ErrRunBlocked))
	// Output:
	// 0 report done
	// 1 no-credits blocked
	// 2 report done
	// blocked: true
}

// WaitEach yields each run as it ends, the quickest first.
func ExampleRunsService_WaitEach() {
	srv := stewaitest.NewServer(
		stewaitest.WithRecipe("slow", stewaitest.Recipe{Duration: 40 * time.Second}),
		stewaitest.WithRecipe("quick", stewaitest.Recipe{Duration: 5 * time.Second}),
		stewaitest.WithRecipe("broken", stewaitest.Recipe{Duration: 20 * time.Second, Final: stewai.StatusFailed}),
	)
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	var ids []string
	for _, recipe := range []string{"slow", "quick", "broken"} {
		run, err := client.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: recipe}, stewai.NoWait())
		if err != nil {
			log.Fatal(err)
		}
		ids = append(ids, run.ID)
	}
	for run, err := range client.Runs.WaitEach(ctx, ids) {
		if err != nil {
			fmt.Println(run.RecipeID, "ended:", err != nil, errors.Is(err, stewai.ErrRunFailed))
			continue
		}
		fmt.Println(run.RecipeID, run.Status)
	}
	// Output:
	// quick done
	// broken ended: true true
	// slow done
}

// WithPollRate bounds the polls of all a client's waits, for a known quota.
func ExampleWithPollRate() {
	var polls atomic.Int64
	srv := stewaitest.NewServer(stewaitest.OnRequest(func(r stewaitest.Request) {
		if r.Method == http.MethodGet {
			polls.Add(1)
		}
	}))
	defer srv.Close()
	client := srv.Client(stewai.WithPollRate(5)) // at most 5 polls a second
	ctx := context.Background()

	var ids []string
	for range 20 {
		run, err := client.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "01JEXAMPLE00000000000000000"}, stewai.NoWait())
		if err != nil {
			log.Fatal(err)
		}
		ids = append(ids, run.ID)
	}
	runs, err := client.Runs.WaitAll(ctx, ids)
	if err != nil {
		log.Fatal(err)
	}
	// Five polls go out at once, while the runs (300 ms each) are still
	// running; the other fifteen runs are polled five a second after that,
	// done by then, and the first five once more.
	fmt.Println(len(runs), "runs done after", polls.Load(), "polls")
	// Output: 20 runs done after 25 polls
}

// WithMiddleware wraps every request of a client, polls and retries
// included, inside the SDK's own transport: for tracing, metrics, headers.
func ExampleWithMiddleware() {
	srv := stewaitest.NewServer()
	defer srv.Close()
	var mu sync.Mutex
	counts := map[string]int{}
	count := func(req *http.Request, next stewai.MiddlewareNext) (*http.Response, error) {
		req = req.Clone(req.Context()) // never change the request in place
		req.Header.Set("X-Team", "invoices")
		resp, err := next(req)
		if err == nil {
			mu.Lock()
			counts[req.Method+" "+strconv.Itoa(resp.StatusCode)]++
			mu.Unlock()
		}
		return resp, err
	}
	client := srv.Client(stewai.WithMiddleware(count))

	_, err := client.Runs.Create(context.Background(), stewai.CreateRunParams{RecipeID: "01JEXAMPLE00000000000000000"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(counts)
	fmt.Println("X-Team:", srv.Requests()[0].Header.Get("X-Team"))
	// Output:
	// map[GET 200:1 POST 202:1]
	// X-Team: invoices
}
