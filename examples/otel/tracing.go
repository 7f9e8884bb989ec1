package main

import (
	"context"
	"net/http"

	"github.com/stewai/stewai-go"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracing returns a middleware that records a client span for every
// request a stewai client sends, polls and retries included, with tp, and
// sends the span's context along in the headers prop writes (such as
// traceparent, with propagation.TraceContext).
// Given to stewai.WithMiddleware, it runs inside the SDK's own transport:
// the connection cap and the shared pollers stay as they are.
func Tracing(tp trace.TracerProvider, prop propagation.TextMapPropagator) stewai.Middleware {
	// One otelhttp transport for all requests: the next step of each
	// request travels to it in the request's context.
	t := otelhttp.NewTransport(nextFromContext{},
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(prop),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return "stewai " + r.Method + " " + r.URL.Path
		}),
	)
	return func(req *http.Request, next stewai.MiddlewareNext) (*http.Response, error) {
		return t.RoundTrip(req.WithContext(context.WithValue(req.Context(), nextKey{}, next)))
	}
}

type nextKey struct{}

// nextFromContext sends a request on to the next step that Tracing put in
// its context.
type nextFromContext struct{}

func (nextFromContext) RoundTrip(req *http.Request) (*http.Response, error) {
	next := req.Context().Value(nextKey{}).(stewai.MiddlewareNext)
	return next(req)
}
