package redislimit_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/internal/testserver"
	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/redislimit"
)

var benchKey atomic.Int64

func benchWindow(b *testing.B, srv *redisServer, n int, per time.Duration) *redislimit.Window {
	b.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.addr, PoolSize: 64})
	b.Cleanup(func() { rdb.Close() })
	w, err := redislimit.NewWindow(rdb, "bench"+strconv.FormatInt(benchKey.Add(1), 10), n, per)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	return w
}

// BenchmarkWindowAcquire is acquisitions per second from one process: one
// goroutine (a round trip each), and GOMAXPROCS*8 goroutines in parallel.
// The Window never denies, so this is the script's cost and the round
// trip's.
func BenchmarkWindowAcquire(b *testing.B) {
	srv := startRedis(b)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		w := benchWindow(b, srv, 1<<30, time.Hour)
		for b.Loop() {
			if err := w.Acquire(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "acq/s")
	})
	b.Run("parallel", func(b *testing.B) {
		w := benchWindow(b, srv, 1<<30, time.Hour)
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := w.Acquire(ctx, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "acq/s")
	})
	// The same with 10,000 units already counted: the script's cost does
	// not grow with n.
	b.Run("log=10000", func(b *testing.B) {
		w := benchWindow(b, srv, 1<<30, time.Hour)
		if err := w.Acquire(ctx, 10000); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			if err := w.Acquire(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "acq/s")
	})
}

// BenchmarkWindowAcquireFourProcesses is acquisitions per second from four
// processes at once, eight goroutines each, for 2 s, on one key. It ignores
// b.N: run it with -benchtime=1x.
func BenchmarkWindowAcquireFourProcesses(b *testing.B) {
	srv := startRedis(b)
	const d = 2 * time.Second
	start := time.Now().Add(1500 * time.Millisecond)
	env := []string{
		envRedis + "=" + srv.addr, envKey + "=bench4",
		envStart + "=" + strconv.FormatInt(start.UnixNano(), 10), envFor + "=" + d.String(),
		envWorkers + "=8",
	}
	kids := make([]*child, 4)
	for i := range kids {
		kids[i] = startChild(b, "acquire", env...)
	}
	total := 0
	for _, c := range kids {
		total += sentCount(b, c.line(b, d+20*time.Second))
	}
	b.ReportMetric(float64(total)/d.Seconds(), "acq/s")
}

// BenchmarkSemaphore is an acquire and a release from one goroutine: two
// round trips.
func BenchmarkSemaphore(b *testing.B) {
	srv := startRedis(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.addr})
	b.Cleanup(func() { rdb.Close() })
	s, err := redislimit.NewSemaphore(rdb, "bench-sem", 4)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	for b.Loop() {
		release, err := s.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		release()
	}
}

// BenchmarkSessionAttempt is one GET to a loopback server through a
// Session limited by a local ratelimit.Window, and by a shared
// redislimit.Window: the difference is the latency an attempt gains from
// sharing the limit (one Reserve round trip; the commit runs in the
// background).
func BenchmarkSessionAttempt(b *testing.B) {
	srv := startRedis(b)
	web := testserver.Start(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	run := func(b *testing.B, l ratelimit.Limiter) {
		s, err := throttle.NewSession(throttle.WithLimiter(l))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ctx := context.Background()
		for b.Loop() {
			resp, err := s.Get(ctx, web.URL)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	b.Run("local", func(b *testing.B) {
		w, err := ratelimit.NewWindow(1<<30, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		run(b, w)
	})
	b.Run("redis", func(b *testing.B) { run(b, benchWindow(b, srv, 1<<30, time.Hour)) })
}
