package semaphore_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/go-throttle/throttle/semaphore"
)

type acquired struct {
	p   semaphore.Permit
	err error
}

// goAcquire runs th.Acquire(ctx, n) in a goroutine and returns the channel
// its result arrives on.
func goAcquire(ctx context.Context, th *semaphore.Throttler, n int64) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		p, err := th.Acquire(ctx, n)
		ch <- acquired{p, err}
	}()
	return ch
}

// A larger capacity admits the waiters at once, in order.
func TestSetCapacityRaiseAdmitsWaiters(t *testing.T) {
	th := newThrottler(t, 1)
	held, ok := th.TryAcquire(context.Background(), 1)
	isTrue(t, ok)
	first := goAcquire(context.Background(), th, 1)
	waitFor(t, "one waiter", func() bool { return th.Waiting() == 1 })
	second := goAcquire(context.Background(), th, 1)
	waitFor(t, "two waiters", func() bool { return th.Waiting() == 2 })
	noErr(t, th.SetCapacity(3))
	a, b := recv(t, first), recv(t, second)
	noErr(t, a.err)
	noErr(t, b.err)
	equal(t, int64(3), th.Held())
	equal(t, int64(3), th.Capacity())
	held.Release()
	a.p.Release()
	b.p.Release()
	equal(t, int64(0), th.Held())
}

// A smaller capacity takes nothing back: the holders finish, and nobody is
// admitted until the units held are below it.
func TestSetCapacityLowerLetsHoldersFinish(t *testing.T) {
	th := newThrottler(t, 3)
	var held []semaphore.Permit
	for range 3 {
		p, ok := th.TryAcquire(context.Background(), 1)
		isTrue(t, ok)
		held = append(held, p)
	}
	noErr(t, th.SetCapacity(1))
	equal(t, int64(3), th.Held(), "nothing is taken back")
	waiter := goAcquire(context.Background(), th, 1)
	waitFor(t, "a waiter", func() bool { return th.Waiting() == 1 })
	held[0].Release()
	quiet(t, waiter)
	held[1].Release()
	quiet(t, waiter)
	_, ok := th.TryAcquire(context.Background(), 1)
	isTrue(t, !ok, "held 1 of a capacity of 1")
	held[2].Release()
	got := recv(t, waiter)
	noErr(t, got.err)
	_, ok = th.TryAcquire(context.Background(), 1)
	isTrue(t, !ok, "the capacity is 1")
	got.p.Release()
}

// A waiter asking for more than the new capacity fails at once with
// ErrExceedsCapacity, and those it held up move on.
func TestSetCapacityBelowWaiterFails(t *testing.T) {
	th := newThrottler(t, 4)
	held, ok := th.TryAcquire(context.Background(), 4)
	isTrue(t, ok)
	big := goAcquire(context.Background(), th, 3)
	waitFor(t, "a waiter", func() bool { return th.Waiting() == 1 })
	small := goAcquire(context.Background(), th, 1)
	waitFor(t, "two waiters", func() bool { return th.Waiting() == 2 })
	noErr(t, th.SetCapacity(2))
	got := recv(t, big)
	isErr(t, got.err, semaphore.ErrExceedsCapacity)
	waitFor(t, "the big waiter gone", func() bool { return th.Waiting() == 1 })
	held.Release()
	s := recv(t, small)
	noErr(t, s.err)
	s.p.Release()
	_, err := th.Acquire(context.Background(), 3)
	isErr(t, err, semaphore.ErrExceedsCapacity)
	equal(t, int64(0), th.Held())
}

// The quotas are fractions of the capacity, and follow it.
func TestSetCapacityResizesQuotas(t *testing.T) {
	th := newThrottler(t, 10, semaphore.WithConsumerShare(0.5))
	a := consumerCtx("a")
	p, ok := th.TryAcquire(a, 5)
	isTrue(t, ok)
	noErr(t, th.SetCapacity(20))
	q, ok := th.TryAcquire(a, 5)
	isTrue(t, ok, "a's quota is now 10")
	_, ok = th.TryAcquire(a, 1)
	isTrue(t, !ok)
	noErr(t, th.SetCapacity(4))
	_, err := th.Acquire(a, 3)
	isErr(t, err, semaphore.ErrExceedsCapacity, "a's quota is now 2")
	p.Release()
	q.Release()
}

func TestSetCapacityInvalid(t *testing.T) {
	th := newThrottler(t, 2)
	err := th.SetCapacity(-1)
	isErr(t, err, semaphore.ErrInvalid)
	isTrue(t, strings.Contains(err.Error(), "capacity=-1"), err)
	equal(t, int64(2), th.Capacity())
}

// Capacity changed while callers acquire, release and cancel: race-free,
// and every call ends with the semaphore empty.
func TestSetCapacityConcurrent(t *testing.T) {
	th := newThrottler(t, 4, semaphore.WithConsumerShare(0.5))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			cctx := semaphore.WithConsumer(ctx, string(rune('a'+i%3)))
			for j := range 50 {
				p, err := th.Acquire(cctx, int64(1+(i+j)%2))
				if err == nil {
					p.Release()
				}
			}
		})
	}
	for i := range 300 {
		th.SetCapacity(int64(i % 6))
	}
	th.SetCapacity(8)
	cancel()
	wg.Wait()
	equal(t, int64(0), th.Held())
	equal(t, 0, th.Waiting())
}
