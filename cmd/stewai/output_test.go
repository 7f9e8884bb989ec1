package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stewai/stewai-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"running":                    "running",
		"\x1b]0;title\x07":           `\x1b]0;title\x07`,
		"\x1b]52;c;cGF5bG9hZA==\x07": `\x1b]52;c;cGF5bG9hZA==\x07`,
		"a\rb\nc\td":                 `a\x0db\x0ac\x09d`,
		"csi\u009b2Kosc\u009dx":      `csi\u009b2Kosc\u009dx`,
		"del\x7f":                    `del\x7f`,
		"bad\xffutf8":                `bad\xffutf8`,
		"sep\u2028":                  `sep\u2028`,
		"Zürich ✓":                   "Zürich ✓",
	} {
		assert.Equal(t, want, clean(in), "%q", in)
	}
	assert.Equal(t, "line 1\nline\t2 \\x1b[2K", cleanText("line 1\nline\t2 \x1b[2K"))
}

func TestEscapeJSON(t *testing.T) {
	assert.Equal(t, `{"a":"x\u009by\u007f\ufffd"}`, string(escapeJSON([]byte("{\"a\":\"x\u009by\x7f\xff\"}"))))
	assert.Equal(t, `{"a":"Zürich"}`, string(escapeJSON([]byte(`{"a":"Zürich"}`))))
}

// Errors speak the command's language: no Go option names, no doubled
// prefix, no key.
func TestMessage(t *testing.T) {
	err := fmt.Errorf("stewai: run r still queued: last poll: %w", errors.New("stewai: GET runs/r/: 503"))
	assert.Equal(t, "run r still queued: last poll: GET runs/r/: 503", message(err))
	assert.Equal(t, "missing API key: set STEWAI_API_KEY or pass --api-key", message(stewai.ErrMissingAPIKey))
	assert.Equal(t, "plain http needs --insecure-http", message(errors.New("stewai: plain http needs WithInsecureHTTP()")))
	assert.Equal(t, "--folder: x is not a ULID", message(errors.New("InFolder: x is not a ULID")))
	assert.Equal(t, `GET runs/r/: 400 Bad Request: \x1b]0;owned\x07 \u009b2K`, message(errors.New("stewai: GET runs/r/: 400 Bad Request: \x1b]0;owned\x07 \u009b2K")),
		"a server's message reaches the terminal escaped")
}

func TestRedact(t *testing.T) {
	c := newCLI(streams{getenv: func(k string) string {
		if k == "STEWAI_API_KEY" {
			return "envkey-123456"
		}
		return ""
	}})
	c.apiKey = "flagkey-98765"
	for _, s := range []string{
		"bad flag syntax: ---api-key=sk-live-abcdef",
		"unknown flag: --api-kee=whatever-secret",
		"got flagkey-98765 and envkey-123456",
		"token sk-live-xyz123 leaked",
	} {
		got := c.redact(s)
		for _, secret := range []string{"abcdef", "whatever-secret", "flagkey-98765", "envkey-123456", "xyz123"} {
			assert.NotContains(t, got, secret)
		}
	}
}

// notifyWriter reports, once, when what was written matches want.
type notifyWriter struct {
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if w.seen != nil && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
		w.seen = nil
	}
	return len(p), nil
}

// Lists print their rows as the pages arrive: the first page's rows are on
// stdout while the second page is still being fetched.
func TestListStreams(t *testing.T) {
	firstRow := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("page") == "2" {
			select { // the second page waits until the first page's row is printed
			case <-firstRow:
			case <-time.After(5 * time.Second):
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, `{"count":2,"next":null,"results":[{"id":"R2","recipe_id":"x","status":"done","created_at":"2026-01-15T10:30:00Z"}]}`)
			return
		}
		fmt.Fprintf(w, `{"count":2,"next":"http://%s/v1/runs/?page=2","results":[{"id":"R1","recipe_id":"x","status":"done","created_at":"2026-01-15T10:30:00Z"}]}`, r.Host)
	}))
	defer srv.Close()
	for _, json := range []bool{false, true} {
		firstRow = make(chan struct{})
		stdout := &notifyWriter{want: "R1", seen: firstRow}
		var stderr bytes.Buffer
		c := newCLI(streams{out: stdout, err: &stderr, in: &bytes.Buffer{}})
		args := []string{"list", "--base-url", srv.URL + "/v1", "--api-key", "k", "--request-timeout", "10s"}
		if json {
			args = append(args, "--json")
		}
		require.Equal(t, exitOK, c.main(context.Background(), args), stderr.String())
		sc := bufio.NewScanner(strings.NewReader(stdout.buf.String()))
		var ids []string
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) > 0 && strings.Contains(f[0], "R") {
				ids = append(ids, f[0])
			}
		}
		assert.Len(t, ids, 2, "%s", stdout.buf.String())
	}
}

// The command reads no file for -i, whatever the value's first character,
// and bounds what --input-file reads.
func TestInputs(t *testing.T) {
	c := newCLI(streams{in: io.LimitReader(zeros{}, maxInputFileBytes+10), out: io.Discard, err: io.Discard})
	root := c.rootCommand()
	cmd, _, err := root.Find([]string{"run"})
	require.NoError(t, err)
	cmd.SetContext(context.Background())
	o := &options{inputs: []string{"title=@/proc/self/environ", "z=@/dev/zero"}}
	got, err := c.inputs(cmd, o)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"title": "@/proc/self/environ", "z": "@/dev/zero"}, got)
	_, err = c.inputs(cmd, &options{inputFiles: []string{"big=-"}})
	assert.ErrorContains(t, err, "larger than 8 MiB")
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
