package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
)

func TestBucketSteps(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name  string
		n     int
		per   time.Duration
		opts  []ratelimit.Option
		steps []step
	}{
		{"burst at start then exact spacing", 5, time.Second, nil, []step{
			{0, 5, true}, {0, 1, false}, {199 * ms, 1, false}, {200 * ms, 1, true},
			{399 * ms, 1, false}, {400 * ms, 1, true}, {1400 * ms, 5, true},
		}},
		{"WithBurst(1) spaces grants per/n apart", 10, time.Second, []ratelimit.Option{ratelimit.WithBurst(1)}, []step{
			{0, 1, true}, {0, 1, false}, {99 * ms, 1, false}, {100 * ms, 1, true},
			{150 * ms, 1, false}, {200 * ms, 1, true}, {time.Hour, 2, false}, {time.Hour, 1, true},
		}},
		{"weighted units", 10, time.Second, nil, []step{
			{0, 8, true}, {0, 3, false}, {100 * ms, 3, true}, {100 * ms, 1, false},
		}},
		{"WithBurst above n", 2, time.Second, []ratelimit.Option{ratelimit.WithBurst(6)}, []step{
			{0, 6, true}, {time.Second, 2, true}, {time.Second, 1, false}, {4 * time.Second, 6, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFake()
			start := clk.Now()
			b, err := ratelimit.NewBucket(tt.n, tt.per, append(tt.opts, ratelimit.WithClock(clk))...)
			if err != nil {
				t.Fatal(err)
			}
			runSteps(t, clk, start, b, tt.steps)
		})
	}
}

func TestBucketAcquireWaitsForRefill(t *testing.T) {
	clk := newFake()
	b, _ := ratelimit.NewBucket(4, time.Second, ratelimit.WithClock(clk))
	ctx := context.Background()
	if err := b.Acquire(ctx, 4); err != nil {
		t.Fatal(err)
	}
	done := goAcquire(ctx, b, 2)
	if !clk.BlockUntilTimers(1, 5*time.Second) {
		t.Fatal("waiter set no timer")
	}
	clk.Advance(499 * time.Millisecond)
	if isDone(done) {
		t.Fatal("granted before the refill")
	}
	clk.Advance(time.Millisecond)
	if err := mustRecv(t, done); err != nil {
		t.Fatal(err)
	}
	if b.HasCapacity(1) {
		t.Fatal("capacity left after spending the refill")
	}
}

func TestBucketIdleAt(t *testing.T) {
	clk := newFake()
	start := clk.Now()
	b, _ := ratelimit.NewBucket(2, time.Second, ratelimit.WithClock(clk))
	if !b.IdleAt(start) {
		t.Fatal("new bucket not idle")
	}
	b.TryAcquire(1)
	if b.IdleAt(start.Add(499 * time.Millisecond)) {
		t.Fatal("idle before refilled")
	}
	if !b.IdleAt(start.Add(500 * time.Millisecond)) {
		t.Fatal("not idle once full")
	}
	g, _ := b.Reserve(context.Background(), 1)
	if b.IdleAt(start.Add(time.Hour)) {
		t.Fatal("idle with a pending grant")
	}
	g.Commit()
	if !b.IdleAt(start.Add(time.Hour)) {
		t.Fatal("not idle after the grant was committed and refilled")
	}
	if n, per := b.Limit(); n != 2 || per != time.Second {
		t.Fatalf("Limit() = %d, %v", n, per)
	}
}

// A waiter that works out its wait part-way through a refill is granted
// at the instant the refill ends, not a nanosecond after it: x/time/rate
// counts tokens in float64, and a timer armed a nanosecond late never
// fires on a fake clock that a test advances to the instant exactly.
func TestBucketWaiterGrantedAtTheRefillInstant(t *testing.T) {
	for _, early := range []time.Duration{time.Millisecond, 3 * time.Millisecond, 30 * time.Millisecond, 70 * time.Millisecond, 99 * time.Millisecond} {
		t.Run(early.String(), func(t *testing.T) {
			clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			b, err := ratelimit.NewBucket(10, time.Second, ratelimit.WithBurst(1), ratelimit.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			if !b.TryAcquire(1) {
				t.Fatal("the first token was not free")
			}
			clk.Advance(100*time.Millisecond - early)
			done := goAcquire(context.Background(), b, 1)
			waitFor(t, "the waiter's timer", func() bool { return clk.Timers() == 1 })
			clk.Advance(early)
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("not granted at the refill instant; %d timer(s) still pending", clk.Timers())
			}
		})
	}
}
