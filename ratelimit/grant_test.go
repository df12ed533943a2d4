package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

// countLimiter is a custom Limiter with only Acquire.
type countLimiter struct{ n int }

func (c *countLimiter) Acquire(ctx context.Context, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.n += n
	return nil
}

func TestGrantNilSafe(t *testing.T) {
	var g *ratelimit.Grant
	g.Commit()
	g.Cancel()
	if g.N() != 0 {
		t.Fatal("nil grant holds units")
	}
}

func TestReserveFuncFallsBackToAcquire(t *testing.T) {
	c := &countLimiter{}
	g, err := ratelimit.Reserve(context.Background(), c, 3)
	if err != nil || g.N() != 3 || c.n != 3 {
		t.Fatalf("Reserve = %v, %v; acquired %d", g, err, c.n)
	}
	g.Cancel() // already committed: nothing to give back
	g.Commit()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ratelimit.Reserve(ctx, c, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Reserve on done ctx = %v", err)
	}
}

func TestReserveFuncUsesLimiterReserve(t *testing.T) {
	clk := newFake()
	w, _ := ratelimit.NewWindow(1, time.Second, ratelimit.WithClock(clk))
	g, err := ratelimit.Reserve(context.Background(), w, 1)
	if err != nil {
		t.Fatal(err)
	}
	if w.IdleAt(clk.Now().Add(time.Hour)) {
		t.Fatal("grant is not pending")
	}
	g.Cancel()
	if !w.TryAcquire(1) {
		t.Fatal("cancel did not give back")
	}
}
