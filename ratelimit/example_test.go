package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
)

// A Window grants at most n units in any window of length per.
func ExampleNewWindow() {
	clk := clock.NewFake(time.Now())
	w, err := ratelimit.NewWindow(3, time.Second, ratelimit.WithClock(clk))
	if err != nil {
		panic(err)
	}
	granted := 0
	for range 10 {
		if w.TryAcquire(1) {
			granted++
		}
	}
	fmt.Println("granted at once:", granted)
	clk.Advance(time.Second)
	fmt.Println("one window later:", w.HasCapacity(3))
	// Output:
	// granted at once: 3
	// one window later: true
}

// A Bucket spends its burst at once, then refills at n per per.
func ExampleNewBucket() {
	clk := clock.NewFake(time.Now())
	b, _ := ratelimit.NewBucket(10, time.Second, ratelimit.WithClock(clk))
	burst := 0
	for b.TryAcquire(1) {
		burst++
	}
	clk.Advance(300 * time.Millisecond)
	refilled := 0
	for b.TryAcquire(1) {
		refilled++
	}
	fmt.Println("burst:", burst, "refilled:", refilled)
	// Output: burst: 10 refilled: 3
}

// Reserve holds units until the work is really sent, so the window counts
// from the send; Cancel gives them back if it never is.
func ExampleReserve() {
	clk := clock.NewFake(time.Now())
	w, _ := ratelimit.NewWindow(2, time.Second, ratelimit.WithClock(clk))
	ctx := context.Background()
	sent, _ := ratelimit.Reserve(ctx, w, 1)
	dropped, _ := ratelimit.Reserve(ctx, w, 1)
	fmt.Println("free while both are pending:", w.HasCapacity(1))
	sent.Commit()    // stamped now
	dropped.Cancel() // given back
	fmt.Println("free after the cancel:", w.HasCapacity(1))
	// Output:
	// free while both are pending: false
	// free after the cancel: true
}

// Keyed keeps one limiter per host and drops the idle ones.
func ExampleKeyed() {
	clk := clock.NewFake(time.Now())
	perHost, _ := ratelimit.NewKeyed(func(host string) (ratelimit.Limiter, error) {
		return ratelimit.NewWindow(1, time.Second, ratelimit.WithClock(clk))
	}, ratelimit.WithClock(clk))
	for _, host := range []string{"a.example", "b.example", "a.example"} {
		fmt.Println(host, perHost.TryAcquire(host, 1))
	}
	// A window later a and b are idle. Sweeping is amortised: it happens
	// once every as many calls as there are entries.
	clk.Advance(time.Second)
	for range 3 {
		perHost.TryAcquire("c.example", 1)
	}
	fmt.Println("hosts kept:", perHost.Len())
	// Output:
	// a.example true
	// b.example true
	// a.example false
	// hosts kept: 1
}
