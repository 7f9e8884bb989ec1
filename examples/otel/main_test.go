package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// A create and each of its polls are recorded as client spans, one per
// request the server received, in order, with method, status and path.
func TestSpansForCreateAndPolls(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(context.Background())
	srv := stewaitest.NewServer(stewaitest.WithRecipe("r", stewaitest.Recipe{
		Statuses: []stewai.Status{stewai.StatusQueued, stewai.StatusRunning, stewai.StatusRunning},
	}))
	defer srv.Close()
	client := srv.Client(stewai.WithMiddleware(Tracing(tp, propagation.TraceContext{})))
	defer client.CloseIdleConnections()

	run, err := client.Runs.Create(context.Background(), stewai.CreateRunParams{RecipeID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != stewai.StatusDone {
		t.Fatalf("status %s", run.Status)
	}
	reqs := srv.Requests()
	got := spans.GetSpans()
	if len(reqs) != 4 || len(got) != len(reqs) {
		t.Fatalf("%d requests (want a create and 3 polls), %d spans: want one span per request", len(reqs), len(got))
	}
	for i, s := range got {
		wantMethod := http.MethodGet
		if i == 0 {
			wantMethod = http.MethodPost
		}
		wantName := "stewai " + wantMethod + " /v1/" + reqs[i].Path
		if reqs[i].Method != wantMethod || s.Name != wantName {
			t.Errorf("span %d: %q for request %s %s, want %q", i, s.Name, reqs[i].Method, reqs[i].Path, wantName)
		}
		if s.SpanKind != trace.SpanKindClient {
			t.Errorf("span %d: kind %s", i, s.SpanKind)
		}
		attrs := map[attribute.Key]attribute.Value{}
		for _, a := range s.Attributes {
			attrs[a.Key] = a.Value
		}
		if m := attrs["http.request.method"].AsString(); m != wantMethod {
			t.Errorf("span %d: http.request.method %q", i, m)
		}
		if code := attrs["http.response.status_code"].AsInt64(); code != int64(reqs[i].Status) {
			t.Errorf("span %d: status %d, the server answered %d", i, code, reqs[i].Status)
		}
		if reqs[i].Header.Get("Traceparent") == "" {
			t.Errorf("request %d carried no traceparent header", i)
		}
	}
}

// The example runs without a key, against the fake.
func TestRun(t *testing.T) {
	t.Setenv("STEWAI_API_KEY", "")
	var out testWriter
	if err := run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no output")
	}
}

type testWriter []byte

func (w *testWriter) Write(b []byte) (int, error) { *w = append(*w, b...); return len(b), nil }
