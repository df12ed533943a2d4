package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
	"golang.org/x/time/rate"
)

// benchLimiter is what the benchmarks drive: our limiters, and bare
// x/time/rate as the baseline.
type benchLimiter interface {
	Acquire(ctx context.Context, n int) error
	TryAcquire(n int) bool
}

// xrate adapts a bare *rate.Limiter: AllowN and WaitN, as its users call it.
type xrate struct{ l *rate.Limiter }

func (x xrate) Acquire(ctx context.Context, n int) error { return x.l.WaitN(ctx, n) }
func (x xrate) TryAcquire(n int) bool                    { return x.l.AllowN(time.Now(), n) }

// huge is a limit so large that capacity never runs out: the benchmarks
// measure the bookkeeping, not waiting. The window is a microsecond long so
// that its ring stays short.
const huge = 1 << 40

func benchImpls(b *testing.B) []struct {
	name string
	l    benchLimiter
} {
	w, err := ratelimit.NewWindow(huge, time.Microsecond)
	if err != nil {
		b.Fatal(err)
	}
	bk, err := ratelimit.NewBucket(huge, time.Microsecond)
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name string
		l    benchLimiter
	}{
		{"impl=window", w},
		{"impl=bucket", bk},
		{"impl=xrate", xrate{rate.NewLimiter(rate.Limit(huge*1e6), huge)}},
	}
}

func BenchmarkTryAcquire(b *testing.B) {
	for _, impl := range benchImpls(b) {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !impl.l.TryAcquire(1) {
					b.Fatal("refused")
				}
			}
		})
	}
}

func BenchmarkAcquire(b *testing.B) {
	ctx := context.Background()
	for _, impl := range benchImpls(b) {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := impl.l.Acquire(ctx, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAcquireContended(b *testing.B) {
	ctx := context.Background()
	for _, impl := range benchImpls(b) {
		b.Run(impl.name+"/goroutines=1000", func(b *testing.B) {
			b.ReportAllocs()
			// RunParallel starts SetParallelism × GOMAXPROCS goroutines.
			b.SetParallelism(max(1, 1000/runtimeProcs()))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := impl.l.Acquire(ctx, 1); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
