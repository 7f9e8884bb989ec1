package stewaitest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
)

// A run that ends blocked after two polls, and the error a caller sees.
func ExampleServer() {
	srv := stewaitest.NewServer(stewaitest.WithRecipe("r", stewaitest.Recipe{Final: stewai.StatusBlocked}))
	defer srv.Close()
	_, err := srv.Client().Runs.Create(context.Background(), stewai.CreateRunParams{RecipeID: "r"})
	fmt.Println(errors.Is(err, stewai.ErrRunBlocked))
	// Output: true
}

// Faults test how code copes with a misbehaving service: here two 503s with
// Retry-After on the create, which the client retries.
func ExampleServer_Inject() {
	srv := stewaitest.NewServer()
	defer srv.Close()
	srv.Inject(stewaitest.Fault{Method: "POST", Path: "runs/", Times: 2, Status: 503,
		Header: http.Header{"Retry-After": {"1"}}})

	run, err := srv.Client().Runs.Create(context.Background(), stewai.CreateRunParams{RecipeID: "r"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(run.Status)
	for _, r := range srv.Requests() {
		fmt.Println(r.Method, strings.ReplaceAll(r.Path, run.ID, "{id}"), r.Status)
	}
	// Output:
	// done
	// POST runs/ 503
	// POST runs/ 503
	// POST runs/ 202
	// GET runs/{id}/ 200
}
