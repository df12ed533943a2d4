package semaphore_test

import (
	"context"
	"runtime"
	"testing"

	xsem "golang.org/x/sync/semaphore"

	"github.com/go-throttle/throttle/semaphore"
)

// acquirer is the one small interface the benchmarks run every
// implementation behind, as x/sync's benchmarks do with semChan. Each
// method takes n units and gives them back, so no release closure (which
// would allocate) has to cross the interface.
type acquirer interface {
	acquireRelease(ctx context.Context, n int64) error
	tryRelease(ctx context.Context, n int64) bool
}

type weightedImpl struct{ s *semaphore.Weighted }

func (w weightedImpl) acquireRelease(ctx context.Context, n int64) error {
	if err := w.s.Acquire(ctx, n); err != nil {
		return err
	}
	w.s.Release(n)
	return nil
}

func (w weightedImpl) tryRelease(_ context.Context, n int64) bool {
	if !w.s.TryAcquire(n) {
		return false
	}
	w.s.Release(n)
	return true
}

type throttlerImpl struct{ t *semaphore.Throttler }

func (t throttlerImpl) acquireRelease(ctx context.Context, n int64) error {
	p, err := t.t.Acquire(ctx, n)
	p.Release()
	return err
}

func (t throttlerImpl) tryRelease(ctx context.Context, n int64) bool {
	p, ok := t.t.TryAcquire(ctx, n)
	p.Release()
	return ok
}

type xsyncImpl struct{ s *xsem.Weighted }

func (x xsyncImpl) acquireRelease(ctx context.Context, n int64) error {
	if err := x.s.Acquire(ctx, n); err != nil {
		return err
	}
	x.s.Release(n)
	return nil
}

func (x xsyncImpl) tryRelease(_ context.Context, n int64) bool {
	if !x.s.TryAcquire(n) {
		return false
	}
	x.s.Release(n)
	return true
}

// impls returns each implementation with capacity n. The throttler has a
// consumer share and the context names a consumer, so its quota
// accounting is measured too.
func impls(n int64) []struct {
	name string
	a    acquirer
} {
	w, _ := semaphore.NewWeighted(n)
	th, _ := semaphore.NewThrottler(n, semaphore.WithConsumerShare(1))
	x := xsem.NewWeighted(n)
	return []struct {
		name string
		a    acquirer
	}{
		{"weighted", weightedImpl{w}},
		{"throttler", throttlerImpl{th}},
		{"xsync", xsyncImpl{x}},
	}
}

var benchCtx = semaphore.WithConsumer(context.Background(), "bench")

// BenchmarkAcquire measures Acquire+release: uncontended, and with 1000
// goroutines sharing a capacity of 10 (b.RunParallel).
func BenchmarkAcquire(b *testing.B) {
	for _, im := range impls(1) {
		b.Run("impl="+im.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := im.a.acquireRelease(benchCtx, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, im := range impls(10) {
		b.Run("impl="+im.name+"/goroutines=1000", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(parallelism1000())
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := im.a.acquireRelease(benchCtx, 1); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkTryAcquire measures TryAcquire+release, uncontended and
// contended.
func BenchmarkTryAcquire(b *testing.B) {
	for _, im := range impls(1) {
		b.Run("impl="+im.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !im.a.tryRelease(benchCtx, 1) {
					b.Fatal("TryAcquire failed uncontended")
				}
			}
		})
	}
	for _, im := range impls(10) {
		b.Run("impl="+im.name+"/goroutines=1000", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(parallelism1000())
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					im.a.tryRelease(benchCtx, 1)
				}
			})
		})
	}
}

// parallelism1000 is the b.SetParallelism factor that makes RunParallel
// start about 1000 goroutines (it starts factor*GOMAXPROCS).
func parallelism1000() int { return max(1, 1000/runtime.GOMAXPROCS(0)) }
