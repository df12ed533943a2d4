package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
)

// newKeyedWindows returns a Keyed of Windows (n per per) on clk.
func newKeyedWindows(t *testing.T, clk *clock.Fake, n int, per time.Duration) *ratelimit.Keyed {
	t.Helper()
	k, err := ratelimit.NewKeyed(func(string) (ratelimit.Limiter, error) {
		return ratelimit.NewWindow(n, per, ratelimit.WithClock(clk))
	}, ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyedDropsIdleEntries(t *testing.T) {
	clk := newFake()
	k := newKeyedWindows(t, clk, 1, time.Second)
	ctx := context.Background()
	for i := range 100 {
		if err := k.Acquire(ctx, fmt.Sprint("host", i), 1); err != nil {
			t.Fatal(err)
		}
	}
	if k.Len() != 100 {
		t.Fatalf("Len() = %d, want 100", k.Len())
	}
	// Half a window later every entry still limits: none may go.
	clk.Advance(500 * time.Millisecond)
	for range 300 {
		k.TryAcquire("other", 1)
	}
	if k.Len() != 101 {
		t.Fatalf("Len() = %d, want 101: an entry whose history still limits was dropped", k.Len())
	}
	if k.TryAcquire("host7", 1) {
		t.Fatal("host7 granted twice in a window")
	}
	// A window after the last grant, every entry is idle.
	clk.Advance(time.Second)
	for range 300 {
		k.TryAcquire("live", 1)
	}
	if k.Len() != 1 {
		t.Fatalf("Len() = %d, want 1 after the idle entries expired", k.Len())
	}
}

func TestKeyedKeepsPendingGrant(t *testing.T) {
	clk := newFake()
	k := newKeyedWindows(t, clk, 1, time.Second)
	g, err := k.Reserve(context.Background(), "p", 1)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	for range 10 {
		k.TryAcquire("x", 1)
	}
	if k.Len() != 2 || k.TryAcquire("p", 1) {
		t.Fatal("entry with a pending grant dropped")
	}
	g.Commit()
	clk.Advance(time.Second)
	for range 10 {
		k.TryAcquire("x", 1)
	}
	if k.Len() != 1 {
		t.Fatalf("Len() = %d, want 1 once the committed grant expired", k.Len())
	}
}

func TestKeyedKeepsEntryInUse(t *testing.T) {
	clk := newFake()
	k := newKeyedWindows(t, clk, 1, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	k.TryAcquire("busy", 1)
	done := make(chan error, 1)
	go func() { done <- k.Acquire(ctx, "busy", 1) }()
	waitFor(t, "the waiter's timer", func() bool { return clk.Timers() == 1 })
	cancel()
	if err := mustRecv(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire = %v", err)
	}
	if k.Len() != 1 {
		t.Fatal("entry still limiting was dropped")
	}
}

func TestKeyedCustomLimiterNeverDropped(t *testing.T) {
	clk := newFake()
	k, _ := ratelimit.NewKeyed(func(string) (ratelimit.Limiter, error) { return &countLimiter{}, nil }, ratelimit.WithClock(clk))
	k.Acquire(context.Background(), "a", 1)
	clk.Advance(time.Hour)
	k.Acquire(context.Background(), "b", 1)
	k.Acquire(context.Background(), "b", 1)
	if k.Len() != 2 {
		t.Fatalf("Len() = %d, want 2", k.Len())
	}
	if k.TryAcquire("a", 1) {
		t.Fatal("TryAcquire on a limiter without TryAcquire reported true")
	}
	if g, err := k.Reserve(context.Background(), "a", 1); err != nil || g.N() != 1 {
		t.Fatalf("Reserve = %v, %v", g, err)
	}
}

func TestKeyedNewLimiterError(t *testing.T) {
	boom := errors.New("boom")
	k, _ := ratelimit.NewKeyed(func(key string) (ratelimit.Limiter, error) {
		if key == "nil" {
			return nil, nil
		}
		return nil, boom
	})
	if err := k.Acquire(context.Background(), "h", 1); !errors.Is(err, boom) {
		t.Fatalf("Acquire = %v, want boom", err)
	}
	if _, err := k.Reserve(context.Background(), "nil", 1); !errors.Is(err, ratelimit.ErrInvalid) {
		t.Fatalf("Reserve = %v, want ErrInvalid", err)
	}
	if k.TryAcquire("h", 1) || k.Len() != 0 {
		t.Fatal("failed creation left an entry")
	}
}

// A crawl names a new key at every call. Entries whose windows have passed
// must still go: sweeping only once the calls since the last sweep reach
// the entries now would never sweep again, since the table then grows by
// one entry a call.
func TestKeyedSweepsWhenEveryKeyIsNew(t *testing.T) {
	clk := newFake()
	k := newKeyedWindows(t, clk, 1, time.Second)
	for i := range 10_000 {
		if !k.TryAcquire(fmt.Sprint("host", i), 1) {
			t.Fatalf("host%d refused", i)
		}
		clk.Advance(100 * time.Millisecond) // about ten hosts' windows run at once
	}
	// The hosts of the last second still limit; beyond them, at most about
	// as many again may wait for the next sweep.
	if n := k.Len(); n > 64 {
		t.Fatalf("Len() = %d after 10,000 new keys, most of them idle for long", n)
	}
}
