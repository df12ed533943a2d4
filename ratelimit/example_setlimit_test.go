package ratelimit_test

import (
	"fmt"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
)

// SetLimit changes a Window in use: the units already counted keep
// counting under the new limit.
func ExampleWindow_SetLimit() {
	clk := clock.NewFake(time.Now())
	w, err := ratelimit.NewWindow(2, time.Second, ratelimit.WithClock(clk))
	if err != nil {
		panic(err)
	}
	fmt.Println(w.TryAcquire(2), w.TryAcquire(1))
	if err := w.SetLimit(3, time.Second); err != nil {
		panic(err)
	}
	fmt.Println(w.TryAcquire(1), w.TryAcquire(1))
	if err := w.SetLimit(1, time.Second); err != nil {
		panic(err)
	}
	clk.Advance(time.Second) // the 3 counted expire
	fmt.Println(w.TryAcquire(1), w.TryAcquire(1))
	// Output:
	// true false
	// true false
	// true false
}

// SetLimit and SetBurst change a Bucket's rate and burst in use.
func ExampleBucket_SetBurst() {
	clk := clock.NewFake(time.Now())
	b, err := ratelimit.NewBucket(10, time.Second, ratelimit.WithClock(clk))
	if err != nil {
		panic(err)
	}
	if err := b.SetBurst(2); err != nil { // the bucket held 10: now 2
		panic(err)
	}
	fmt.Println(b.TryAcquire(2), b.TryAcquire(1))
	if err := b.SetLimit(1, time.Second); err != nil {
		panic(err)
	}
	clk.Advance(time.Second)
	fmt.Println(b.TryAcquire(1), b.TryAcquire(1))
	// Output:
	// true false
	// true false
}
