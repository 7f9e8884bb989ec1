package stewai

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
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

	b.Run("baseline net/http", func(b *testing.B) {
		b.ReportAllocs()
		hc := &http.Client{}
		for i := 0; i < b.N; i++ {
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
	})
	b.Run("stewai Runs.Get", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			run, err := env.client.Runs.Get(ctx, "r1")
			if err != nil || run.ID != "r1" {
				b.Fatal(err)
			}
		}
	})
}
