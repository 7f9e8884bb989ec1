// Command recipes lists the recipes your key can run, prints one's
// execution contract (its steps, in order, with their kinds), runs it, and
// prints its outputs by step.
//
//	go run ./examples/recipes
//
// With STEWAI_API_KEY set it uses the real API (STEWAI_BASE_URL to point
// elsewhere) and the recipe in STEWAI_RECIPE_ID, or else the first one
// listed. Without a key it starts the fake server of package stewaitest
// in-process, with two scripted recipes, and says so.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "recipes:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	client, cleanup, err := newClient(out)
	if err != nil {
		return err
	}
	defer cleanup()

	recipeID := os.Getenv("STEWAI_RECIPE_ID")
	fmt.Fprintln(out, "Your recipes:")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for recipe, err := range client.Recipes.All(ctx, stewai.ListRecipesParams{PageSize: 50}) {
		if err != nil {
			return fmt.Errorf("listing recipes: %w", err)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", recipe.ID, recipe.Name)
		if recipeID == "" {
			recipeID = recipe.ID
		}
	}
	tw.Flush()
	if recipeID == "" {
		return errors.New("the key has no recipes: set STEWAI_RECIPE_ID to one it can run")
	}

	if err := printContract(ctx, out, client, recipeID); err != nil {
		return err
	}

	fmt.Fprintf(out, "\nRunning %s:", recipeID)
	run, err := client.Runs.Create(ctx, stewai.CreateRunParams{
		RecipeID: recipeID,
		Inputs:   map[string]string{"topic": "quarterly results"},
	}, stewai.OnStatusChange(func(r *stewai.Run) { fmt.Fprintf(out, " %s", r.Status) }))
	fmt.Fprintln(out)
	if err != nil {
		return err
	}
	outputs, err := client.Runs.Outputs(ctx, run.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nOutputs of run %s:\n", run.ID)
	for _, id := range sortedKeys(outputs) {
		o := outputs[id]
		if text, ok := o.Text(); ok {
			fmt.Fprintf(out, "  %s: %s\n", id, text)
		} else {
			fmt.Fprintf(out, "  %s (%s): %s\n", id, o.Type, o.Primary)
		}
	}
	return nil
}

// printContract prints a recipe's steps in execution order.
func printContract(ctx context.Context, out io.Writer, client *stewai.Client, recipeID string) error {
	contract, err := client.Recipes.ExecutionContract(ctx, recipeID)
	if errors.Is(err, stewai.ErrNotFound) {
		fmt.Fprintf(out, "\n%s has no execution contract (only your own published recipes have one).\n", recipeID)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nExecution contract of %s (version %s):\n", recipeID, contract.ContractVersion)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for i, id := range contract.StepOrder {
		var step struct {
			Title     string   `json:"title"`
			Kind      string   `json:"kind"`
			DependsOn []string `json:"depends_on"`
		}
		_ = json.Unmarshal(contract.Steps[id], &step) // fields the step lacks stay empty
		fmt.Fprintf(tw, "  %d.\t%s\t%s\t%s", i+1, id, step.Kind, step.Title)
		if len(step.DependsOn) > 0 {
			fmt.Fprintf(tw, "\tafter %s", strings.Join(step.DependsOn, ", "))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// newClient returns a client of the real API when STEWAI_API_KEY is set,
// and of an embedded fake otherwise.
func newClient(out io.Writer) (*stewai.Client, func(), error) {
	if os.Getenv("STEWAI_API_KEY") != "" {
		c, err := stewai.NewClient()
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintln(out, "Using the StewAI API with your STEWAI_API_KEY.")
		return c, func() {}, nil
	}
	srv := stewaitest.NewServer(
		stewaitest.WithRecipe("01JRECIPE0REPORT000000000A", stewaitest.Recipe{Name: "Quarterly report", Steps: []stewaitest.Step{
			{ID: "ingest", Title: "Read the filings", Kind: "ingest", Output: stewaitest.NoOutput()},
			{ID: "summary", Title: "Summarize", Kind: "llm_simple", DependsOn: []string{"ingest"}, Output: stewaitest.Text("Revenue grew 12 %.")},
			{ID: "figures", Title: "Extract figures", Kind: "llm_json", DependsOn: []string{"ingest"}, Output: stewaitest.JSON(map[string]any{"revenue_growth": 0.12})},
		}}),
		stewaitest.WithRecipe("01JRECIPE0TRANSLATE000000B", stewaitest.Recipe{Name: "Translate"}),
	)
	fmt.Fprintf(out, "STEWAI_API_KEY is not set: using an embedded fake StewAI server at %s.\n", srv.URL)
	return srv.Client(), srv.Close, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
