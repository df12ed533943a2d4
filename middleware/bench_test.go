package middleware_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-throttle/throttle/middleware"
)

// benchImpls returns the handler alone (impl=bare), behind a Throttler with
// a capacity only (impl=capacity), and behind one with a capacity and a
// rate limit (impl=throttled). The limits are never reached, so the
// differences are the overhead every admitted request pays; throttled also
// writes the two RateLimit fields into every response.
func benchImpls(b *testing.B, h http.Handler) []benchImpl {
	capOnly, err := middleware.New(middleware.WithCapacity(1 << 20))
	if err != nil {
		b.Fatal(err)
	}
	full, err := middleware.New(middleware.WithCapacity(1<<20), middleware.WithRateLimit(1<<30, time.Second))
	if err != nil {
		b.Fatal(err)
	}
	return []benchImpl{{"bare", h}, {"capacity", capOnly.Wrap(h)}, {"throttled", full.Wrap(h)}}
}

type benchImpl struct {
	name string
	h    http.Handler
}

// runImpls calls each implementation's ServeHTTP directly with a pre-built
// request that names a consumer and a priority, so no network is measured.
func runImpls(b *testing.B, h http.Handler) {
	for _, impl := range benchImpls(b, h) {
		b.Run("impl="+impl.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/api/items", nil)
			req.Header.Set("X-Service-Name", "billing")
			req.Header.Set("X-Request-Priority", "high")
			b.ReportAllocs()
			for b.Loop() {
				impl.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

// BenchmarkMiddleware measures the middleware around a handler that does
// nothing: the absolute overhead per request.
func BenchmarkMiddleware(b *testing.B) {
	runImpls(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
}

// BenchmarkMiddlewareJSON measures it around a small but realistic handler
// that encodes a JSON document of 20 items.
func BenchmarkMiddlewareJSON(b *testing.B) {
	type item struct {
		ID    int      `json:"id"`
		Name  string   `json:"name"`
		Price float64  `json:"price"`
		Tags  []string `json:"tags"`
	}
	items := make([]item, 20)
	for i := range items {
		items[i] = item{ID: i, Name: "item", Price: float64(i) * 1.5, Tags: []string{"a", "b"}}
	}
	runImpls(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(items)
	}))
}

// BenchmarkMiddlewareParallel measures the throttled path under contention:
// every goroutine is the same consumer, so they share one rate window.
func BenchmarkMiddlewareParallel(b *testing.B) {
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, impl := range benchImpls(b, noop) {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, "/api/items", nil)
				req.Header.Set("X-Service-Name", "billing")
				for pb.Next() {
					impl.h.ServeHTTP(httptest.NewRecorder(), req)
				}
			})
		})
	}
}
