// Command temporal runs a Temporal worker for the workflows and activities of
// package recipeflow, against a Temporal server, and can start a fan-out of
// recipe runs on it.
//
//	temporal server start-dev                          # a local Temporal server, in another terminal
//	STEWAI_API_KEY=sk-live-... go run .                # a worker, until interrupted
//	STEWAI_API_KEY=sk-live-... go run . -run 01JEXAMPLE00000000000000000,01JOTHER...
//	go run . -fake -run digest,summary -input company_name=Acme
//
// With -run it starts a worker, runs FanOutWorkflow over the recipes
// given, prints the results as JSON and exits (status 1 if a run did not
// end done). Kill it mid-run and start it again with the same -workflow-id:
// Temporal resumes the workflow, the waits resume from their heartbeats,
// and no run is started twice. With -fake it serves an embedded StewAI fake
// (package stewaitest, on real time) instead of the real API, so it works
// without a key; its runs live in the process, so resuming across a restart
// needs the real API. Running a -workflow-id that has ended prints its
// results again without starting anything.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/examples/temporal/recipeflow"
	"github.com/stewai/stewai-go/stewaitest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "temporal:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("temporal", flag.ContinueOnError)
	address := fs.String("address", client.DefaultHostPort, "Temporal server `host:port`")
	namespace := fs.String("namespace", client.DefaultNamespace, "Temporal `namespace`")
	taskQueue := fs.String("task-queue", "stewai-recipes", "task `queue` the worker polls and the workflow runs on")
	recipes := fs.String("run", "", "comma-separated recipe `ids`: start a fan-out of them, print the results and exit")
	workflowID := fs.String("workflow-id", "", "`id` of the fan-out workflow started by -run (default: a new one); reuse it to resume")
	fake := fs.Bool("fake", false, "serve an embedded StewAI fake instead of the real API (no key needed)")
	inputs := map[string]string{}
	fs.Func("input", "recipe input `NAME=VALUE` for every run of -run (repeatable)", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return errors.New("want NAME=VALUE")
		}
		inputs[name] = value
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var api *stewai.Client
	if *fake {
		// Real time: this fake serves a program, whose runs should take the
		// time they say, not the tests' virtual clock.
		srv := stewaitest.NewServer(stewaitest.WithRealTime())
		defer srv.Close()
		api = srv.Client(stewai.WithLogger(logger))
		logger.Info("serving an embedded StewAI fake", "url", srv.URL)
	} else {
		var err error
		if api, err = stewai.NewClient(stewai.WithLogger(logger)); err != nil {
			return fmt.Errorf("StewAI client (set STEWAI_API_KEY, or use -fake): %w", err)
		}
	}

	tc, err := client.Dial(client.Options{HostPort: *address, Namespace: *namespace, Logger: log.NewStructuredLogger(logger)})
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s (is `temporal server start-dev` running?): %w", *address, err)
	}
	defer tc.Close()

	w := worker.New(tc, *taskQueue, worker.Options{})
	w.RegisterWorkflow(recipeflow.RunRecipeWorkflow)
	w.RegisterWorkflow(recipeflow.FanOutWorkflow)
	w.RegisterActivity(&recipeflow.Activities{Client: api})

	if *recipes == "" {
		if err := w.Run(worker.InterruptCh()); err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		return nil
	}

	var reqs []recipeflow.RunRequest
	for _, id := range strings.Split(*recipes, ",") {
		if id = strings.TrimSpace(id); id != "" {
			reqs = append(reqs, recipeflow.RunRequest{RecipeID: id, Inputs: inputs})
		}
	}
	if len(reqs) == 0 {
		return errors.New("-run: no recipe id")
	}
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer w.Stop()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return fanOut(ctx, tc, *taskQueue, *workflowID, reqs)
}

// fanOut starts a FanOutWorkflow, or joins the one with that id if it was
// started before, and prints its results as JSON on stdout.
func fanOut(ctx context.Context, tc client.Client, taskQueue, id string, reqs []recipeflow.RunRequest) error {
	if id == "" {
		id = "stewai-fanout-" + time.Now().UTC().Format("20060102T150405.000000")
	}
	wr, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                taskQueue,
		WorkflowExecutionTimeout: 24 * time.Hour,
		// A workflow id names one fan-out: running it again after it ended
		// must not start its recipes again, so join the ended one instead.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, recipeflow.FanOutWorkflow, reqs)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		wr = tc.GetWorkflow(ctx, id, "")
	case err != nil:
		return fmt.Errorf("start workflow %s: %w", id, err)
	}
	fmt.Fprintf(os.Stderr, "workflow %s (run %s); interrupt and rerun with -workflow-id %s to resume\n", wr.GetID(), wr.GetRunID(), wr.GetID())
	var results []recipeflow.RunResult
	if err := wr.Get(ctx, &results); err != nil {
		if f, ok := recipeflow.RunFailureFrom(err); ok {
			return fmt.Errorf("workflow %s: run %s of %s: %s: %w", id, f.RunID, f.RecipeID, f.Status, err)
		}
		return fmt.Errorf("workflow %s: %w", id, err)
	}
	out, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the results: %w", err)
	}
	fmt.Println(string(out))
	for _, r := range results {
		if r.Error != "" {
			return fmt.Errorf("run %s of %s did not end done: %s", r.RunID, r.RecipeID, r.Error)
		}
	}
	return nil
}
