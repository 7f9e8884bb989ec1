package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"go.uber.org/goleak"
)

// TestMain lets the scripts run the command as "stewai", in a child of the
// test binary, and checks that no goroutine outlives the tests.
func TestMain(m *testing.M) {
	testscript.Main(leakChecked{m}, map[string]func(){
		"stewai": func() {
			os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv("STEWAI_TEST_LIVE") != ""))
		},
	})
}

type leakChecked struct{ m *testing.M }

func (l leakChecked) Run() int {
	code := l.m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			return 1
		}
	}
	return code
}

// TestScripts runs testdata/script/*.txtar, each against a fake StewAI of
// its own, on real time (the command is a separate process): the scripted
// recipes end by polls, and the scripts poll every millisecond.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			srv := stewaitest.NewServer(stewaitest.WithRealTime(), stewaitest.WithStrictFiles(),
				stewaitest.WithRecipe("ok", stewaitest.Recipe{Statuses: []stewai.Status{}, Name: "Always done", Steps: []stewaitest.Step{
					{ID: "summary", Title: "Summarize", Kind: "llm_simple", Output: stewaitest.Text("All good.")},
					{ID: "figures", Title: "Extract", Kind: "llm_json", DependsOn: []string{"summary"}, Output: stewaitest.JSON(map[string]int{"growth": 12})},
					{ID: "quiet", Title: "Log", Kind: "tool", Output: stewaitest.NoOutput()},
				}}),
				stewaitest.WithRecipe("steady", stewaitest.Recipe{PollsPerStatus: 1, Name: "Queued, running, done"}),
				stewaitest.WithRecipe("fails", stewaitest.Recipe{Statuses: []stewai.Status{}, Final: stewai.StatusFailed}),
				stewaitest.WithRecipe("cancelled", stewaitest.Recipe{Statuses: []stewai.Status{}, Final: stewai.StatusCancelled}),
				stewaitest.WithRecipe("blocked", stewaitest.Recipe{Statuses: []stewai.Status{}, Final: stewai.StatusBlocked}),
				stewaitest.WithRecipe("forever", stewaitest.Recipe{Final: stewai.StatusRunning}),
			)
			env.Defer(srv.Close)
			env.Setenv("STEWAI_BASE_URL", srv.URL)
			env.Setenv("STEWAI_API_KEY", srv.APIKey)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// status N stewai ARGS...: runs the command and checks its exit
			// status is exactly N.
			"status": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 || neg {
					ts.Fatalf("usage: status N stewai ARGS...")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("%v", err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("exit status %d, want %d", got, want)
				}
			},
		},
	})
}
