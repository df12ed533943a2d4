package ratelimit_test

import (
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
)

// A window admits n per any window of length per, reports what is left
// and when the oldest leaves, and is idle once all have left. (Moved from
// middleware's TestWindowSteps, whose private window this replaces.)
func TestWindowState(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	w, err := ratelimit.NewWindow(2, 10*time.Second, ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	if r, reset := w.State(); r != 2 || reset != 0 {
		t.Fatalf("fresh State() = %d, %v; want 2, 0", r, reset)
	}
	steps := []struct {
		advance   time.Duration
		ok        bool
		remaining int
		reset     time.Duration
		idle      bool // IdleAt after the step
	}{
		{0, true, 1, 10 * time.Second, false},
		{3 * time.Second, true, 0, 7 * time.Second, false},
		{6 * time.Second, false, 0, time.Second, false},
		{time.Second, true, 0, 3 * time.Second, false}, // the first left at 10s
		{13*time.Second - time.Nanosecond, true, 1, 10 * time.Second, false},
		{10 * time.Second, false, 0, 0, true},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		if i == len(steps)-1 {
			if !w.IdleAt(clk.Now()) {
				t.Errorf("step %d: not idle", i)
			}
			break
		}
		ok := w.TryAcquire(1)
		remaining, reset := w.State()
		if ok != st.ok || remaining != st.remaining || reset != st.reset {
			t.Errorf("step %d: got %v, %d, %v; want ok=%v remaining=%d reset=%v", i, ok, remaining, reset, st.ok, st.remaining, st.reset)
		}
		if got := w.IdleAt(clk.Now()); got != st.idle {
			t.Errorf("step %d: IdleAt = %v", i, got)
		}
	}
}

// Pending units lower remaining but set no reset; a queued waiter makes
// remaining 0, since it is served first.
func TestWindowStatePendingAndWaiters(t *testing.T) {
	clk := newFake()
	w, _ := ratelimit.NewWindow(4, time.Second, ratelimit.WithClock(clk))
	g, err := w.Reserve(t.Context(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if r, reset := w.State(); r != 1 || reset != 0 {
		t.Fatalf("with 3 pending: State() = %d, %v; want 1, 0", r, reset)
	}
	done := goAcquire(t.Context(), w, 2)
	waitWaiters(t, w, 1)
	if r, _ := w.State(); r != 0 {
		t.Fatalf("with a waiter: remaining %d, want 0", r)
	}
	g.Commit()
	clk.Advance(time.Second)
	if err := mustRecv(t, done); err != nil {
		t.Fatal(err)
	}
	if r, reset := w.State(); r != 2 || reset != time.Second {
		t.Fatalf("after the wait: State() = %d, %v; want 2, 1s", r, reset)
	}
}

// A huge limit keeps a bounded history with WithGranularity: arrivals are
// rounded up to the granularity, never down, so the limit stays strict.
// (Moved from middleware's TestWindowBoundedHistory.)
func TestWindowGranularityBoundsHistory(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	const n = 1 << 30
	w, err := ratelimit.NewWindow(n, time.Second, ratelimit.WithClock(clk), ratelimit.WithGranularity(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var newest time.Duration
	ratelimit.SetStampHook(w, func(at time.Duration, _ int) { newest = at })
	for range 100_000 {
		clk.Advance(3 * time.Microsecond)
		if !w.TryAcquire(1) {
			t.Fatal("refused")
		}
	}
	if l := ratelimit.RingLen(w); l > 1001 {
		t.Errorf("%d entries after 0.3s of a 1s window, want at most 1001", l)
	}
	if r, _ := w.State(); r != n-100_000 {
		t.Errorf("remaining = %d, want n-100000", r)
	}
	if newest < 300*time.Millisecond {
		t.Errorf("newest stamp %v is before the arrival", newest)
	}
	clk.Advance(time.Second + time.Millisecond)
	if !w.IdleAt(clk.Now()) {
		t.Error("not idle a window after the last arrival")
	}
}

// A fresh Window is small: its ring starts with room for two stamps, so a
// table of mostly idle Windows (one per host in a crawl) costs little.
func TestWindowFreshIsSmall(t *testing.T) {
	var w *ratelimit.Window
	bytes := allocBytes(func() {
		w, _ = ratelimit.NewWindow(1000, time.Second)
		w.TryAcquire(1)
	})
	t.Logf("a fresh Window with one stamp: %d bytes", bytes)
	if bytes > 320 {
		t.Errorf("a fresh Window with one stamp takes %d bytes, want at most 320", bytes)
	}
}
