// Command stewai runs StewAI recipes from shells, CI jobs and terminals:
// start a run, wait for it, read its steps and outputs, upload files, list
// runs and recipes, search and run marketplace recipes.
//
//	go install github.com/stewai/stewai-go/cmd/stewai@latest
//	export STEWAI_API_KEY=sk-live-...
//	stewai run 01JEXAMPLE00000000000000000 -i company_name=Acme --json | jq .status
//
// Exit status: 0 success (the run is done), 1 any other error, 2 bad usage
// or a bad value, 3 run failed, 4 run cancelled, 5 run blocked, 6 wait
// timed out, 130 interrupted (SIGINT), 143 terminated (SIGTERM). A timeout,
// an interrupt or a termination never cancels the run: the command prints
// its id and the command that resumes the wait. Run stewai --help for the
// commands.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"
)

// Exit statuses.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitFailed      = 3
	exitCancelled   = 4
	exitBlocked     = 5
	exitTimeout     = 6
	exitInterrupted = 130 // 128 + SIGINT
	exitTerminated  = 143 // 128 + SIGTERM
)

// signalCause is the cause of the command's context when a signal ends it.
type signalCause struct{ sig os.Signal }

func (s signalCause) Error() string {
	if s.sig == syscall.SIGTERM {
		return "terminated"
	}
	return "interrupted"
}

// status is the exit status a signal gives.
func (s signalCause) status() int {
	if s.sig == syscall.SIGTERM {
		return exitTerminated
	}
	return exitInterrupted
}

// forceExitAfter is how long the command has, after a signal, to report and
// exit on its own before it is made to (a read of a terminal or a pipe
// cannot be cancelled).
const forceExitAfter = 3 * time.Second

func main() {
	os.Exit(mainStatus())
}

func mainStatus() int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	c := newCLI(osStreams())
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		cause := signalCause{sig}
		cancel(cause)
		select { // a second signal, or too long: report what is known and go
		case <-sigs:
		case <-time.After(forceExitAfter):
		}
		os.Exit(c.abandon(cause))
	}()
	return c.main(ctx, os.Args[1:])
}

// osStreams are the process's standard streams.
func osStreams() streams {
	return streams{
		in: os.Stdin, out: os.Stdout, err: os.Stderr,
		outTerm: isTerminal(os.Stdout), errTerm: isTerminal(os.Stderr),
		width: func() int {
			if w, _, err := term.GetSize(int(os.Stderr.Fd())); err == nil && w > 0 {
				return w
			}
			return 0
		},
		getenv: os.Getenv,
	}
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// streams are what the command reads and writes, and what it knows of them.
type streams struct {
	in       io.Reader
	out, err io.Writer
	outTerm  bool                // stdout is a terminal
	errTerm  bool                // stderr is a terminal: waits show a live line
	width    func() int          // stderr's columns, 0 when unknown
	getenv   func(string) string // the environment
}
