package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

// step is one row of a table test: move the clock to at (from the start),
// then TryAcquire(n) and expect ok, as x/time/rate's rate_test.go does.
type step struct {
	at time.Duration
	n  int
	ok bool
}

// runSteps plays steps against l on clk.
func runSteps(t *testing.T, clk interface{ Set(time.Time) }, start time.Time, l limiterUnderTest, steps []step) {
	t.Helper()
	for i, s := range steps {
		clk.Set(start.Add(s.at))
		if got := l.TryAcquire(s.n); got != s.ok {
			t.Fatalf("step %d: at %v TryAcquire(%d) = %v, want %v", i, s.at, s.n, got, s.ok)
		}
	}
}

func TestWindowSteps(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name  string
		n     int
		per   time.Duration
		steps []step
	}{
		{"burst at start then a full window later", 3, time.Second, []step{
			{0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, false},
			{999 * ms, 1, false}, {1000 * ms, 3, true}, {1000 * ms, 1, false},
		}},
		{"sliding, not fixed, window", 2, time.Second, []step{
			{0, 1, true}, {600 * ms, 1, true}, {999 * ms, 1, false},
			{1000 * ms, 1, true}, {1599 * ms, 1, false}, {1600 * ms, 1, true},
		}},
		{"weighted units", 10, time.Second, []step{
			{0, 7, true}, {100 * ms, 4, false}, {100 * ms, 3, true},
			{1000 * ms, 8, false}, {1000 * ms, 7, true}, {1100 * ms, 3, true}, {1100 * ms, 1, false},
		}},
		{"n of 1 spaces grants a full per apart", 1, 100 * ms, []step{
			{0, 1, true}, {50 * ms, 1, false}, {100 * ms, 1, true}, {199 * ms, 1, false}, {200 * ms, 1, true},
		}},
		{"more than n is never granted", 2, time.Second, []step{
			{0, 3, false}, {0, 0, false}, {0, -1, false}, {0, 2, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFake()
			start := clk.Now()
			w, err := ratelimit.NewWindow(tt.n, tt.per, ratelimit.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			runSteps(t, clk, start, w, tt.steps)
		})
	}
}

func TestWindowAcquireWaitsForExpiry(t *testing.T) {
	clk := newFake()
	w, _ := ratelimit.NewWindow(2, time.Second, ratelimit.WithClock(clk))
	ctx := context.Background()
	if err := w.Acquire(ctx, 2); err != nil {
		t.Fatal(err)
	}
	clk.Advance(300 * time.Millisecond)
	done := goAcquire(ctx, w, 1)
	if !clk.BlockUntilTimers(1, 5*time.Second) {
		t.Fatal("waiter set no timer")
	}
	clk.Advance(699 * time.Millisecond)
	if isDone(done) {
		t.Fatal("granted before the first grant expired")
	}
	clk.Advance(time.Millisecond)
	if err := mustRecv(t, done); err != nil {
		t.Fatal(err)
	}
}

func TestWindowPendingBlocksUntilCommit(t *testing.T) {
	clk := newFake()
	w, _ := ratelimit.NewWindow(2, time.Second, ratelimit.WithClock(clk))
	ctx := context.Background()
	g, err := w.Reserve(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	done := goAcquire(ctx, w, 1)
	waitWaiters(t, w, 1)
	// Pending units never expire, and the waiter must not poll for them.
	clk.Advance(time.Hour)
	if isDone(done) || clk.Timers() != 0 {
		t.Fatalf("waiter behind a pending grant: done=%v timers=%d", isDone(done), clk.Timers())
	}
	// Commit stamps now, so the units count for a full per from here.
	g.Commit()
	if !clk.BlockUntilTimers(1, 5*time.Second) {
		t.Fatal("commit did not wake the waiter")
	}
	clk.Advance(999 * time.Millisecond)
	if isDone(done) {
		t.Fatal("granted before the committed units expired")
	}
	clk.Advance(time.Millisecond)
	if err := mustRecv(t, done); err != nil {
		t.Fatal(err)
	}
}

func TestWindowCancelledGrantWakesWaiter(t *testing.T) {
	clk := newFake()
	w, _ := ratelimit.NewWindow(2, time.Second, ratelimit.WithClock(clk))
	ctx := context.Background()
	g, _ := w.Reserve(ctx, 2)
	done := goAcquire(ctx, w, 2)
	waitWaiters(t, w, 1)
	g.Cancel()
	if err := mustRecv(t, done); err != nil {
		t.Fatal(err)
	}
	g.Commit() // no-op after Cancel: must not count the units again
	clk.Advance(time.Second)
	if !w.TryAcquire(2) {
		t.Fatal("Commit after Cancel took capacity")
	}
}

func TestWindowCommitStampsCommitTime(t *testing.T) {
	clk := newFake()
	start := clk.Now()
	w, _ := ratelimit.NewWindow(1, time.Second, ratelimit.WithClock(clk))
	g, _ := w.Reserve(context.Background(), 1)
	clk.Set(start.Add(5 * time.Second))
	if w.TryAcquire(1) {
		t.Fatal("pending grant expired")
	}
	g.Commit()
	g.Commit() // idempotent
	g.Cancel() // no-op after Commit
	runSteps(t, clk, start, w, []step{
		{5500 * time.Millisecond, 1, false},
		{6 * time.Second, 1, true},
	})
}

// backClock is a clock that a test can step backwards.
type backClock struct{ t time.Time }

func (c *backClock) Now() time.Time { return c.t }

func (c *backClock) NewTimer(time.Duration) (<-chan time.Time, func() bool) {
	return make(chan time.Time), func() bool { return true }
}

func TestWindowClockSteppingBack(t *testing.T) {
	start := time.Now()
	clk := &backClock{t: start}
	w, _ := ratelimit.NewWindow(1, time.Second, ratelimit.WithClock(clk))
	clk.t = start.Add(10 * time.Second)
	if !w.TryAcquire(1) {
		t.Fatal("first grant refused")
	}
	// Back by 5s: the window must still be counted from 10s, not from 5s.
	clk.t = start.Add(5 * time.Second)
	if w.TryAcquire(1) {
		t.Fatal("granted inside the window after the clock stepped back")
	}
	clk.t = start.Add(10*time.Second + 999*time.Millisecond)
	if w.TryAcquire(1) {
		t.Fatal("granted before the window ended")
	}
	clk.t = start.Add(11 * time.Second)
	if !w.TryAcquire(1) {
		t.Fatal("refused after the window ended")
	}
}

func TestWindowReserveBackwardsCommitStampsLatest(t *testing.T) {
	start := time.Now()
	clk := &backClock{t: start.Add(10 * time.Second)}
	w, _ := ratelimit.NewWindow(1, time.Second, ratelimit.WithClock(clk))
	ctx := context.Background()
	clk.t = start.Add(20 * time.Second)
	g, _ := w.Reserve(ctx, 1)
	clk.t = start.Add(15 * time.Second) // back: Commit stamps 20s, the latest seen
	g.Commit()
	clk.t = start.Add(20*time.Second + 999*time.Millisecond)
	if w.TryAcquire(1) {
		t.Fatal("commit stamped earlier than a time already seen")
	}
	clk.t = start.Add(21 * time.Second)
	if !w.TryAcquire(1) {
		t.Fatal("refused after the window ended")
	}
}

func TestWindowIdleAt(t *testing.T) {
	clk := newFake()
	start := clk.Now()
	w, _ := ratelimit.NewWindow(2, time.Second, ratelimit.WithClock(clk))
	if !w.IdleAt(start) {
		t.Fatal("new window not idle")
	}
	w.TryAcquire(1)
	clk.Advance(500 * time.Millisecond)
	g, _ := w.Reserve(context.Background(), 1)
	if w.IdleAt(start.Add(time.Hour)) {
		t.Fatal("idle with a pending grant")
	}
	g.Commit()
	if w.IdleAt(start.Add(1499 * time.Millisecond)) {
		t.Fatal("idle while a grant still counts")
	}
	if !w.IdleAt(start.Add(1500 * time.Millisecond)) {
		t.Fatal("not idle after every grant expired")
	}
}

func TestWindowHasCapacity(t *testing.T) {
	clk := newFake()
	w, _ := ratelimit.NewWindow(3, time.Second, ratelimit.WithClock(clk))
	if !w.HasCapacity(3) || w.HasCapacity(4) || w.HasCapacity(0) {
		t.Fatal("wrong capacity on a new window")
	}
	w.TryAcquire(2)
	if !w.HasCapacity(1) || w.HasCapacity(2) {
		t.Fatal("wrong capacity after taking 2")
	}
	if !w.HasCapacity(1) || !w.TryAcquire(1) {
		t.Fatal("HasCapacity took the units")
	}
	n, per := w.Limit()
	if n != 3 || per != time.Second || w.MaxAcquire() != 3 {
		t.Fatalf("Limit() = %d, %v; MaxAcquire() = %d", n, per, w.MaxAcquire())
	}
}

func TestWindowRingGrowsToN(t *testing.T) {
	// More live entries than the ring starts with, one per instant.
	clk := newFake()
	const n = 1000
	w, _ := ratelimit.NewWindow(n, time.Second, ratelimit.WithClock(clk))
	for i := range n {
		if !w.TryAcquire(1) {
			t.Fatalf("grant %d refused", i)
		}
		clk.Advance(time.Microsecond)
	}
	if w.TryAcquire(1) {
		t.Fatal("granted n+1 in a window")
	}
	clk.Advance(time.Second)
	if !w.TryAcquire(n) {
		t.Fatal("capacity not back after a window")
	}
}

func TestAcquireDoneContextFailsEvenWithCapacity(t *testing.T) {
	for name, l := range impls(t, newFake(), 1, time.Second) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := l.Acquire(ctx, 1); !errors.Is(err, context.Canceled) {
				t.Fatalf("Acquire = %v, want context.Canceled", err)
			}
			if !l.TryAcquire(1) {
				t.Fatal("failed Acquire took capacity")
			}
		})
	}
}
