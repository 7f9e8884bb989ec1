package stewai

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkGet measures what the SDK adds to one call over a hand-written
// net/http request and decode of the same run, against the same server in
// the same run:
//
//	go test -run '^$' -bench BenchmarkGet -benchmem .
func BenchmarkGet(b *testing.B) {
	env := setup(b)
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, runJSON("r1", StatusRunning))
	})
	ctx := context.Background()
	url := env.server.URL + "/v1/runs/r1/"

	hc := &http.Client{}
	raw := func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		var run struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(body, &run); err != nil || run.ID != "r1" {
			b.Fatal(err)
		}
	}
	client, err := NewClient(WithAPIKey(testKey), WithBaseURL(env.server.URL+"/v1")) // the real clock, as users have
	if err != nil {
		b.Fatal(err)
	}
	sdk := func() {
		run, err := client.Runs.Get(ctx, "r1")
		if err != nil || run.ID != "r1" {
			b.Fatal(err)
		}
	}
	b.Run("baseline net/http", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			raw()
		}
	})
	b.Run("stewai Runs.Get", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			sdk()
		}
	})
	// The same number of calls each way, in the same run: the process's
	// CPU (client and server) per SDK call over per raw call.
	b.Run("cpu ratio", func(b *testing.B) {
		b.ReportMetric(cpuRatio(b.N, raw, sdk), "cpu-x-raw")
	})
}

// cpuRatio is the CPU of n calls of sdk over that of n calls of raw, in
// up to 32 alternating blocks so that drift in the machine's load hits
// both alike, after one warm-up call of each.
func cpuRatio(n int, raw, sdk func()) float64 {
	raw()
	sdk()
	rounds := max(1, min(n, 32))
	per := max(1, n/rounds)
	var r, s time.Duration
	for range rounds {
		r += cpuOf(per, raw)
		s += cpuOf(per, sdk)
	}
	return float64(s) / float64(r)
}

// cpuOf is the CPU time n calls of f take.
func cpuOf(n int, f func()) time.Duration {
	start := cpuTime()
	for range n {
		f()
	}
	return cpuTime() - start
}

// BenchmarkUploadStream compares uploading a one-shot stream of 64 MiB
// with the SDK against a hand-written streaming multipart upload (io.Pipe
// and mime/multipart), to the same server in the same run, and reports the
// process's CPU per SDK upload over per raw upload:
//
//	go test -run '^$' -bench BenchmarkUploadStream -benchtime 20x .
//
// STEWAI_BENCH_UPLOAD_MIB sets the size (default 64). Each sub-benchmark
// also reports the process's peak RSS so far (Linux), so run one at a time
// for a clean figure:
//
//	STEWAI_BENCH_UPLOAD_MIB=1024 go test -run '^$' -bench 'BenchmarkUploadStream/stewai' -benchtime 2x .
func BenchmarkUploadStream(b *testing.B) {
	size := int64(64 << 20)
	if mib, err := strconv.Atoi(os.Getenv("STEWAI_BENCH_UPLOAD_MIB")); err == nil && mib > 0 {
		size = int64(mib) << 20
	}
	env := setup(b)
	countingUploadServer(env)
	ctx := context.Background()
	url := env.server.URL + "/v1/storage/upload/"
	hc := &http.Client{}
	raw := func() {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			part, err := mw.CreateFormFile("file", "big.bin")
			if err == nil {
				_, err = io.Copy(part, io.LimitReader(zeroReader{}, size))
			}
			if err == nil {
				err = mw.Close()
			}
			pw.CloseWithError(err)
		}()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, pr)
		req.Header.Set("Authorization", "Bearer "+testKey)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	sdk := func() {
		if _, err := env.client.Storage.Upload(ctx, io.LimitReader(zeroReader{}, size), "big.bin"); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("baseline multipart", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			raw()
		}
		reportPeakRSS(b)
	})
	b.Run("stewai Upload", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			sdk()
		}
		reportPeakRSS(b)
	})
	b.Run("cpu ratio", func(b *testing.B) {
		b.ReportMetric(cpuRatio(b.N, raw, sdk), "cpu-x-raw")
	})
}

// zeroReader reads zeros forever.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// reportPeakRSS reports the process's peak resident set size so far, where
// the system tells it (Linux).
func reportPeakRSS(b *testing.B) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB")); err == nil {
				b.ReportMetric(float64(kb)/1024, "peak-rss-MiB")
			}
		}
	}
}

// BenchmarkConcurrentWaits compares n concurrent waits on one default
// client with n raw polling loops (net/http + encoding/json, on a transport
// with the same 64-connection cap, sleeping the same un-jittered schedule),
// against one server that answers running for 4 polls, then done. Each
// benchmark iteration is one round of each, alternating, so that drift in
// the machine's load hits both alike. It reports the most connections
// either opened in a round (idle ones are closed between rounds), the
// highest peak heap and the CPU ratio over all rounds:
//
//	go test -run '^$' -bench BenchmarkConcurrentWaits -benchtime 5x .
func BenchmarkConcurrentWaits(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchmarkConcurrentWaits(b, n) })
	}
}

func benchmarkConcurrentWaits(b *testing.B, n int) {
	const pollsToDone = 5
	polls := make([]atomic.Int32, n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/runs/"), "/")
		i, _ := strconv.Atoi(id)
		status := StatusRunning
		if polls[i].Add(1) >= pollsToDone {
			status = StatusDone
		}
		writeJSON(w, http.StatusOK, runJSON(id, status))
	}))
	defer srv.Close()
	const initial, maxDelay = 5 * time.Millisecond, 20 * time.Millisecond
	ctx := context.Background()

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxConnsPerHost, transport.MaxIdleConnsPerHost = DefaultMaxConnsPerHost, DefaultMaxConnsPerHost
	hc := &http.Client{Transport: transport}
	rawWait := func(i int) {
		delay := initial
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/runs/%d/", srv.URL, i), nil)
			req.Header.Set("Authorization", "Bearer "+testKey)
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			var run struct{ Status Status }
			err = json.NewDecoder(resp.Body).Decode(&run)
			resp.Body.Close()
			if err != nil || run.Status == StatusDone {
				return
			}
			time.Sleep(delay)
			delay = min(delay*3/2, maxDelay)
		}
	}
	client, err := NewClient(WithAPIKey(testKey), WithBaseURL(srv.URL+"/v1"))
	if err != nil {
		b.Fatal(err)
	}
	sdkWait := func(i int) {
		if _, err := client.Runs.Wait(ctx, strconv.Itoa(i), WithPollInterval(initial), WithMaxPollInterval(maxDelay)); err != nil {
			b.Error(err)
		}
	}

	type way struct {
		name        string
		wait        func(int)
		transport   *http.Transport
		dials       atomic.Int64 // connections the client opened this round
		cpu         time.Duration
		conns, peak int64 // the most of any round
	}
	ways := []*way{{name: "raw", wait: rawWait, transport: transport},
		{name: "sdk", wait: sdkWait, transport: client.core.http.Transport.(*http.Transport)}}
	for _, w := range ways { // count on the client: a late dial of one is not the other's
		dial := w.transport.DialContext
		w.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			w.dials.Add(1)
			return dial(ctx, network, addr)
		}
	}
	for range b.N {
		for _, w := range ways {
			for i := range polls {
				polls[i].Store(0)
			}
			w.transport.CloseIdleConnections() // each round opens its own connections
			w.dials.Store(0)
			cpu, peak := measureWaits(n, w.wait)
			w.cpu += cpu
			w.conns, w.peak = max(w.conns, w.dials.Load()), max(w.peak, int64(peak))
		}
	}
	for _, w := range ways {
		b.ReportMetric(float64(w.conns), w.name+"-conns")
		b.ReportMetric(float64(w.peak)/(1<<20), w.name+"-peak-heap-MiB")
	}
	b.ReportMetric(float64(ways[1].cpu)/float64(ways[0].cpu), "cpu-x-raw")
}

// measureWaits runs n waits at once and returns the CPU they took and the
// peak heap growth seen while they ran (sampled every 5 ms).
func measureWaits(n int, wait func(int)) (time.Duration, uint64) {
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-t.C:
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > base.HeapAlloc && m.HeapAlloc-base.HeapAlloc > peak.Load() {
					peak.Store(m.HeapAlloc - base.HeapAlloc)
				}
			case <-stop:
				return
			}
		}
	}()
	start := cpuTime()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); wait(i) }()
	}
	wg.Wait()
	cpu := cpuTime() - start
	close(stop)
	<-sampled
	return cpu, peak.Load()
}
