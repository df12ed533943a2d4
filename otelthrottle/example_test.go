package otelthrottle_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/otelthrottle"
)

// Observe reports a session's limits as OpenTelemetry metrics; here a
// manual reader collects them after one request.
func ExampleObserve() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	s, err := throttle.NewSession(
		throttle.WithHostConcurrency(4),
		otelthrottle.Observe(otelthrottle.WithMeterProvider(mp)),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	resp, err := s.Get(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	var names []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			names = append(names, m.Name)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Println(n)
	}
	// Output:
	// http.client.active_requests
	// http.client.request.duration
	// throttle.client.limit
	// throttle.client.queued_requests
	// throttle.client.wait.duration
}
