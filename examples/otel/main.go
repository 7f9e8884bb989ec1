// Command otel traces a StewAI client with OpenTelemetry: every request the
// client sends, the create and each poll of the wait, becomes a client span
// (otelhttp), through stewai.WithMiddleware, so the SDK's own transport,
// its connection cap and its shared pollers stay in place.
//
//	go run .
//
// With STEWAI_API_KEY set it uses the real API (STEWAI_BASE_URL to point
// elsewhere) and runs the recipe in STEWAI_RECIPE_ID; without a key it
// starts the fake server of package stewaitest in-process. The spans are
// kept in memory and printed at the end; in a service, give the tracer
// provider an exporter to your collector instead (otlptracegrpc, ...).
//
// This example is a Go module of its own, so that the SDK never depends on
// OpenTelemetry.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "otel:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(ctx)

	client, recipe, done, err := newClient(stewai.WithMiddleware(Tracing(tp, propagation.TraceContext{})))
	if err != nil {
		return err
	}
	defer done()
	run, err := client.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: recipe})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "run", run.ID, run.Status)
	for _, s := range spans.GetSpans() {
		fmt.Fprintln(out, "span:", s.Name, s.Status.Code)
	}
	return nil
}

// newClient returns a client for the real API when STEWAI_API_KEY is set,
// and for an in-process fake otherwise, with the recipe to run.
func newClient(opts ...stewai.Option) (*stewai.Client, string, func(), error) {
	if os.Getenv("STEWAI_API_KEY") != "" {
		c, err := stewai.NewClient(opts...)
		recipe := os.Getenv("STEWAI_RECIPE_ID")
		if err == nil && recipe == "" {
			err = fmt.Errorf("set STEWAI_RECIPE_ID to the recipe to run")
		}
		return c, recipe, func() {}, err
	}
	fmt.Fprintln(os.Stderr, "otel: STEWAI_API_KEY is not set: using an in-process fake server")
	srv := stewaitest.NewServer()
	c := srv.Client(opts...)
	return c, "01JEXAMPLE00000000000000000", func() { c.CloseIdleConnections(); srv.Close() }, nil
}
