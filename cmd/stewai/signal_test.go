package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// signalCmd is the scripts' "signal SIG PATTERN WANT stewai ARGS...": it
// starts the command, waits until its stderr matches PATTERN (NONE: sends
// at once), sends it SIGINT (INT) or SIGTERM (TERM), and checks that it
// exits with status WANT; its stdout and stderr are then the script's.
func signalCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 4 || neg {
		ts.Fatalf("usage: signal INT|TERM PATTERN WANT stewai ARGS...")
	}
	sig := map[string]os.Signal{"INT": os.Interrupt, "TERM": syscall.SIGTERM}[args[0]]
	if sig == nil {
		ts.Fatalf("unknown signal %s", args[0])
	}
	var pattern *regexp.Regexp
	if args[1] != "NONE" {
		pattern = regexp.MustCompile(args[1])
	}
	want, err := strconv.Atoi(args[2])
	ts.Check(err)
	path, err := exec.LookPath(args[3])
	ts.Check(err)
	cmd := exec.Command(path, args[4:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = os.Environ()
	for _, k := range []string{"STEWAI_BASE_URL", "STEWAI_API_KEY", "HOME", "NO_COLOR", "TERM"} {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stdin = strings.NewReader("")
	if ts.Getenv("SIGNAL_STDIN_PIPE") != "" { // a stdin that never ends
		r, w, err := os.Pipe()
		ts.Check(err)
		defer w.Close()
		defer r.Close()
		cmd.Stdin = r
	}
	errPipe, err := cmd.StderrPipe()
	ts.Check(err)
	ts.Check(cmd.Start())
	var stderr bytes.Buffer
	matched := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(errPipe)
		once := false
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
			if !once && pattern != nil && pattern.MatchString(stderr.String()) {
				once = true
				close(matched)
			}
		}
	}()
	if pattern != nil {
		select {
		case <-matched:
		case <-copied:
		case <-time.After(20 * time.Second):
		}
	} else {
		time.Sleep(300 * time.Millisecond) // the command is up and doing its work
	}
	ts.Check(cmd.Process.Signal(sig))
	<-copied
	err = cmd.Wait()
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else {
		ts.Check(err)
	}
	ts.Stdout().Write(stdout.Bytes())
	ts.Stderr().Write(stderr.Bytes())
	if got != want {
		ts.Fatalf("exit status %d, want %d; stderr:\n%s", got, want, stderr.String())
	}
}
