package stewai_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
)

// One client shared by 1,000 goroutines, each creating its own run, polling
// it, waiting for it and reading its steps: every goroutine must get its own
// results. Run under -race in CI.
func TestOneClientThousandGoroutines(t *testing.T) {
	const workers = 1000
	srv := stewaitest.NewServer(stewaitest.WithRecipe("r", stewaitest.Recipe{}))
	defer srv.Close()
	// A realistic pool: 1,000 connections at once would need more file
	// descriptors than many machines allow a test.
	transport := &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}
	defer transport.CloseIdleConnections()
	client := srv.Client(stewai.WithHTTPClient(&http.Client{Transport: transport}))

	ctx := context.Background()
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- worker(ctx, client, i)
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			if failed <= 5 {
				t.Error(err)
			}
		}
	}
	assert.Zero(t, failed)
	assert.Len(t, srv.Runs(), workers, "one run per goroutine, no more")
}

func worker(ctx context.Context, c *stewai.Client, i int) error {
	me := fmt.Sprintf("worker-%d", i)
	run, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r", Inputs: map[string]string{"who": me}}, stewai.NoWait())
	if err != nil {
		return fmt.Errorf("%s: create: %w", me, err)
	}
	got, err := c.Runs.Get(ctx, run.ID)
	if err != nil || got.ID != run.ID {
		return fmt.Errorf("%s: get: %v (%v)", me, err, got)
	}
	done, err := c.Runs.Wait(ctx, run.ID)
	if err != nil || done.Status != stewai.StatusDone || done.ID != run.ID {
		return fmt.Errorf("%s: wait: %v (%v)", me, err, done)
	}
	steps, err := c.Runs.Steps(ctx, run.ID)
	if err != nil {
		return fmt.Errorf("%s: steps: %w", me, err)
	}
	text, _ := steps.Steps[0].Output.Text()
	if !strings.Contains(text, "who="+me+".") {
		return fmt.Errorf("%s: got another run's output: %q", me, text)
	}
	return nil
}
