// Command benchcmd measures the SDK as users run it: a server in its own
// process (HTTPS with HTTP/2, and plain HTTP/1.1), and client processes
// doing the same work with the SDK or with net/http alone, to be timed as
// whole processes (for instance with /usr/bin/time -v) side by side.
//
//	go build -o /tmp/benchcmd ./bench
//	/tmp/benchcmd serve -dir /tmp/stewai-bench &   # writes addrs and cert.pem there
//	/tmp/benchcmd waits  -dir /tmp/stewai-bench -impl sdk -proto h2 -n 10000
//	/tmp/benchcmd waits  -dir /tmp/stewai-bench -impl raw -proto h2 -n 10000
//	/tmp/benchcmd get    -dir /tmp/stewai-bench -impl sdk -proto h1 -n 5000
//	/tmp/benchcmd upload -dir /tmp/stewai-bench -impl sdk -proto h2 -mib 1024
//
// Each client prints one line: what it did, the connections the server
// accepted for it (counted by the server, on http.Server.ConnState), and
// the client's peak Go heap and goroutine stacks. It is not part of the
// SDK and not run by go test.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchcmd serve|waits|get|upload [flags]")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = serve(args)
	case "waits":
		err = waits(args)
	case "get":
		err = get(args)
	case "upload":
		err = upload(args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcmd:", err)
		os.Exit(1)
	}
}
