package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
)

// countWriter counts the bytes written to it.
type countWriter struct{ n atomic.Int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// drive advances clk by step each time a waiter has set a timer, until done
// is closed, and calls check after each step with the time elapsed.
func drive(t *testing.T, clk *clock.Fake, done <-chan struct{}, step time.Duration, check func(elapsed time.Duration)) time.Duration {
	t.Helper()
	var elapsed time.Duration
	for {
		select {
		case <-done:
			return elapsed
		default:
		}
		if clk.BlockUntilTimers(1, 10*time.Millisecond) {
			clk.Advance(step)
			elapsed += step
			check(elapsed)
		}
		if elapsed > time.Hour {
			t.Fatal("transfer never finished")
		}
	}
}

// rateCases are the limiters the Reader and Writer tests run with: 1000
// bytes per second, so 10 000 bytes need at least 9s after the burst.
func rateCases(t *testing.T, clk *clock.Fake) map[string]ratelimit.Limiter {
	t.Helper()
	m := map[string]ratelimit.Limiter{}
	for name, l := range impls(t, clk, 1000, time.Second) {
		m[name] = l
	}
	return m
}

func TestReaderRate(t *testing.T) {
	for name := range rateCases(t, newFake()) {
		t.Run(name, func(t *testing.T) {
			clk := newFake()
			l := rateCases(t, clk)[name]
			src := bytes.NewReader(make([]byte, 10000))
			r := ratelimit.NewReader(context.Background(), src, l)
			var got countWriter
			done := make(chan struct{})
			go func() {
				defer close(done)
				if _, err := io.Copy(&got, r); err != nil {
					t.Error(err)
				}
			}()
			elapsed := drive(t, clk, done, 100*time.Millisecond, func(el time.Duration) {
				if max := 1000 + int64(el/time.Millisecond); got.n.Load() > max {
					t.Errorf("after %v read %d bytes, more than %d", el, got.n.Load(), max)
				}
			})
			if got.n.Load() != 10000 || elapsed < 9*time.Second || elapsed > 10*time.Second {
				t.Fatalf("read %d bytes in %v, want 10000 in 9s-10s", got.n.Load(), elapsed)
			}
		})
	}
}

func TestWriterRate(t *testing.T) {
	for name := range rateCases(t, newFake()) {
		t.Run(name, func(t *testing.T) {
			clk := newFake()
			l := rateCases(t, clk)[name]
			var got countWriter
			w := ratelimit.NewWriter(context.Background(), &got, l)
			done := make(chan struct{})
			go func() {
				defer close(done)
				if n, err := w.Write(make([]byte, 10000)); n != 10000 || err != nil {
					t.Errorf("Write = %d, %v", n, err)
				}
			}()
			elapsed := drive(t, clk, done, 100*time.Millisecond, func(el time.Duration) {
				if max := 1000 + int64(el/time.Millisecond); got.n.Load() > max {
					t.Errorf("after %v wrote %d bytes, more than %d", el, got.n.Load(), max)
				}
			})
			if got.n.Load() != 10000 || elapsed < 9*time.Second || elapsed > 10*time.Second {
				t.Fatalf("wrote %d bytes in %v, want 10000 in 9s-10s", got.n.Load(), elapsed)
			}
		})
	}
}

func TestReaderCancelLosesNothing(t *testing.T) {
	clk := newFake()
	w, _ := ratelimit.NewWindow(100, time.Second, ratelimit.WithClock(clk))
	src := strings.NewReader(strings.Repeat("x", 1000))
	ctx, cancel := context.WithCancel(context.Background())
	r := ratelimit.NewReader(ctx, src, w)
	buf := make([]byte, 1000)
	if n, err := r.Read(buf); n != 100 || err != nil {
		t.Fatalf("first Read = %d, %v; want one chunk of 100", n, err)
	}
	type res struct {
		n   int
		err error
	}
	done := make(chan res, 1)
	go func() {
		n, err := r.Read(buf)
		done <- res{n, err}
	}()
	waitWaiters(t, w, 1)
	cancel()
	got := <-done
	// The chunk was read from the source before the wait: it comes back
	// with the error rather than being lost.
	if got.n != 100 || !errors.Is(got.err, context.Canceled) {
		t.Fatalf("cancelled Read = %d, %v", got.n, got.err)
	}
	if src.Len() != 800 {
		t.Fatalf("source has %d bytes left, want 800", src.Len())
	}
	if n, err := r.Read(buf); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel = %d, %v", n, err)
	}
	if src.Len() != 800 {
		t.Fatal("Read after cancel consumed the source")
	}
}

func TestWriterCancelWritesOnlyWhatWasPaid(t *testing.T) {
	clk := newFake()
	b, _ := ratelimit.NewBucket(100, time.Second, ratelimit.WithClock(clk))
	var dst bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	w := ratelimit.NewWriter(ctx, &dst, b)
	type res struct {
		n   int
		err error
	}
	done := make(chan res, 1)
	go func() {
		n, err := w.Write(make([]byte, 1000))
		done <- res{n, err}
	}()
	waitWaiters(t, b, 1)
	cancel()
	got := <-done
	if got.n != 100 || dst.Len() != 100 || !errors.Is(got.err, context.Canceled) {
		t.Fatalf("cancelled Write = %d, %v; %d bytes written", got.n, got.err, dst.Len())
	}
}

func TestReaderChunkAndPassThrough(t *testing.T) {
	// No limiter: no chunking. A limiter without MaxAcquire: 32 KiB.
	src := bytes.NewReader(make([]byte, 100<<10))
	if n, _ := ratelimit.NewReader(context.Background(), src).Read(make([]byte, 64<<10)); n != 64<<10 {
		t.Fatalf("unlimited Read = %d", n)
	}
	c := &countLimiter{}
	if n, _ := ratelimit.NewReader(context.Background(), src, c).Read(make([]byte, 64<<10)); n != 32<<10 || c.n != n {
		t.Fatalf("Read = %d, charged %d; want 32 KiB", n, c.n)
	}
	var dst bytes.Buffer
	if n, err := ratelimit.NewWriter(context.Background(), &dst, c).Write(make([]byte, 40<<10)); n != 40<<10 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
}
