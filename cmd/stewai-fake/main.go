// Command stewai-fake serves the fake StewAI API of package stewaitest on an
// address of your choice, for clients in any language and for the stewai
// command:
//
//	go run ./cmd/stewai-fake --addr 127.0.0.1:8080 [--api-key KEY] [--scripts FILE.json] [--strict-files] [--quiet]
//
// It prints the base URL and key to use, as shell assignments, logs one line
// per request on stderr (unless --quiet), and serves until interrupted. Runs
// of recipes without a script are done 300 ms after creation with two
// steps; --scripts loads recipes, faults and the marketplace in the JSON
// format documented on stewaitest.Scripts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/stewai/stewai-go/stewaitest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(exitCode(run(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

// exitCode reports err on stderr and returns the command's exit status: 0
// when it served until interrupted or printed its help, 2 otherwise.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "stewai-fake:", err)
	return 2
}

const usage = `Usage: stewai-fake [flags]

Serves a fake StewAI API on loopback, in real time: the runs, storage,
recipes and marketplace endpoints of https://api.stewai.com/v1, strict about
the wire as the real service is. Runs of recipes without a script are done
300 ms after creation with two steps.

It prints the two variables that point a client at it; in another shell:

  export STEWAI_BASE_URL=http://127.0.0.1:8080/v1
  export STEWAI_API_KEY=sk-test-stewaitest
  go run ./examples/quickstart                    # the Go SDK
  stewai run 01JEXAMPLE00000000000000000          # the stewai command

Flags:
`

// run serves until ctx is done. Request log lines go to logw.
func run(ctx context.Context, args []string, out, logw io.Writer) error {
	fs := flag.NewFlagSet("stewai-fake", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usage)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	key := fs.String("api-key", stewaitest.DefaultAPIKey, "API key the server accepts")
	scripts := fs.String("scripts", "", "JSON file of recipes, faults and marketplace entries (see stewaitest.Scripts)")
	strict := fs.Bool("strict-files", false, "reject doc:// sources that were not uploaded")
	quiet := fs.Bool("quiet", false, "do not log requests on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	opts := []stewaitest.Option{stewaitest.WithRealTime(), stewaitest.WithAPIKey(*key)}
	if *strict {
		opts = append(opts, stewaitest.WithStrictFiles())
	}
	if !*quiet {
		opts = append(opts, stewaitest.WithAccessLog(logw))
	}
	if *scripts != "" {
		f, err := os.Open(*scripts)
		if err != nil {
			return err
		}
		scripted, err := stewaitest.ParseScripts(f)
		f.Close()
		if err != nil {
			return err
		}
		opts = append(opts, scripted...)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := stewaitest.NewServer(append(opts, stewaitest.WithListener(l))...)
	defer srv.Close()
	fmt.Fprintf(out, "STEWAI_BASE_URL=%s\nSTEWAI_API_KEY=%s\n", srv.URL, srv.APIKey)
	fmt.Fprintln(out, "# stewai-fake is serving; interrupt to stop")
	<-ctx.Done()
	return nil
}
