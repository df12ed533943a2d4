package otelthrottle_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/otelthrottle"
)

// BenchmarkObserve measures what OpenTelemetry costs per request: one GET
// through a Session on a loopback server, with no observer (impl=none),
// with Observe on the metrics SDK (impl=metrics), and with a tracer
// provider too (impl=metrics+spans). These attempts wait for nothing, so
// they make no throttle.wait span: a span costs only an attempt that
// waited, and the wait costs far more than the span.
func BenchmarkObserve(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	defer tp.Shutdown(context.Background())
	for _, impl := range []struct {
		name string
		opts []throttle.Option
	}{
		{"none", nil},
		{"metrics", []throttle.Option{otelthrottle.Observe(otelthrottle.WithMeterProvider(mp))}},
		{"metrics+spans", []throttle.Option{otelthrottle.Observe(otelthrottle.WithMeterProvider(mp), otelthrottle.WithTracerProvider(tp))}},
	} {
		s, err := throttle.NewSession(impl.opts...)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := s.Get(context.Background(), srv.URL)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		s.Close()
	}
}
