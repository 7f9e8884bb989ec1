package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stewai/stewai-go"
)

const key = "sk_bench_0123456789"

// env is what every client command shares: the server's URLs, the command's
// flags, and a way to report.
type env struct {
	impl, proto string
	base, admin string
	peak        *peakMemory
	profile     *os.File
}

// setup parses the common flags (plus those fs already has), trusts the
// server's certificate in http.DefaultTransport (which the SDK's own
// transport clones, as a program with a private CA would), resets the
// server's counts and starts sampling memory.
func setup(fs *flag.FlagSet, args []string) (*env, error) {
	dir := fs.String("dir", "/tmp/stewai-bench", "the server's -dir")
	impl := fs.String("impl", "sdk", "sdk or raw")
	proto := fs.String("proto", "h2", "h2 (HTTPS, HTTP/2) or h1 (plain HTTP/1.1)")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the work to this file")
	fs.Parse(args)
	raw, err := os.ReadFile(filepath.Join(*dir, "addrs.json"))
	if err != nil {
		return nil, err
	}
	var addrs map[string]string
	if err := json.Unmarshal(raw, &addrs); err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(filepath.Join(*dir, "cert.pem"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	http.DefaultTransport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
	if *impl != "sdk" && *impl != "raw" || addrs[*proto] == "" {
		return nil, fmt.Errorf("-impl %q -proto %q: want sdk or raw, h2 or h1", *impl, *proto)
	}
	e := &env{impl: *impl, proto: *proto, base: addrs[*proto], admin: addrs["admin"]}
	if err := e.adminCall("/reset", nil); err != nil {
		return nil, err
	}
	e.peak = samplePeak()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		e.profile = f
	}
	return e, nil
}

// adminCall calls the server's admin listener, on a client of its own.
func (e *env) adminCall(path string, out any) error {
	resp, err := (&http.Client{Transport: &http.Transport{}}).Get(e.admin + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// sdkClient is a default client of the SDK on the server.
func (e *env) sdkClient() (*stewai.Client, error) {
	opts := []stewai.Option{stewai.WithAPIKey(key), stewai.WithBaseURL(e.base + "/v1")}
	if e.proto == "h1" {
		opts = append(opts, stewai.WithInsecureHTTP())
	}
	return stewai.NewClient(opts...)
}

// rawClient is net/http's default transport capped at 64 connections.
func rawClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxConnsPerHost, t.MaxIdleConnsPerHost = stewai.DefaultMaxConnsPerHost, stewai.DefaultMaxConnsPerHost
	return &http.Client{Transport: t}
}

// report prints what was done, with the server's connection count and the
// peak memory.
func (e *env) report(what string, start time.Time) error {
	heap, stacks := e.peak.stop()
	if e.profile != nil {
		pprof.StopCPUProfile()
		e.profile.Close()
	}
	var conns map[string]int64
	if err := e.adminCall("/stats", &conns); err != nil {
		return err
	}
	n := conns["plain"]
	if e.proto == "h2" {
		n = conns["tls"]
	}
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	fmt.Printf("%s impl=%s proto=%s conns=%d peak-heap-MiB=%.1f peak-stacks-MiB=%.1f wall=%s allocs=%d alloc-MiB=%.1f gcs=%d\n",
		what, e.impl, e.proto, n, float64(heap)/(1<<20), float64(stacks)/(1<<20), time.Since(start).Round(time.Millisecond),
		s[0].Value.Uint64(), float64(s[1].Value.Uint64())/(1<<20), s[2].Value.Uint64())
	return nil
}

// waits runs -n waits at once (5 ms first delay, 1.5x, up to 20 ms) of runs
// that are done at their fifth poll. The raw waits decode each poll's run
// as the SDK does (decodeRun): a wait returns the run.
func waits(args []string) error {
	fs := flag.NewFlagSet("waits", flag.ExitOnError)
	n := fs.Int("n", 10_000, "concurrent waits")
	e, err := setup(fs, args)
	if err != nil {
		return err
	}
	const initial, maxDelay = 5 * time.Millisecond, 20 * time.Millisecond
	ctx := context.Background()
	var wait func(i int) error
	if e.impl == "sdk" {
		c, err := e.sdkClient()
		if err != nil {
			return err
		}
		wait = func(i int) error {
			_, err := c.Runs.Wait(ctx, strconv.Itoa(i), stewai.WithPollInterval(initial), stewai.WithMaxPollInterval(maxDelay))
			return err
		}
	} else {
		hc := rawClient()
		wait = func(i int) error {
			for delay := initial; ; delay = min(delay*3/2, maxDelay) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/v1/runs/"+strconv.Itoa(i)+"/", nil)
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Accept", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					return err
				}
				run, err := decodeRun(resp)
				if err != nil || run.Status == "done" {
					return err
				}
				time.Sleep(delay)
			}
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, *n)
	for i := range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := wait(i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return e.report(fmt.Sprintf("waits n=%d", *n), start)
}

// benchRun is what the raw Get decodes: the five fields Run names, and the
// body kept whole.
type benchRun struct {
	ID         string    `json:"id"`
	RecipeID   string    `json:"recipe_id"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	DurationMS int64     `json:"duration_ms"`
	Raw        json.RawMessage
}

// decodeRun reads and closes resp's body, and decodes the run in it as
// the SDK's Run holds it: five fields, and the body whole.
func decodeRun(resp *http.Response) (*benchRun, error) {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	run := new(benchRun)
	if err := json.Unmarshal(body, run); err != nil {
		return nil, err
	}
	run.Raw = body
	return run, nil
}

// get makes -n sequential Runs.Get calls, or the same with net/http and
// encoding/json.
func get(args []string) error {
	fs := flag.NewFlagSet("get", flag.ExitOnError)
	n := fs.Int("n", 5_000, "sequential calls")
	e, err := setup(fs, args)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var call func() (string, error)
	if e.impl == "sdk" {
		c, err := e.sdkClient()
		if err != nil {
			return err
		}
		call = func() (string, error) {
			run, err := c.Runs.Get(ctx, "run1")
			if err != nil {
				return "", err
			}
			return run.ID, nil
		}
	} else {
		hc := &http.Client{Transport: http.DefaultTransport}
		url := e.base + "/v1/runs/run1/"
		call = func() (string, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Accept", "application/json")
			req.Header.Set("User-Agent", "stewai-go/bench")
			resp, err := hc.Do(req)
			if err != nil {
				return "", err
			}
			run, err := decodeRun(resp)
			if err != nil {
				return "", err
			}
			return run.ID, nil
		}
	}
	start := time.Now()
	for range *n {
		id, err := call()
		if err != nil {
			return err
		}
		if id != "run1" {
			return fmt.Errorf("got run %q", id)
		}
	}
	return e.report(fmt.Sprintf("get n=%d", *n), start)
}

// zeros reads zeros forever.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// upload sends -mib MiB of zeros as a stream of unknown length, with the
// SDK or with mime/multipart over an io.Pipe.
func upload(args []string) error {
	fs := flag.NewFlagSet("upload", flag.ExitOnError)
	mib := fs.Int64("mib", 1024, "MiB to upload")
	e, err := setup(fs, args)
	if err != nil {
		return err
	}
	size := *mib << 20
	ctx := context.Background()
	start := time.Now()
	var got int64
	if e.impl == "sdk" {
		c, err := e.sdkClient()
		if err != nil {
			return err
		}
		f, err := c.Storage.Upload(ctx, io.LimitReader(zeros{}, size), "big.bin")
		if err != nil {
			return err
		}
		got = f.SizeBytes
	} else {
		// The framing from mime/multipart, the content read by the
		// transport itself: no goroutine, no pipe.
		var head bytes.Buffer
		mw := multipart.NewWriter(&head)
		if _, err := mw.CreateFormFile("file", "big.bin"); err != nil {
			return err
		}
		tail := "\r\n--" + mw.Boundary() + "--\r\n"
		body := io.MultiReader(&head, io.LimitReader(zeros{}, size), strings.NewReader(tail))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.base+"/v1/storage/upload/", body)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var f struct {
			SizeBytes int64 `json:"size_bytes"`
		}
		err = json.NewDecoder(resp.Body).Decode(&f)
		resp.Body.Close()
		if err != nil {
			return err
		}
		got = f.SizeBytes
	}
	if got <= size {
		return fmt.Errorf("server got %d bytes, want over %d", got, size)
	}
	return e.report(fmt.Sprintf("upload mib=%d", *mib), start)
}

// peakMemory samples the heap's objects and the goroutine stacks every
// 5 ms (runtime/metrics, without stopping the world).
type peakMemory struct {
	done         chan struct{}
	stopped      sync.WaitGroup
	heap, stacks uint64
}

func samplePeak() *peakMemory {
	p := &peakMemory{done: make(chan struct{})}
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	p.stopped.Add(1)
	go func() {
		defer p.stopped.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			p.heap, p.stacks = max(p.heap, s[0].Value.Uint64()), max(p.stacks, s[1].Value.Uint64())
			select {
			case <-t.C:
			case <-p.done:
				return
			}
		}
	}()
	return p
}

func (p *peakMemory) stop() (heap, stacks uint64) {
	close(p.done)
	p.stopped.Wait()
	return p.heap, p.stacks
}
