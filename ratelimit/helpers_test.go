package ratelimit_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
)

// newFake returns a fake clock that starts at the real present, so that
// real context deadlines ("1s from now") compare sensibly with its time.
func newFake() *clock.Fake { return clock.NewFake(time.Now()) }

// waitFor waits, without sleeping, until cond holds; it fails the test if
// that takes more than a few seconds of real time (a hung goroutine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// waitWaiters waits until l (a *Window or *Bucket) has n queued callers.
func waitWaiters(t *testing.T, l any, n int) {
	t.Helper()
	waitFor(t, "waiters", func() bool { return ratelimit.Waiters(l) == n })
}

// goAcquire runs l.Acquire(ctx, n) in a goroutine and returns the channel
// its result arrives on.
func goAcquire(ctx context.Context, l ratelimit.Limiter, n int) chan error {
	done := make(chan error, 1)
	go func() { done <- l.Acquire(ctx, n) }()
	return done
}

// isDone reports whether a background call has returned, without waiting.
func isDone(ch chan error) bool {
	select {
	case err := <-ch:
		ch <- err // put it back for the caller to inspect
		return true
	default:
		return false
	}
}

// mustRecv returns a background call's result, failing if it never comes.
func mustRecv(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("call never returned")
		return nil
	}
}

// limiterUnderTest is what the table tests need from Window and Bucket.
type limiterUnderTest interface {
	ratelimit.Limiter
	TryAcquire(n int) bool
	HasCapacity(n int) bool
	Reserve(ctx context.Context, n int) (*ratelimit.Grant, error)
	MaxAcquire() int
	IdleAt(now time.Time) bool
}

// impls builds a Window and a Bucket of n per per on clk, for tests that
// hold for both.
func impls(t *testing.T, clk ratelimit.Clock, n int, per time.Duration) map[string]limiterUnderTest {
	t.Helper()
	w, err := ratelimit.NewWindow(n, per, ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ratelimit.NewBucket(n, per, ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]limiterUnderTest{"window": w, "bucket": b}
}

// runtimeProcs reports GOMAXPROCS.
func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// allocBytes reports the bytes f allocates, averaged over 1000 runs.
func allocBytes(f func()) uint64 {
	const runs = 1000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}
