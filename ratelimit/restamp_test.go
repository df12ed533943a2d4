package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

// reserveAt reserves and commits one unit of w at the clock's time.
func commitOne(t *testing.T, w *ratelimit.Window) *ratelimit.Grant {
	t.Helper()
	g, err := w.Reserve(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	g.Commit()
	return g
}

// Restamp moves a committed grant's units to now, out of the middle of
// the Window's history: they then count for a full per from now, and the
// grants around them keep their own stamps.
func TestWindowRestamp(t *testing.T) {
	const ms = time.Millisecond
	clk := newFake()
	start := clk.Now()
	w, err := ratelimit.NewWindow(3, time.Second, ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	first := commitOne(t, w)
	clk.Set(start.Add(100 * ms))
	commitOne(t, w)
	clk.Set(start.Add(200 * ms))
	commitOne(t, w)
	clk.Set(start.Add(300 * ms))
	first.Restamp()
	first.Restamp() // again at the same instant: nothing moves
	runSteps(t, clk, start, w, []step{
		{999 * ms, 1, false},
		{1000 * ms, 1, false}, // the first grant now counts from 300 ms
		{1100 * ms, 1, true},  // the second's unit is free
		{1200 * ms, 1, true},
		{1299 * ms, 1, false},
		{1300 * ms, 1, true},
	})
}

// Two grants stamped at one instant share an entry; restamping one leaves
// the other where it was.
func TestWindowRestampSharedStamp(t *testing.T) {
	const ms = time.Millisecond
	clk := newFake()
	start := clk.Now()
	w, _ := ratelimit.NewWindow(2, time.Second, ratelimit.WithClock(clk))
	a := commitOne(t, w)
	commitOne(t, w)
	clk.Set(start.Add(500 * ms))
	a.Restamp()
	runSteps(t, clk, start, w, []step{
		{1000 * ms, 1, true}, {1000 * ms, 1, false}, {1500 * ms, 1, true},
	})
}

// A grant whose units no longer count is not brought back, a pending one
// is not stamped, and a Bucket's grant has nothing to move.
func TestRestampDoesNothingOutsideTheWindow(t *testing.T) {
	clk := newFake()
	start := clk.Now()
	w, _ := ratelimit.NewWindow(1, time.Second, ratelimit.WithClock(clk))
	g := commitOne(t, w)
	clk.Set(start.Add(time.Second))
	g.Restamp()
	if !w.TryAcquire(1) {
		t.Fatal("Restamp brought back units that had stopped counting")
	}

	clk.Set(start.Add(3 * time.Second))
	p, err := w.Reserve(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	p.Restamp() // pending: nothing to move
	p.Cancel()
	if !w.TryAcquire(1) {
		t.Fatal("Restamp of a pending grant kept its units")
	}

	b, _ := ratelimit.NewBucket(1, time.Second, ratelimit.WithClock(clk))
	bg, _ := b.Reserve(context.Background(), 1)
	bg.Commit()
	bg.Restamp()
	var nilGrant *ratelimit.Grant
	nilGrant.Restamp()
}
