package semaphore_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-throttle/throttle/semaphore"
)

// TestStress runs many goroutines of mixed priorities, consumers and sizes,
// some of them cancelled while waiting, and checks under -race that the
// units held never exceed the capacity or a consumer's quota, and that
// everything is given back at the end.
func TestStress(t *testing.T) {
	const (
		capacity   = 10
		goroutines = 200
		rounds     = 100
	)
	th := newThrottler(t, capacity,
		semaphore.WithConsumerShare(0.4),
		semaphore.WithPriorityShare(semaphore.PriorityLow, 0.6))
	var total atomic.Int64
	var perConsumer [4]atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			c := g % len(perConsumer)
			ctx := semaphore.WithConsumer(context.Background(), string(rune('a'+c)))
			ctx = semaphore.WithPriority(ctx, semaphore.Priority(r.IntN(3)-1))
			for range rounds {
				n := int64(1 + r.IntN(3))
				actx, cancel := ctx, context.CancelFunc(func() {})
				if r.IntN(4) == 0 {
					actx, cancel = context.WithTimeout(ctx, time.Duration(r.IntN(50))*time.Microsecond)
				}
				p, err := th.Acquire(actx, n)
				cancel()
				if err != nil {
					continue
				}
				if got := total.Add(n); got > capacity {
					t.Errorf("held %d > capacity %d", got, capacity)
				}
				if got := perConsumer[c].Add(n); got > 4 {
					t.Errorf("consumer held %d > quota 4", got)
				}
				perConsumer[c].Add(-n)
				total.Add(-n)
				p.Release()
			}
		}()
	}
	wg.Wait()
	equal(t, int64(0), th.Held())
	equal(t, 0, th.Waiting())
	_, ok := th.TryAcquire(context.Background(), capacity)
	isTrue(t, ok, "full capacity free at the end")
}

// TestStressWeighted does the same for Weighted with a mix of sizes up to
// the whole capacity, so large requests must get through.
func TestStressWeighted(t *testing.T) {
	const capacity = 8
	s := newWeighted(t, capacity)
	var total atomic.Int64
	var wg sync.WaitGroup
	for g := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 2))
			for range 100 {
				n := int64(1 + r.IntN(capacity))
				ctx := semaphore.WithPriority(context.Background(), semaphore.Priority(r.IntN(3)-1))
				if err := s.Acquire(ctx, n); err != nil {
					t.Error(err)
					return
				}
				if got := total.Add(n); got > capacity {
					t.Errorf("held %d > capacity %d", got, capacity)
				}
				total.Add(-n)
				s.Release(n)
			}
		}()
	}
	wg.Wait()
	equal(t, int64(0), s.Held())
}

func TestStressKeyed(t *testing.T) {
	k := newKeyed(t, func(key string) int64 { return int64(1 + len(key)) })
	var wg sync.WaitGroup
	for g := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := []string{"a", "bb", "ccc"}[g%3]
			for range 100 {
				p, err := k.Acquire(context.Background(), key, 1)
				if err != nil {
					t.Error(err)
					return
				}
				p.Release()
			}
		}()
	}
	wg.Wait()
	equal(t, 0, k.Len())
}
