package semaphore_test

import (
	"context"
	"fmt"

	"github.com/go-throttle/throttle/semaphore"
)

// SetCapacity resizes a Throttler in use: holders keep what they hold.
func ExampleThrottler_SetCapacity() {
	th, err := semaphore.NewThrottler(2)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	a, _ := th.TryAcquire(ctx, 1)
	b, _ := th.TryAcquire(ctx, 1)
	if err := th.SetCapacity(1); err != nil {
		panic(err)
	}
	_, ok := th.TryAcquire(ctx, 1)
	fmt.Println("held:", th.Held(), "capacity:", th.Capacity(), "admitted:", ok)
	a.Release()
	_, ok = th.TryAcquire(ctx, 1)
	fmt.Println("held:", th.Held(), "admitted:", ok)
	b.Release()
	c, ok := th.TryAcquire(ctx, 1)
	fmt.Println("held:", th.Held(), "admitted:", ok)
	c.Release()
	// Output:
	// held: 2 capacity: 1 admitted: false
	// held: 1 admitted: false
	// held: 1 admitted: true
}
