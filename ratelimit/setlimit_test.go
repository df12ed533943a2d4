package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

// Raising a Window's n lets a waiter in at once, without the clock moving.
func TestWindowSetLimitRaiseWakesWaiter(t *testing.T) {
	clk := newFake()
	w, _ := ratelimit.NewWindow(2, time.Second, ratelimit.WithClock(clk))
	if !w.TryAcquire(2) {
		t.Fatal("a fresh window refused its n")
	}
	done := goAcquire(context.Background(), w, 1)
	waitWaiters(t, w, 1)
	if isDone(done) {
		t.Fatal("granted past the limit")
	}
	if err := w.SetLimit(3, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := mustRecv(t, done); err != nil {
		t.Fatal(err)
	}
	if n, per := w.Limit(); n != 3 || per != time.Second || w.MaxAcquire() != 3 {
		t.Fatalf("Limit() = %d, %v; MaxAcquire() = %d", n, per, w.MaxAcquire())
	}
	if w.TryAcquire(1) {
		t.Fatal("granted a fourth unit")
	}
}

// Lowering a Window's n keeps its stamps: nothing more is granted until
// enough of them expire, and then only the new n per window.
func TestWindowSetLimitLowerKeepsStamps(t *testing.T) {
	clk := newFake()
	start := clk.Now()
	w, _ := ratelimit.NewWindow(5, time.Second, ratelimit.WithClock(clk))
	runSteps(t, clk, start, w, []step{{0, 3, true}, {500 * time.Millisecond, 2, true}})
	if err := w.SetLimit(2, time.Second); err != nil {
		t.Fatal(err)
	}
	const ms = time.Millisecond
	runSteps(t, clk, start, w, []step{
		{600 * ms, 1, false},
		{1000 * ms, 1, false}, // the 3 expired; the 2 of 500 ms fill the new n
		{1500 * ms, 2, true},
		{1600 * ms, 1, false},
		{2500 * ms, 2, true},
	})
}

// A longer per makes the stamps already counted count longer; a shorter
// one frees them sooner.
func TestWindowSetLimitPer(t *testing.T) {
	const ms = time.Millisecond
	clk := newFake()
	start := clk.Now()
	w, _ := ratelimit.NewWindow(1, time.Second, ratelimit.WithClock(clk))
	runSteps(t, clk, start, w, []step{{0, 1, true}})
	if err := w.SetLimit(1, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	runSteps(t, clk, start, w, []step{{1500 * ms, 1, false}, {2000 * ms, 1, true}})
	if err := w.SetLimit(1, 100*ms); err != nil {
		t.Fatal(err)
	}
	runSteps(t, clk, start, w, []step{{2050 * ms, 1, false}, {2100 * ms, 1, true}})
}

// A waiter whose timer was set for the old window's expiry looks again
// when the window shortens, and is granted at the new instant.
func TestWindowSetLimitShorterPerRearmsTimer(t *testing.T) {
	clk := newFake()
	w, _ := ratelimit.NewWindow(1, time.Hour, ratelimit.WithClock(clk))
	w.TryAcquire(1)
	done := goAcquire(context.Background(), w, 1)
	waitWaiters(t, w, 1)
	waitFor(t, "the front waiter's timer", func() bool { return clk.Timers() == 1 })
	if err := w.SetLimit(1, time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if err := mustRecv(t, done); err != nil {
		t.Fatal(err)
	}
}

// Pending units stay pending across a change, and still count.
func TestWindowSetLimitKeepsPending(t *testing.T) {
	clk := newFake()
	w, _ := ratelimit.NewWindow(3, time.Second, ratelimit.WithClock(clk))
	g, err := w.Reserve(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetLimit(2, time.Second); err != nil {
		t.Fatal(err)
	}
	if w.TryAcquire(1) {
		t.Fatal("pending units were forgotten")
	}
	g.Cancel()
	if !w.TryAcquire(2) {
		t.Fatal("cancelled units were not given back")
	}
}

// A waiter asking for more than a lowered limit fails with
// ErrExceedsLimit instead of waiting forever, and those behind it go on.
func TestSetLimitBelowWaiterFails(t *testing.T) {
	for name, l := range impls(t, newFake(), 4, time.Second) {
		t.Run(name, func(t *testing.T) {
			if !l.TryAcquire(4) {
				t.Fatal("a fresh limiter refused its n")
			}
			big := goAcquire(context.Background(), l, 3)
			waitWaiters(t, l, 1)
			ctx, cancel := context.WithCancel(context.Background())
			small := goAcquire(ctx, l, 2)
			waitWaiters(t, l, 2)
			var err error
			switch l := l.(type) {
			case *ratelimit.Window:
				err = l.SetLimit(2, time.Second)
			case *ratelimit.Bucket:
				err = l.SetBurst(2)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := mustRecv(t, big); !errors.Is(err, ratelimit.ErrExceedsLimit) {
				t.Fatalf("the waiter for 3 got %v, want ErrExceedsLimit", err)
			}
			waitWaiters(t, l, 1)
			if isDone(small) {
				t.Fatal("the waiter for 2 was granted early")
			}
			if l.MaxAcquire() != 2 {
				t.Fatalf("MaxAcquire() = %d", l.MaxAcquire())
			}
			if err := l.Acquire(context.Background(), 3); !errors.Is(err, ratelimit.ErrExceedsLimit) {
				t.Fatalf("Acquire(3) = %v, want ErrExceedsLimit", err)
			}
			cancel()
			if err := mustRecv(t, small); !errors.Is(err, context.Canceled) {
				t.Fatalf("the waiter for 2 got %v, want context.Canceled", err)
			}
		})
	}
}

// Raising a Bucket's rate: a waiter's refill is worked out afresh at once.
func TestBucketSetLimitRaiseWakesWaiter(t *testing.T) {
	clk := newFake()
	b, _ := ratelimit.NewBucket(1, time.Hour, ratelimit.WithClock(clk))
	b.TryAcquire(1)
	done := goAcquire(context.Background(), b, 1)
	waitWaiters(t, b, 1)
	waitFor(t, "the front waiter's timer", func() bool { return clk.Timers() == 1 })
	if err := b.SetLimit(10, time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(99 * time.Millisecond)
	if isDone(done) {
		t.Fatal("granted before a token refilled at the new rate")
	}
	clk.Advance(time.Millisecond)
	if err := mustRecv(t, done); err != nil {
		t.Fatal(err)
	}
	if n, per := b.Limit(); n != 10 || per != time.Second {
		t.Fatalf("Limit() = %d, %v", n, per)
	}
}

// Lowering a Bucket's rate keeps the tokens it has; a lower burst caps
// them, and a higher one fills only at the rate.
func TestBucketSetLimitAndBurst(t *testing.T) {
	clk := newFake()
	start := clk.Now()
	b, _ := ratelimit.NewBucket(10, time.Second, ratelimit.WithClock(clk))
	if err := b.SetLimit(1, time.Second); err != nil {
		t.Fatal(err)
	}
	runSteps(t, clk, start, b, []step{{0, 10, true}, {500 * time.Millisecond, 1, false}, {time.Second, 1, true}})
	if err := b.SetBurst(3); err != nil {
		t.Fatal(err)
	}
	runSteps(t, clk, start, b, []step{{time.Hour, 4, false}, {time.Hour, 3, true}})
	if err := b.SetBurst(20); err != nil {
		t.Fatal(err)
	}
	runSteps(t, clk, start, b, []step{{time.Hour, 1, false}, {time.Hour + 5*time.Second, 5, true}, {time.Hour + time.Minute, 20, true}})
}

func TestSetLimitInvalid(t *testing.T) {
	w, _ := ratelimit.NewWindow(2, time.Second, ratelimit.WithGranularity(100*time.Millisecond))
	b, _ := ratelimit.NewBucket(2, time.Second)
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"window n", w.SetLimit(0, time.Second), "Window.SetLimit(n=0)"},
		{"window per", w.SetLimit(1, -time.Second), "Window.SetLimit(per=-1s)"},
		{"window granularity", w.SetLimit(1, time.Millisecond), "Window.SetLimit(per=1ms)"},
		{"bucket n", b.SetLimit(-1, time.Second), "Bucket.SetLimit(n=-1)"},
		{"bucket per", b.SetLimit(1, 0), "Bucket.SetLimit(per=0s)"},
		{"bucket burst", b.SetBurst(0), "Bucket.SetBurst(burst=0)"},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, ratelimit.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, tc.err)
			continue
		}
		if got := tc.err.Error(); !contains(got, tc.want) {
			t.Errorf("%s: %q does not name %q", tc.name, got, tc.want)
		}
	}
	if n, per := w.Limit(); n != 2 || per != time.Second {
		t.Fatalf("a refused SetLimit changed the window: %d, %v", n, per)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// Limits changed while callers take, wait and cancel: race-free, and
// every wait ends.
func TestSetLimitConcurrent(t *testing.T) {
	clk := newFake()
	w, _ := ratelimit.NewWindow(5, 100*time.Millisecond, ratelimit.WithClock(clk))
	b, _ := ratelimit.NewBucket(5, 100*time.Millisecond, ratelimit.WithClock(clk))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			k := 1 + i%3
			w.Acquire(ctx, k)
			b.Acquire(ctx, k)
			w.TryAcquire(1)
			w.MaxAcquire()
			w.Limit()
		})
	}
	for i := range 200 {
		w.SetLimit(1+i%7, time.Duration(1+i%5)*20*time.Millisecond)
		b.SetLimit(1+i%7, time.Duration(1+i%5)*20*time.Millisecond)
		b.SetBurst(1 + i%6)
		clk.Advance(7 * time.Millisecond)
	}
	cancel()
	wg.Wait()
}
