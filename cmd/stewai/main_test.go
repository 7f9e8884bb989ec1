package main

import (
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"go.uber.org/goleak"
)

// TestMain lets the scripts run the command as "stewai", in a child of the
// test binary, and checks that no goroutine outlives the tests. With
// STEWAI_CLI_MAIN=1 the test binary is the command (for the terminal tests).
func TestMain(m *testing.M) {
	if os.Getenv("STEWAI_CLI_MAIN") == "1" {
		os.Exit(mainStatus())
	}
	testscript.Main(leakChecked{m}, map[string]func(){
		"stewai": func() { os.Exit(mainStatus()) },
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

// scriptRecipes are the recipes of the scripts' fake StewAI.
func scriptRecipes() []stewaitest.Option {
	return []stewaitest.Option{
		stewaitest.WithRealTime(), stewaitest.WithStrictFiles(), stewaitest.WithSelfService(),
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
		stewaitest.WithRecipe("evil", stewaitest.Recipe{Statuses: []stewai.Status{"\x1b]0;pwned\x07queued"}, Name: "Evil \x1b]52;c;cGF5bG9hZA==\x07\x1b[2K name\u009b", Steps: []stewaitest.Step{
			{ID: "s1", Title: "Title \x1b]0;owned\x07", Kind: "llm_simple", Output: stewaitest.Text("text \x1b[2K\r\u009d evil")},
		}}),
		stewaitest.WithMarketplace(
			stewaitest.MarketplaceEntry{RecipeULID: "01JMARKET0000000000000000A", Name: "Invoice reader"},
			stewaitest.MarketplaceEntry{RecipeULID: "01JMARKET0000000000000000B", Name: "Contract checker"},
		),
	}
}

// fakeKey finds a script's fake server in its values.
type fakeKey struct{}

// faultCmd is the scripts' "fault METHOD PATH status=N|latency=D|drop
// [times=N]": the fake answers matching requests so.
func faultCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 || neg {
		ts.Fatalf("usage: fault METHOD PATH status=N|latency=D|drop [times=N]")
	}
	f := stewaitest.Fault{Method: args[0], Path: args[1]}
	for _, a := range args[2:] {
		k, v, _ := strings.Cut(a, "=")
		var err error
		switch k {
		case "status":
			f.Status, err = strconv.Atoi(v)
		case "times":
			f.Times, err = strconv.Atoi(v)
		case "latency":
			var d time.Duration
			d, err = time.ParseDuration(v)
			// Set by kind: Fault.Latency is becoming a time.Duration.
			reflect.ValueOf(&f.Latency).Elem().SetInt(int64(d))
		case "drop":
			f.Drop = true
		default:
			ts.Fatalf("unknown fault %s", a)
		}
		ts.Check(err)
	}
	ts.Value(fakeKey{}).(*stewaitest.Server).Inject(f)
}

// TestScripts runs testdata/script/*.txtar, each against a fake StewAI of
// its own, on real time (the command is a separate process): the scripted
// recipes end by polls, and the scripts poll every millisecond.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			srv := stewaitest.NewServer(scriptRecipes()...)
			env.Defer(srv.Close)
			env.Values[fakeKey{}] = srv
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
				srv := ts.Value(fakeKey{}).(*stewaitest.Server)
				before := len(srv.Requests())
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
				if sent := len(srv.Requests()) - before; want == exitUsage && sent > 0 {
					ts.Fatalf("exit status 2 after %d requests, want none sent", sent)
				}
			},
			"fault":  faultCmd,
			"signal": signalCmd,
		},
	})
}
