package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// Issue 7: a window or refill period as long as a time.Duration can be is
// honoured, not wrapped round into the past. The clock has moved on since
// the limiter was made, so the grant's offset plus per would overflow.
func TestExtremePerIsHonoured(t *testing.T) {
	for _, per := range []time.Duration{math.MaxInt64, math.MaxInt64 - 1, 1 << 62} {
		for name := range impls(t, newFake(), 1, time.Second) {
			t.Run(name+"/"+per.String(), func(t *testing.T) {
				clk := newFake()
				l := impls(t, clk, 1, per)[name]
				clk.Advance(time.Hour)
				if !l.TryAcquire(1) {
					t.Fatal("the first unit was refused")
				}
				if l.TryAcquire(1) || l.HasCapacity(1) {
					t.Fatal("a second unit was granted inside the window")
				}
				if l.IdleAt(clk.Now()) {
					t.Fatal("the limiter reports idle inside the window")
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				err := l.Acquire(ctx, 1)
				if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
					t.Fatalf("Acquire = %v, want a DeadlineExceeded at once", err)
				}
				if clk.Timers() != 0 {
					t.Fatal("Acquire set a timer before failing")
				}
			})
		}
	}
}

// A window of 1ns forgets a grant 1ns after it.
func TestTinyPer(t *testing.T) {
	for name := range impls(t, newFake(), 1, time.Second) {
		t.Run(name, func(t *testing.T) {
			clk := newFake()
			l := impls(t, clk, 1, time.Nanosecond)[name]
			for range 3 {
				if !l.TryAcquire(1) {
					t.Fatal("refused after the window had passed")
				}
				clk.Advance(time.Nanosecond)
			}
		})
	}
}
