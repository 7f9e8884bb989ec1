package stewai

import (
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
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
	sdk := func() {
		run, err := env.client.Runs.Get(ctx, "r1")
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
		rawCPU, sdkCPU := cpuOf(b.N, raw), cpuOf(b.N, sdk)
		b.ReportMetric(float64(sdkCPU)/float64(rawCPU), "cpu-x-raw")
	})
}

// cpuOf is the CPU time n calls of f take, after a warm-up.
func cpuOf(n int, f func()) time.Duration {
	for range min(n, 10) {
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
func BenchmarkUploadStream(b *testing.B) {
	const size = 64 << 20
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
	})
	b.Run("stewai Upload", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			sdk()
		}
	})
	b.Run("cpu ratio", func(b *testing.B) {
		rawCPU, sdkCPU := cpuOf(b.N, raw), cpuOf(b.N, sdk)
		b.ReportMetric(float64(sdkCPU)/float64(rawCPU), "cpu-x-raw")
	})
}

// zeroReader reads zeros forever.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
