package ratelimit_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

// Tests that hold for both Window and Bucket.

func TestFIFOLargeWaiterServedFirst(t *testing.T) {
	for name := range impls(t, newFake(), 10, time.Second) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clk := newFake()
			l := impls(t, clk, 10, time.Second)[name]
			if err := l.Acquire(ctx, 9); err != nil {
				t.Fatal(err)
			}
			big := goAcquire(ctx, l, 10)
			waitWaiters(t, l, 1)
			// One unit is free, but a big waiter is queued: small
			// requests must not overtake it.
			if l.TryAcquire(1) || l.HasCapacity(1) {
				t.Fatal("TryAcquire overtook a queued waiter")
			}
			small := goAcquire(ctx, l, 1)
			waitWaiters(t, l, 2)
			clk.Advance(time.Second)
			if err := mustRecv(t, big); err != nil {
				t.Fatal(err)
			}
			if isDone(small) {
				t.Fatal("small waiter served with the big one")
			}
			clk.Advance(time.Second)
			if err := mustRecv(t, small); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCancelGivesBack(t *testing.T) {
	const waiters = 1000
	for name := range impls(t, newFake(), 1, time.Second) {
		t.Run(name, func(t *testing.T) {
			clk := newFake()
			l := impls(t, clk, 10, time.Second)[name]
			if !l.TryAcquire(10) {
				t.Fatal("initial take refused")
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			errs := make(chan error, waiters)
			for range waiters {
				wg.Go(func() { errs <- l.Acquire(ctx, 1) })
			}
			waitWaiters(t, l, waiters)
			cancel()
			wg.Wait()
			close(errs)
			for err := range errs {
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("cancelled Acquire returned %v", err)
				}
			}
			if ratelimit.Waiters(l) != 0 || clk.Timers() != 0 {
				t.Fatalf("left behind: %d waiters, %d timers", ratelimit.Waiters(l), clk.Timers())
			}
			clk.Advance(time.Second)
			if !l.TryAcquire(10) {
				t.Fatal("full capacity not usable after cancelling the waiters")
			}
		})
	}
}

func TestCancelFrontWakesNext(t *testing.T) {
	for name := range impls(t, newFake(), 1, time.Second) {
		t.Run(name, func(t *testing.T) {
			clk := newFake()
			l := impls(t, clk, 10, time.Second)[name]
			l.TryAcquire(5)
			ctx, cancel := context.WithCancel(context.Background())
			front := goAcquire(ctx, l, 10)
			waitWaiters(t, l, 1)
			next := goAcquire(context.Background(), l, 5)
			waitWaiters(t, l, 2)
			cancel()
			if err := mustRecv(t, front); !errors.Is(err, context.Canceled) {
				t.Fatalf("front returned %v", err)
			}
			if err := mustRecv(t, next); err != nil {
				t.Fatalf("next waiter not served after the front left: %v", err)
			}
		})
	}
}

func TestReserveCancelGivesBack(t *testing.T) {
	for name := range impls(t, newFake(), 1, time.Second) {
		t.Run(name, func(t *testing.T) {
			clk := newFake()
			l := impls(t, clk, 4, time.Second)[name]
			g, err := l.Reserve(context.Background(), 4)
			if err != nil {
				t.Fatal(err)
			}
			if l.TryAcquire(1) || l.IdleAt(clk.Now().Add(time.Hour)) {
				t.Fatal("pending grant did not hold capacity")
			}
			clk.Advance(10 * time.Millisecond)
			g.Cancel()
			g.Cancel()
			if !l.TryAcquire(4) {
				t.Fatal("cancelled grant not given back")
			}
		})
	}
}

func TestDeadlineCannotBeMetFailsAtOnce(t *testing.T) {
	for name := range impls(t, newFake(), 1, time.Second) {
		t.Run(name, func(t *testing.T) {
			clk := newFake()
			l := impls(t, clk, 1, time.Hour)[name]
			l.TryAcquire(1)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := l.Acquire(ctx, 1)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Acquire = %v, want DeadlineExceeded", err)
			}
			if ctx.Err() != nil || clk.Timers() != 0 || ratelimit.Waiters(l) != 0 {
				t.Fatal("Acquire waited before failing")
			}
			if _, err := l.Reserve(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Reserve = %v, want DeadlineExceeded", err)
			}
		})
	}
}

func TestDeadlineCountsQueuedWaiters(t *testing.T) {
	for name := range impls(t, newFake(), 1, time.Second) {
		t.Run(name, func(t *testing.T) {
			clk := newFake()
			l := impls(t, clk, 2, 2*time.Minute)[name]
			l.TryAcquire(2)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			first := goAcquire(ctx, l, 2)
			waitWaiters(t, l, 1)
			// Alone it would fit after at most 2 minutes; behind the
			// first waiter it needs longer than the 3-minute deadline.
			dctx, dcancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer dcancel()
			if err := l.Acquire(dctx, 2); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Acquire = %v, want DeadlineExceeded", err)
			}
			cancel()
			mustRecv(t, first)
		})
	}
}

func TestErrExceedsLimit(t *testing.T) {
	for name, l := range impls(t, newFake(), 3, time.Second) {
		t.Run(name, func(t *testing.T) {
			if err := l.Acquire(context.Background(), 4); !errors.Is(err, ratelimit.ErrExceedsLimit) {
				t.Fatalf("Acquire(4) = %v", err)
			}
			if _, err := l.Reserve(context.Background(), 4); !errors.Is(err, ratelimit.ErrExceedsLimit) {
				t.Fatalf("Reserve(4) = %v", err)
			}
			if l.TryAcquire(4) || l.MaxAcquire() != 3 {
				t.Fatal("TryAcquire(4) granted or wrong MaxAcquire")
			}
		})
	}
	b, _ := ratelimit.NewBucket(10, time.Second, ratelimit.WithBurst(2))
	if err := b.Acquire(context.Background(), 3); !errors.Is(err, ratelimit.ErrExceedsLimit) {
		t.Fatalf("Bucket with burst 2: Acquire(3) = %v", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	s := time.Second
	w, _ := ratelimit.NewWindow(1, s)
	b, _ := ratelimit.NewBucket(1, s)
	tests := []struct {
		name string
		call func() error
		want string // the value the message must name
	}{
		{"window n=0", func() error { _, err := ratelimit.NewWindow(0, s); return err }, "NewWindow(n=0)"},
		{"window n<0", func() error { _, err := ratelimit.NewWindow(-5, s); return err }, "n=-5"},
		{"window per=0", func() error { _, err := ratelimit.NewWindow(1, 0); return err }, "per=0s"},
		{"window burst", func() error { _, err := ratelimit.NewWindow(1, s, ratelimit.WithBurst(2)); return err }, "WithBurst(n=2)"},
		{"window nil clock", func() error { _, err := ratelimit.NewWindow(1, s, ratelimit.WithClock(nil)); return err }, "WithClock(nil)"},
		{"window nil option", func() error { _, err := ratelimit.NewWindow(1, s, nil); return err }, "Option(nil)"},
		{"bucket n=0", func() error { _, err := ratelimit.NewBucket(0, s); return err }, "NewBucket(n=0)"},
		{"bucket per<0", func() error { _, err := ratelimit.NewBucket(1, -s); return err }, "per=-1s"},
		{"bucket burst=0", func() error { _, err := ratelimit.NewBucket(1, s, ratelimit.WithBurst(0)); return err }, "WithBurst(n=0)"},
		{"keyed nil", func() error { _, err := ratelimit.NewKeyed(nil); return err }, "newLimiter=nil"},
		{"keyed burst", func() error {
			_, err := ratelimit.NewKeyed(func(string) (ratelimit.Limiter, error) { return w, nil }, ratelimit.WithBurst(1))
			return err
		}, "WithBurst(n=1)"},
		{"window acquire 0", func() error { return w.Acquire(context.Background(), 0) }, "Window.Acquire(n=0)"},
		{"window reserve -1", func() error { _, err := w.Reserve(context.Background(), -1); return err }, "Window.Reserve(n=-1)"},
		{"bucket acquire 0", func() error { return b.Acquire(context.Background(), 0) }, "Bucket.Acquire(n=0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, ratelimit.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "ratelimit: ") {
				t.Fatalf("error %q does not name %q", err, tt.want)
			}
		})
	}
	// Every bad argument is reported at once.
	_, err := ratelimit.NewWindow(0, 0, ratelimit.WithClock(nil))
	for _, want := range []string{"n=0", "per=0s", "WithClock(nil)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("joined error %q lacks %q", err, want)
		}
	}
}

func TestInvalidMessageExact(t *testing.T) {
	_, err := ratelimit.NewWindow(0, time.Second)
	if got, want := err.Error(), "ratelimit: NewWindow(n=0): n must be positive"; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
}
