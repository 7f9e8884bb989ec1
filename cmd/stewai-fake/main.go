// Command stewai-fake serves the fake StewAI API of package stewaitest on an
// address of your choice, for clients in any language:
//
//	go run ./cmd/stewai-fake --addr 127.0.0.1:8080 [--api-key KEY] [--scripts FILE.json]
//
// It prints the base URL and key to use, as shell assignments, and serves
// until interrupted. Runs of recipes without a script are done 300 ms after
// creation with two steps; --scripts loads recipes and faults in the JSON
// format documented on stewaitest.Scripts.
package main

import (
	"context"
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
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stewai-fake:", err)
		os.Exit(2)
	}
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("stewai-fake", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	key := fs.String("api-key", stewaitest.DefaultAPIKey, "API key the server accepts")
	scripts := fs.String("scripts", "", "JSON file of recipes and faults (see stewaitest.Scripts)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	opts := []stewaitest.Option{stewaitest.WithRealTime(), stewaitest.WithAPIKey(*key)}
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
