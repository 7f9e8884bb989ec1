package stewai

import (
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
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
// alternating blocks so that drift in the machine's load hits both alike.
func cpuRatio(n int, raw, sdk func()) float64 {
	const rounds = 8
	per := max(1, n/rounds)
	var r, s time.Duration
	for range rounds {
		r += cpuOf(per, raw)
		s += cpuOf(per, sdk)
	}
	return float64(s) / float64(r)
}

// cpuOf is the CPU time n calls of f take, after a warm-up.
func cpuOf(n int, f func()) time.Duration {
	for range min(n, 2) {
		f()
	}
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
