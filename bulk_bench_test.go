package throttle_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-throttle/throttle"
)

// benchWorkers is the workers of both runners in BenchmarkBulk.
const benchWorkers = 16

// BenchmarkBulk measures the bulk runner's throughput (ns per request)
// against a plain worker pool of the same size over the same Session, on
// loopback servers: impl=stream is throttle.Stream; impl=pool is
// benchWorkers goroutines reading a channel and calling Session.Do with
// each request as it is (context.Background); impl=poolctx is the same
// pool sending each request with a cancellable context, as a pool that
// can be stopped must (Stream's requests always have one). All read and
// close each body. hosts=1 is one server; hosts=4 spreads the requests
// round-robin over four. cpu-ns/op is the process's CPU time per request
// (servers included), steadier than sec/op on a shared machine.
func BenchmarkBulk(b *testing.B) {
	for _, hosts := range []int{1, 4} {
		var urls []string
		for range hosts {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "ok")
			}))
			defer srv.Close()
			urls = append(urls, srv.URL)
		}
		s, err := throttle.NewSession(throttle.WithHostConcurrency(benchWorkers))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		gen := func(n int) func(yield func(*http.Request) bool) {
			return func(yield func(*http.Request) bool) {
				for i := range n {
					req, _ := http.NewRequest(http.MethodGet, urls[i%len(urls)], nil)
					if !yield(req) {
						return
					}
				}
			}
		}
		b.Run(fmt.Sprintf("hosts=%d/impl=stream", hosts), func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b, processCPU())
			for r := range throttle.Stream(context.Background(), s, gen(b.N), discardBody, throttle.WithWorkers(benchWorkers)) {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		})
		b.Run(fmt.Sprintf("hosts=%d/impl=pool", hosts), func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b, processCPU())
			pool(b, s, gen(b.N), nil)
		})
		b.Run(fmt.Sprintf("hosts=%d/impl=poolctx", hosts), func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b, processCPU())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pool(b, s, gen(b.N), ctx)
		})
	}
}

// reportCPU reports the process's CPU time per request since began (the
// servers' included, the same for both runners): on a shared machine the
// wall clock swings by 20% and more from run to run, CPU time much less.
func reportCPU(b *testing.B, began time.Duration) {
	b.ReportMetric(float64(processCPU()-began)/float64(b.N), "cpu-ns/op")
}

func discardBody(resp *http.Response) (int64, error) { return io.Copy(io.Discard, resp.Body) }

// pool is the plain worker pool a user would write: benchWorkers
// goroutines over a channel, in input order.
func pool(b *testing.B, s *throttle.Session, reqs func(yield func(*http.Request) bool), ctx context.Context) {
	ch := make(chan *http.Request, benchWorkers)
	var wg sync.WaitGroup
	for range benchWorkers {
		wg.Go(func() {
			for req := range ch {
				if ctx != nil {
					req = req.WithContext(ctx)
				}
				resp, err := s.Do(req)
				if err != nil {
					b.Error(err)
					continue
				}
				discardBody(resp)
				resp.Body.Close()
			}
		})
	}
	for req := range reqs {
		ch <- req
	}
	close(ch)
	wg.Wait()
}

// BenchmarkStreamMemory streams 10^4, 10^5 and 10^6 generated requests
// over 1,000 hosts through a Session whose base transport answers at once
// (a network would make 10^6 requests take minutes; the runner's memory
// does not depend on it), and reports the peak heap in use and the peak
// number of goroutines, sampled every 1,000 results. Run it with
// -benchtime=1x: one iteration is one whole run.
func BenchmarkStreamMemory(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("inputs=%d", n), func(b *testing.B) {
			s, err := throttle.NewSession(throttle.WithTransport(instantTransport{}))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var peakHeap uint64
			peakG := 0
			for b.Loop() {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				base := ms.HeapInuse
				done := 0
				for r := range throttle.Stream(context.Background(), s, hostsGen(n, 1000), statusOf) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
					if done++; done%1000 == 0 {
						runtime.ReadMemStats(&ms)
						peakHeap = max(peakHeap, ms.HeapInuse-min(base, ms.HeapInuse))
						peakG = max(peakG, runtime.NumGoroutine())
					}
				}
			}
			b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(peakG), "peak-goroutines")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/request")
		})
	}
}

func hostsGen(n, hosts int) func(yield func(*http.Request) bool) {
	return func(yield func(*http.Request) bool) {
		for i := range n {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://h%d.example/%d", i%hosts, i), nil)
			if !yield(req) {
				return
			}
		}
	}
}
