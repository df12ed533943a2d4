package semaphore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/go-throttle/throttle/semaphore"
)

func newWeighted(t *testing.T, n int64, opts ...semaphore.Option) *semaphore.Weighted {
	t.Helper()
	s, err := semaphore.NewWeighted(n, opts...)
	noErr(t, err)
	return s
}

// queueOrder fills s, then queues one Acquire(1) per priority in prios, in
// that order (each queued before the next starts), then releases one unit
// at a time and returns the indexes of prios in the order they were served.
func queueOrder(t *testing.T, prios []semaphore.Priority) []int {
	s := newWeighted(t, 1)
	isTrue(t, s.TryAcquire(1))
	served := make(chan int)
	var wg sync.WaitGroup
	for i, p := range prios {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Acquire(semaphore.WithPriority(context.Background(), p), 1); err == nil {
				served <- i
			}
		}()
		waitFor(t, "waiter to queue", func() bool { return s.Waiting() == i+1 })
	}
	var order []int
	for range prios {
		s.Release(1)
		order = append(order, recv(t, served))
	}
	s.Release(1)
	wg.Wait()
	equal(t, int64(0), s.Held())
	return order
}

func TestWeightedFIFO(t *testing.T) {
	n := semaphore.PriorityNormal
	equal(t, fmt.Sprint([]int{0, 1, 2, 3, 4}), fmt.Sprint(queueOrder(t, []semaphore.Priority{n, n, n, n, n})))
}

func TestWeightedPriorityOrder(t *testing.T) {
	lo, no, hi := semaphore.PriorityLow, semaphore.PriorityNormal, semaphore.PriorityHigh
	// High overtakes queued normal and low; FIFO within each priority.
	got := queueOrder(t, []semaphore.Priority{lo, no, hi, no, hi, lo})
	equal(t, fmt.Sprint([]int{2, 4, 1, 3, 0, 5}), fmt.Sprint(got))
}

func TestWeightedLargeNotStarved(t *testing.T) {
	s := newWeighted(t, 4)
	isTrue(t, s.TryAcquire(1))
	big := make(chan error, 1)
	go func() { big <- s.Acquire(context.Background(), 4) }()
	waitFor(t, "big to queue", func() bool { return s.Waiting() == 1 })

	// Small requests fit in the free capacity but must not overtake.
	isTrue(t, !s.TryAcquire(1))
	small := make(chan error, 1)
	go func() { small <- s.Acquire(context.Background(), 1) }()
	waitFor(t, "small to queue", func() bool { return s.Waiting() == 2 })
	quiet(t, big)

	s.Release(1)
	noErr(t, recv(t, big))
	quiet(t, small)
	s.Release(4)
	noErr(t, recv(t, small))
	s.Release(1)
	equal(t, int64(0), s.Held())
}

// TestWeightedAcquireCanceled is x/sync's test of the same name
// (go.dev/issue/63615): a cancelled waiter at the front must wake the
// waiters behind it, and the full weight must be free again afterwards.
func TestWeightedAcquireCanceled(t *testing.T) {
	s := newWeighted(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	noErr(t, s.Acquire(ctx, 1))
	front := make(chan error, 1)
	go func() { front <- s.Acquire(ctx, 2) }()
	waitFor(t, "front to queue", func() bool { return s.Waiting() == 1 })
	behind := make(chan error, 1)
	go func() { behind <- s.Acquire(context.Background(), 1) }()
	waitFor(t, "behind to queue", func() bool { return s.Waiting() == 2 })

	cancel()
	err := recv(t, front)
	isErr(t, err, context.Canceled)
	noErr(t, recv(t, behind), "waiter behind a cancelled front must be woken")
	s.Release(2)
	isTrue(t, s.TryAcquire(2), "full weight free after cancel")
	equal(t, 0, s.Waiting())
}

func TestWeightedCancelMany(t *testing.T) {
	const waiters = 1000
	s := newWeighted(t, 10)
	isTrue(t, s.TryAcquire(10))
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, waiters)
	for i := range waiters {
		go func() { errs <- s.Acquire(ctx, int64(1+i%10)) }()
	}
	waitFor(t, "all to queue", func() bool { return s.Waiting() == waiters })
	cancel()
	for range waiters {
		isErr(t, recv(t, errs), context.Canceled)
	}
	equal(t, 0, s.Waiting())
	s.Release(10)
	equal(t, int64(0), s.Held())
	isTrue(t, s.TryAcquire(10), "full capacity free after 1000 cancels")
}

// A cancel that races with a grant must leave nothing held either way.
func TestWeightedCancelRacesGrant(t *testing.T) {
	s := newWeighted(t, 1)
	for range 500 {
		isTrue(t, s.TryAcquire(1))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Acquire(ctx, 1) }()
		waitFor(t, "queue", func() bool { return s.Waiting() == 1 })
		go cancel()
		s.Release(1)
		if err := recv(t, done); err == nil {
			s.Release(1)
		}
		cancel()
		waitFor(t, "empty", func() bool { return s.Held() == 0 })
	}
	equal(t, 0, s.Waiting())
}

func TestWeightedDoneContextFails(t *testing.T) {
	s := newWeighted(t, 5)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Acquire(ctx, 1)
	isErr(t, err, context.Canceled)
	equal(t, int64(0), s.Held(), "capacity was free, still nothing taken")
}

func TestWeightedQueueLimit(t *testing.T) {
	s := newWeighted(t, 1, semaphore.WithQueueLimit(1))
	isTrue(t, s.TryAcquire(1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan error, 1)
	go func() { first <- s.Acquire(ctx, 1) }()
	waitFor(t, "queue", func() bool { return s.Waiting() == 1 })

	// Any priority counts against the one limit.
	err := s.Acquire(semaphore.WithPriority(context.Background(), semaphore.PriorityHigh), 1)
	isErr(t, err, semaphore.ErrQueueFull)
	cancel()
	isErr(t, recv(t, first), context.Canceled)
	s.Release(1)
}

func TestWeightedQueueLimitZeroFailsFast(t *testing.T) {
	s := newWeighted(t, 2, semaphore.WithQueueLimit(0))
	noErr(t, s.Acquire(context.Background(), 2), "free capacity is granted")
	isErr(t, s.Acquire(context.Background(), 1), semaphore.ErrQueueFull)
	s.Release(2)
	noErr(t, s.Acquire(context.Background(), 1))
}

func TestWeightedExceedsCapacity(t *testing.T) {
	s := newWeighted(t, 3)
	err := s.Acquire(context.Background(), 4)
	isErr(t, err, semaphore.ErrExceedsCapacity)
	isTrue(t, !s.TryAcquire(4))
	equal(t, 0, s.Waiting(), "never queued")
}

func TestWeightedBadInput(t *testing.T) {
	s := newWeighted(t, 3)
	isErr(t, s.Acquire(context.Background(), -1), semaphore.ErrInvalid)
	isTrue(t, !s.TryAcquire(-1))
	isTrue(t, s.TryAcquire(2))
	s.Release(-1) // ignored, no panic
	s.Release(5)  // clamps, no panic
	equal(t, int64(0), s.Held())
	equal(t, int64(3), s.Capacity())
}

func TestZeroWeighted(t *testing.T) {
	var s semaphore.Weighted
	isTrue(t, s.TryAcquire(0))
	isErr(t, s.Acquire(context.Background(), 1), semaphore.ErrExceedsCapacity)
}

func TestPriorityContext(t *testing.T) {
	ctx := context.Background()
	equal(t, semaphore.PriorityNormal, semaphore.PriorityFrom(ctx))
	equal(t, "", semaphore.ConsumerFrom(ctx))
	ctx = semaphore.WithConsumer(semaphore.WithPriority(ctx, semaphore.PriorityHigh), "a")
	equal(t, semaphore.PriorityHigh, semaphore.PriorityFrom(ctx))
	equal(t, "a", semaphore.ConsumerFrom(ctx))
	for p, want := range map[semaphore.Priority]string{-1: "low", 0: "normal", 1: "high", 7: "priority(7)"} {
		equal(t, want, p.String())
	}
}

func TestErrorsMatch(t *testing.T) {
	_, err := semaphore.NewWeighted(-1)
	isTrue(t, errors.Is(err, semaphore.ErrInvalid))
	equal(t, "semaphore: NewWeighted(n=-1): n must not be negative", err.Error())
}
