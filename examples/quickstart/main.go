// Command quickstart starts a StewAI run, waits for it while printing each
// status change, then prints every step's output and the run's usage.
//
//	go run ./examples/quickstart
//
// With STEWAI_API_KEY set it uses the real API (STEWAI_BASE_URL to point
// elsewhere), running the recipe in STEWAI_RECIPE_ID with the ingest step in
// STEWAI_INGEST_STEP (default ingest_step_1). Without a key it starts the
// fake server of package stewaitest in-process and says so, so it always
// works, offline and with no account.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	recipeID := env("STEWAI_RECIPE_ID", "01JEXAMPLE00000000000000000")
	var client *stewai.Client
	if os.Getenv("STEWAI_API_KEY") != "" {
		if os.Getenv("STEWAI_RECIPE_ID") == "" {
			return errors.New("STEWAI_API_KEY is set: set STEWAI_RECIPE_ID to one of your recipes too")
		}
		c, err := stewai.NewClient()
		if err != nil {
			return err
		}
		client = c
		fmt.Fprintln(out, "Using the StewAI API with your STEWAI_API_KEY.")
	} else {
		// The recipe moves on with each poll, so every status shows.
		srv := stewaitest.NewServer(stewaitest.WithRecipe(recipeID, stewaitest.Recipe{}))
		defer srv.Close()
		client = srv.Client()
		fmt.Fprintf(out, "STEWAI_API_KEY is not set: using an embedded fake StewAI server at %s.\n", srv.URL)
	}

	fmt.Fprintf(out, "Creating a run of recipe %s...\n", recipeID)
	run, err := client.Runs.Create(ctx, stewai.CreateRunParams{
		RecipeID: recipeID,
		Inputs:   map[string]string{"company_name": "Acme Corp", "industry": "Technology"},
		Ingest: map[string][]stewai.IngestSource{
			env("STEWAI_INGEST_STEP", "ingest_step_1"): {stewai.URLSource("https://example.com/report.pdf")},
		},
	}, stewai.OnStatusChange(func(r *stewai.Run) {
		fmt.Fprintf(out, "  run %s: %s\n", r.ID, r.Status)
	}))
	var runErr *stewai.RunError
	switch {
	case errors.As(err, &runErr):
		fmt.Fprintf(out, "The run ended %s; its steps say why:\n", runErr.Run.Status)
	case err != nil:
		return err
	default:
		fmt.Fprintf(out, "Done in %d ms.\n", run.DurationMS)
	}

	steps, err := client.Runs.Steps(ctx, run.ID)
	if err != nil {
		return err
	}
	for _, step := range steps.Steps {
		fmt.Fprintf(out, "\n[%s] %s (%s): %s\n", step.ID, step.Title, step.Kind, step.Status)
		printOutput(out, step.Output)
	}
	u := steps.Usage()
	fmt.Fprintf(out, "\nUsage: %d input + %d output = %d tokens, cost %.4f\n", u.InputTokens, u.OutputTokens, u.TotalTokens, u.Cost)
	return nil
}

// printOutput shows a step's primary output according to its type.
func printOutput(out io.Writer, o stewai.StepOutput) {
	switch o.Type {
	case stewai.OutputText:
		text, _ := o.Text()
		fmt.Fprintln(out, "  "+text)
	case "", stewai.OutputNone:
		fmt.Fprintln(out, "  (no output)")
	default: // json, media, tool_calls: show the JSON
		var v any
		if err := o.Decode(&v); err != nil {
			fmt.Fprintf(out, "  %s output: %s\n", o.Type, o.Primary)
			return
		}
		b, _ := json.MarshalIndent(v, "  ", "  ")
		fmt.Fprintf(out, "  %s output: %s\n", o.Type, b)
	}
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
