package semaphore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-throttle/throttle/semaphore"
)

// A worker pool: at most 3 jobs run at once; Acquire blocks the rest.
func ExampleWeighted() {
	sem, err := semaphore.NewWeighted(3)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	results := make([]int, 10)
	var wg sync.WaitGroup
	for i := range results {
		if err := sem.Acquire(ctx, 1); err != nil {
			panic(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sem.Release(1)
			results[i] = i * i
		}()
	}
	wg.Wait()
	fmt.Println(results, sem.Held())
	// Output: [0 1 4 9 16 25 36 49 64 81] 0
}

// A Throttler caps each consumer at a share of the capacity and, with
// WithRejectOnQuota, says at once when a caller's own quota refuses it.
func ExampleThrottler() {
	th, err := semaphore.NewThrottler(10, semaphore.WithConsumerShare(0.5), semaphore.WithRejectOnQuota())
	if err != nil {
		panic(err)
	}
	alice := semaphore.WithConsumer(context.Background(), "alice")
	bob := semaphore.WithConsumer(context.Background(), "bob")

	p, _ := th.Acquire(alice, 5)
	defer p.Release()
	_, err = th.Acquire(alice, 1)
	fmt.Println("alice:", errors.Is(err, semaphore.ErrQuota))
	q, err := th.Acquire(bob, 5)
	fmt.Println("bob:", err, q.N())
	q.Release()
	_, err = th.Acquire(alice, 6)
	fmt.Println(err)
	// Output:
	// alice: true
	// bob: <nil> 5
	// semaphore: n exceeds capacity: n=6, at most 5 for priority normal
}

// A reserve for high priority: low-priority work may use at most 80%.
func ExampleWithPriorityShare() {
	th, _ := semaphore.NewThrottler(10, semaphore.WithPriorityShare(semaphore.PriorityLow, 0.8))
	low := semaphore.WithPriority(context.Background(), semaphore.PriorityLow)
	high := semaphore.WithPriority(context.Background(), semaphore.PriorityHigh)

	crawl, _ := th.Acquire(low, 8)
	_, ok := th.TryAcquire(low, 1)
	fmt.Println("more low:", ok)
	p, ok := th.TryAcquire(high, 2)
	fmt.Println("high:", ok)
	p.Release()
	crawl.Release()
	// Output:
	// more low: false
	// high: true
}

// One Throttler per host, with an override for a fragile host; entries
// disappear once nothing is held.
func ExampleKeyed() {
	hosts, _ := semaphore.NewKeyed(func(host string) int64 {
		if host == "fragile.example" {
			return 1
		}
		return 4
	})
	ctx := context.Background()
	p, _ := hosts.Acquire(ctx, "fragile.example", 1)
	_, ok := hosts.TryAcquire(ctx, "fragile.example", 1)
	fmt.Println("second slot on fragile:", ok, "keys:", hosts.Len())
	p.Release()
	fmt.Println("keys after release:", hosts.Len())
	// Output:
	// second slot on fragile: false keys: 1
	// keys after release: 0
}

// With a queue limit of 0 a caller is served at once or rejected.
func ExampleWithQueueLimit() {
	sem, _ := semaphore.NewWeighted(1, semaphore.WithQueueLimit(0))
	ctx := context.Background()
	fmt.Println(sem.Acquire(ctx, 1))
	fmt.Println(sem.Acquire(ctx, 1))
	sem.Release(1)
	// Output:
	// <nil>
	// semaphore: queue full
}
