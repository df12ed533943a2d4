package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

func newTestWindow(t *testing.T, n int, per time.Duration, clk ratelimit.Clock) *ratelimit.Window {
	t.Helper()
	w, err := ratelimit.NewWindow(n, per, ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func free(w *ratelimit.Window) int { r, _ := w.State(); return r }

// Settle below the grant gives the difference back at once and wakes a
// waiter that needs it; above it takes more, as far as there is room.
func TestGrantSettle(t *testing.T) {
	clk := newFake()
	w := newTestWindow(t, 1200, time.Minute, clk)
	g, err := w.Reserve(context.Background(), 1200)
	if err != nil {
		t.Fatal(err)
	}
	g.Settle(350) // pending: nothing happens
	if got := free(w); got != 0 {
		t.Fatalf("free after Settle of a pending grant = %d, want 0", got)
	}
	g.Commit()
	done := goAcquire(context.Background(), w, 800)
	waitWaiters(t, w, 1)
	g.Settle(350)
	if err := mustRecv(t, done); err != nil {
		t.Fatalf("waiter after Settle: %v", err)
	}
	if got := free(w); got != 50 {
		t.Fatalf("free = %d, want 50", got)
	}
	g.Settle(500) // takes 150 more, but only 50 are free
	if got, n := free(w), g.N(); got != 0 || n != 400 {
		t.Fatalf("free = %d, grant = %d; want 0, 400", got, n)
	}
	g.Settle(-5) // counts as 0
	if got := free(w); got != 400 {
		t.Fatalf("free = %d, want 400", got)
	}
	clk.Advance(time.Minute)
	g.Settle(1000) // no longer counts: nothing happens
	if got := free(w); got != 1200 {
		t.Fatalf("free after expiry = %d, want 1200", got)
	}
	var nilGrant *ratelimit.Grant
	nilGrant.Settle(1)
}

// Settled units keep their stamp: they expire with the grant.
func TestGrantSettleKeepsStamp(t *testing.T) {
	clk := newFake()
	start := clk.Now()
	w := newTestWindow(t, 10, time.Second, clk)
	g, _ := w.Reserve(context.Background(), 4)
	g.Commit()
	clk.Set(start.Add(500 * time.Millisecond))
	commitOne(t, w)
	g.Settle(8)
	if got := free(w); got != 1 {
		t.Fatalf("free = %d, want 1", got)
	}
	clk.Set(start.Add(time.Second))
	if got := free(w); got != 9 {
		t.Fatalf("free once the settled grant expired = %d, want 9", got)
	}
}

// Occupy holds capacity until the instant given, in its place among the
// stamps, and never beyond the Window's n.
func TestWindowOccupy(t *testing.T) {
	clk := newFake()
	start := clk.Now()
	w := newTestWindow(t, 100, time.Second, clk)
	commitOne(t, w)
	if got := w.Occupy(start.Add(300*time.Millisecond), 80); got != 79 {
		t.Fatalf("Occupy counted %d, want 79", got)
	}
	if got := w.Occupy(start.Add(time.Minute), 50); got != 0 {
		t.Fatalf("Occupy of fewer units than counted counted %d", got)
	}
	if got := w.Occupy(start, 100); got != 0 {
		t.Fatalf("Occupy until now counted %d", got)
	}
	clk.Set(start.Add(300 * time.Millisecond))
	if got := free(w); got != 99 {
		t.Fatalf("free after the occupied units ended = %d, want 99", got)
	}
	if got := w.Occupy(start.Add(2*time.Second), 1000); got != 99 {
		t.Fatalf("Occupy counted %d, want 99", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := goAcquire(ctx, w, 1)
	waitWaiters(t, w, 1)
	clk.Set(start.Add(time.Second)) // the committed unit expires first
	if err := mustRecv(t, done); err != nil {
		t.Fatal(err)
	}
	clk.Set(start.Add(2 * time.Second))
	if got := free(w); got != 100 {
		t.Fatalf("free at the end = %d, want 100", got)
	}
}
