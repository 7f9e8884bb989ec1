// Command ingest uploads a local file to the StewAI Pantry with a progress
// bar, runs a recipe that ingests it, and prints the result.
//
//	go run ./examples/ingest [FILE]
//
// Without FILE it uploads a generated 8 MiB sample. With STEWAI_API_KEY set
// it uses the real API, running STEWAI_RECIPE_ID with the file in the ingest
// step STEWAI_INGEST_STEP (default ingest_step_1); otherwise it uses an
// embedded fake server (package stewaitest).
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, isTerminal(os.Stdout)); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer, terminal bool) error {
	if len(args) > 1 {
		return errors.New("usage: ingest [FILE]")
	}
	var client *stewai.Client
	recipeID := env("STEWAI_RECIPE_ID", "01JEXAMPLE00000000000000000")
	if os.Getenv("STEWAI_API_KEY") != "" {
		if os.Getenv("STEWAI_RECIPE_ID") == "" {
			return errors.New("STEWAI_API_KEY is set: set STEWAI_RECIPE_ID to one of your recipes too")
		}
		c, err := stewai.NewClient()
		if err != nil {
			return err
		}
		client = c
	} else {
		srv := stewaitest.NewServer()
		defer srv.Close()
		client = srv.Client()
		fmt.Fprintln(out, "STEWAI_API_KEY is not set: using an embedded fake StewAI server.")
	}

	var file *stewai.File
	bar := &progressBar{out: out, terminal: terminal}
	var err error
	if len(args) == 1 {
		file, err = client.Storage.UploadFile(ctx, args[0], stewai.WithProgress(bar.update))
	} else {
		sample := bytes.Repeat([]byte("StewAI sample document line.\n"), 8<<20/29)
		file, err = client.Storage.Upload(ctx, bytes.NewReader(sample), "sample.txt", stewai.WithProgress(bar.update))
	}
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Uploaded %s (%d bytes) as %s\n", file.Filename, file.SizeBytes, file.URI)

	run, err := client.Runs.Create(ctx, stewai.CreateRunParams{
		RecipeID: recipeID,
		Inputs:   map[string]string{"question": "What does " + filepath.Base(file.Filename) + " say?"},
		Ingest:   map[string][]stewai.IngestSource{env("STEWAI_INGEST_STEP", "ingest_step_1"): {file.IngestSource(file.Filename)}},
	})
	if err != nil {
		return err
	}
	steps, err := client.Runs.Steps(ctx, run.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Run %s: %s\n", run.ID, run.Status)
	for _, step := range steps.Steps {
		if text, ok := step.Output.Text(); ok {
			fmt.Fprintf(out, "  %s: %s\n", step.Title, text)
		} else {
			fmt.Fprintf(out, "  %s: %s output %s\n", step.Title, step.Output.Type, step.Output.Primary)
		}
	}
	return nil
}

// progressBar draws upload progress on a terminal, redrawing one line; on
// anything else it stays quiet until the end.
type progressBar struct {
	out      io.Writer
	terminal bool
	last     int // last percentage drawn
	sent     int64
}

func (p *progressBar) update(sent, total int64) {
	p.sent = sent
	if !p.terminal {
		return
	}
	if total <= 0 {
		fmt.Fprintf(p.out, "\rUploading... %.1f MiB", float64(sent)/(1<<20))
		return
	}
	pct := int(sent * 100 / total)
	if pct == p.last && sent != total {
		return
	}
	p.last = pct
	const width = 30
	done := pct * width / 100
	fmt.Fprintf(p.out, "\rUploading [%s%s] %3d%% %.1f/%.1f MiB",
		strings.Repeat("#", done), strings.Repeat(" ", width-done), pct, float64(sent)/(1<<20), float64(total)/(1<<20))
}

func (p *progressBar) finish() {
	if p.terminal {
		fmt.Fprintln(p.out)
	} else {
		fmt.Fprintf(p.out, "Uploaded %.1f MiB\n", float64(p.sent)/(1<<20))
	}
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
