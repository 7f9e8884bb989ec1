// Command stewai-fake serves the fake StewAI API of package stewaitest on an
// address of your choice, for clients in any language and for the stewai
// command:
//
//	go run ./cmd/stewai-fake --addr 127.0.0.1:8080 [--api-key KEY] [--scripts FILE.json]
//	    [--marketplace FILE.json] [--strict-files] [--strict-recipes] [--max-stored-bytes N] [--quiet]
//
// It prints the base URL and key to use, as shell assignments, logs one line
// per request on stderr (unless --quiet), and serves until interrupted. Runs
// of recipes without a script are done 300 ms after creation with two
// steps; --scripts loads recipes, faults and the marketplace in the JSON
// format documented on stewaitest.Scripts; --marketplace enables the
// marketplace from a JSON list of recipes (see the usage text).
//
// Its memory is bounded: it keeps at most --max-stored-bytes of uploaded
// content (64 MiB by default; an upload past it is answered 413) and the
// last 10,000 requests of its log, and (unless GOMEMLIMIT is set) it sets
// the Go runtime's soft memory limit to --max-stored-bytes plus 24 MiB.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
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
  export STEWAI_RECIPE_ID=01JEXAMPLE00000000000000000
  go run ./examples/quickstart                    # the Go SDK
  stewai run 01JEXAMPLE00000000000000000          # the stewai command

--marketplace FILE enables the marketplace with the recipes in FILE, a JSON
list of objects with recipe_ulid (required, unique), name and visibility
(default "public_open"); unknown fields are errors:

  [{"recipe_ulid": "01JMARKET0TAX0000000000000", "name": "Tax filing"},
   {"recipe_ulid": "01JMARKET0DIGEST0000000000", "name": "Digest", "visibility": "private"}]

Runs of those recipes use their ULID as recipe_id. --strict-recipes makes a
run of any other recipe (not in --scripts nor --marketplace) a 404, to catch
mistyped ids.

Memory is bounded: at most --max-stored-bytes of uploaded content is kept
(at most 1 MiB of each file; past the bound an upload is answered 413 and
earlier files are kept), and the log keeps the last 10,000 requests. Unless
GOMEMLIMIT is set, the Go runtime's soft memory limit is --max-stored-bytes
plus 24 MiB, so that the collector does not let the heap double.

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
	market := fs.String("marketplace", "", "JSON file listing the marketplace's recipes (format above); enables the marketplace")
	strict := fs.Bool("strict-files", false, "reject doc:// sources that were not uploaded")
	strictRecipes := fs.Bool("strict-recipes", false, "answer 404 to runs of recipes not in --scripts or --marketplace")
	maxStored := fs.Int64("max-stored-bytes", stewaitest.DefaultMaxStoredBytes, "bytes of uploaded content to keep at most; past it uploads are answered 413")
	quiet := fs.Bool("quiet", false, "do not log requests on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *maxStored < 0 {
		return fmt.Errorf("--max-stored-bytes must not be negative, not %d", *maxStored)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit(*maxStored))
	}
	opts := []stewaitest.Option{stewaitest.WithRealTime(), stewaitest.WithAPIKey(*key), stewaitest.WithMaxStoredBytes(*maxStored)}
	if *strict {
		opts = append(opts, stewaitest.WithStrictFiles())
	}
	if *strictRecipes {
		opts = append(opts, stewaitest.WithStrictRecipes())
	}
	if *market != "" {
		entries, err := readMarketplace(*market)
		if err != nil {
			return err
		}
		opts = append(opts, stewaitest.WithMarketplace(entries...))
	}
	if !*quiet {
		opts = append(opts, stewaitest.WithAccessLog(logw))
	}
	if *scripts != "" {
		f, err := os.Open(*scripts)
		if err != nil {
			return fmt.Errorf("--scripts: %w", err)
		}
		scripted, err := stewaitest.ParseScripts(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--scripts %s: %w", *scripts, err)
		}
		opts = append(opts, scripted...)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := stewaitest.NewServer(append(opts, stewaitest.WithListener(l))...)
	defer srv.Close()
	fmt.Fprintf(out, "STEWAI_BASE_URL=%s\nSTEWAI_API_KEY=%s\n", reachableURL(l.Addr(), srv.URL), srv.APIKey)
	fmt.Fprintln(out, "# stewai-fake is serving; interrupt to stop")
	<-ctx.Done()
	return nil
}

// reachableURL is the base URL a client on this machine can use: a server
// listening on every interface (0.0.0.0, [::]) is reached on loopback,
// which clients let the key travel to over plain http://.
func reachableURL(addr net.Addr, base string) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return base
	}
	return fmt.Sprintf("http://127.0.0.1:%d/v1", tcp.Port)
}

// memoryHeadroom is the memory the command allows itself beyond the
// uploaded content it keeps: the request log, runs, and the garbage of
// requests in flight.
const memoryHeadroom = 24 << 20

// memoryLimit is the Go runtime's soft memory limit for a fake that keeps
// maxStored bytes of uploads: without it the collector lets the heap grow
// to twice what is live, so a full store of 64 MiB would take 150 MiB.
func memoryLimit(maxStored int64) int64 {
	if maxStored > math.MaxInt64-memoryHeadroom {
		return math.MaxInt64
	}
	return maxStored + memoryHeadroom
}

// readMarketplace reads the --marketplace file: a JSON list of
// marketplace entries, each with a unique, non-empty recipe_ulid.
func readMarketplace(name string) ([]stewaitest.MarketplaceEntry, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("--marketplace: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var entries []stewaitest.MarketplaceEntry
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("--marketplace %s: want a JSON list of {\"recipe_ulid\", \"name\", \"visibility\"}: %w", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("--marketplace %s: unexpected data after the list", name)
	}
	seen := map[string]bool{}
	for i, e := range entries {
		switch {
		case strings.TrimSpace(e.RecipeULID) == "":
			return nil, fmt.Errorf("--marketplace %s: entry %d has no recipe_ulid", name, i)
		case seen[e.RecipeULID]:
			return nil, fmt.Errorf("--marketplace %s: recipe_ulid %q is listed twice", name, e.RecipeULID)
		}
		seen[e.RecipeULID] = true
	}
	return entries, nil
}
