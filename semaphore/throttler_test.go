package semaphore_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/go-throttle/throttle/semaphore"
)

func newThrottler(t *testing.T, n int64, opts ...semaphore.Option) *semaphore.Throttler {
	t.Helper()
	th, err := semaphore.NewThrottler(n, opts...)
	noErr(t, err)
	return th
}

func consumerCtx(name string) context.Context {
	return semaphore.WithConsumer(context.Background(), name)
}

// Consumer A is capped at f*capacity while B still gets slots, and A
// waiting on its quota does not stall B queued behind it.
func TestThrottlerConsumerShare(t *testing.T) {
	th := newThrottler(t, 10, semaphore.WithConsumerShare(0.3)) // 3 each
	a, b := consumerCtx("a"), consumerCtx("b")
	pa, ok := th.TryAcquire(a, 3)
	isTrue(t, ok)
	_, ok = th.TryAcquire(a, 1)
	isTrue(t, !ok, "A is at its quota")
	_, err := th.Acquire(a, 4)
	isErr(t, err, semaphore.ErrExceedsCapacity, "4 > A's quota of 3 can never be granted")

	waitA := make(chan semaphore.Permit, 1)
	go func() {
		p, err := th.Acquire(a, 2)
		noErr(t, err)
		waitA <- p
	}()
	waitFor(t, "A to queue", func() bool { return th.Waiting() == 1 })

	// B is served at once although A waits ahead of it.
	pb, err := th.Acquire(b, 3)
	noErr(t, err)
	equal(t, int64(6), th.Held())
	quiet(t, waitA)

	pa.Release()
	p := recv(t, waitA)
	equal(t, int64(2), p.N())
	p.Release()
	pb.Release()
	equal(t, int64(0), th.Held())
	equal(t, 0, th.Waiting())
}

// A consumer blocked by its quota is skipped, but its later, smaller
// requests stay behind its first one (FIFO within a consumer).
func TestThrottlerConsumerFIFO(t *testing.T) {
	th := newThrottler(t, 10, semaphore.WithConsumerShare(0.3))
	a := consumerCtx("a")
	hold, err := th.Acquire(a, 2)
	noErr(t, err)
	got := make(chan int64, 2)
	for i, n := range []int64{3, 1} {
		go func() {
			p, err := th.Acquire(a, n)
			noErr(t, err)
			got <- p.N()
			p.Release()
		}()
		waitFor(t, "queue", func() bool { return th.Waiting() == i+1 })
	}
	quiet(t, got) // 1 would fit A's quota, but must not pass the 3
	hold.Release()
	equal(t, int64(3), recv(t, got))
	equal(t, int64(1), recv(t, got))
	waitFor(t, "drained", func() bool { return th.Held() == 0 })
}

// Low is capped at its share; high can use the reserve.
func TestThrottlerPriorityShare(t *testing.T) {
	th := newThrottler(t, 10, semaphore.WithPriorityShare(semaphore.PriorityLow, 0.5))
	low := semaphore.WithPriority(context.Background(), semaphore.PriorityLow)
	high := semaphore.WithPriority(context.Background(), semaphore.PriorityHigh)

	pl, err := th.Acquire(low, 5)
	noErr(t, err)
	_, ok := th.TryAcquire(low, 1)
	isTrue(t, !ok, "low is at its share")
	_, err = th.Acquire(low, 6)
	isErr(t, err, semaphore.ErrExceedsCapacity)

	lowWait := make(chan error, 1)
	go func() {
		p, err := th.Acquire(low, 1)
		if err == nil {
			defer p.Release()
		}
		lowWait <- err
	}()
	waitFor(t, "low to queue", func() bool { return th.Waiting() == 1 })

	ph, err := th.Acquire(high, 5)
	noErr(t, err, "high uses the reserve")
	equal(t, int64(10), th.Held())
	quiet(t, lowWait)
	ph.Release()
	quiet(t, lowWait) // capacity is free, but low's share is not
	pl.Release()
	noErr(t, recv(t, lowWait))
	waitFor(t, "drained", func() bool { return th.Held() == 0 })
}

func TestThrottlerQueueFullForQuota(t *testing.T) {
	th := newThrottler(t, 4, semaphore.WithConsumerShare(0.5), semaphore.WithQueueLimit(0))
	a := consumerCtx("a")
	p, err := th.Acquire(a, 2)
	noErr(t, err)
	_, err = th.Acquire(a, 1)
	isErr(t, err, semaphore.ErrQueueFull)
	isErr(t, err, semaphore.ErrQuota)
	isConsumerQuota(t, err, true)
	p.Release()
}

// With WithRejectOnQuota a caller held back by its own quota fails at once
// with an error naming that quota (it used to be TryAcquireErr's answer),
// while one that must wait for capacity still waits.
func TestThrottlerRejectOnQuota(t *testing.T) {
	th := newThrottler(t, 10, semaphore.WithRejectOnQuota(),
		semaphore.WithConsumerShare(0.3), semaphore.WithPriorityShare(semaphore.PriorityLow, 0.5))
	a := consumerCtx("a")
	low := semaphore.WithPriority(context.Background(), semaphore.PriorityLow)
	pa, err := th.Acquire(a, 3)
	noErr(t, err)
	_, err = th.Acquire(a, 1)
	isErr(t, err, semaphore.ErrQuota)
	isConsumerQuota(t, err, true)
	equal(t, "semaphore: quota exceeded: consumer share", err.Error())

	pl, err := th.Acquire(low, 5)
	noErr(t, err)
	_, err = th.Acquire(low, 1)
	isErr(t, err, semaphore.ErrQuota)
	isConsumerQuota(t, err, false)
	equal(t, "semaphore: quota exceeded: priority share", err.Error())

	ph, err := th.Acquire(context.Background(), 2)
	noErr(t, err, "the anonymous normal caller fits")
	wait := make(chan error, 1)
	go func() {
		p, err := th.Acquire(context.Background(), 1)
		if err == nil {
			p.Release()
		}
		wait <- err
	}()
	waitFor(t, "a caller short of capacity to queue", func() bool { return th.Waiting() == 1 })
	ph.Release()
	noErr(t, recv(t, wait))
	pa.Release()
	pl.Release()
	equal(t, int64(0), th.Held())
}

// isConsumerQuota checks that err holds a *QuotaError naming the consumer
// share (consumer) or a priority share.
func isConsumerQuota(t *testing.T, err error, consumer bool) {
	t.Helper()
	var qe *semaphore.QuotaError
	isTrue(t, errors.As(err, &qe), err)
	equal(t, consumer, qe.Consumer)
}

func TestThrottlerAnonymousNotCapped(t *testing.T) {
	th := newThrottler(t, 4, semaphore.WithConsumerShare(0.25))
	p, err := th.Acquire(context.Background(), 4)
	noErr(t, err, "a caller with no consumer name is not bound by the consumer share")
	p.Release()
}

func TestThrottlerCancelGivesBack(t *testing.T) {
	th := newThrottler(t, 4, semaphore.WithConsumerShare(0.5))
	a := consumerCtx("a")
	hold, err := th.Acquire(context.Background(), 4)
	noErr(t, err)
	ctx, cancel := context.WithCancel(a)
	errs := make(chan error, 100)
	for range 100 {
		go func() {
			_, err := th.Acquire(ctx, 2)
			errs <- err
		}()
	}
	waitFor(t, "queue", func() bool { return th.Waiting() == 100 })
	cancel()
	for range 100 {
		isErr(t, recv(t, errs), context.Canceled)
	}
	hold.Release()
	p, ok := th.TryAcquire(a, 2)
	isTrue(t, ok, "consumer quota fully given back")
	p.Release()
	equal(t, 0, th.Waiting())
}

func TestZeroPermit(t *testing.T) {
	var p semaphore.Permit
	p.Release() // no-op
	equal(t, int64(0), p.N())
	var kp semaphore.KeyedPermit
	kp.Release()
}

func TestInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		new  func() error
		msg  string
	}{
		{"queue limit", func() error { _, err := semaphore.NewWeighted(1, semaphore.WithQueueLimit(-1)); return err },
			"semaphore: WithQueueLimit(n=-1): n must not be negative"},
		{"consumer share", func() error { _, err := semaphore.NewThrottler(1, semaphore.WithConsumerShare(1.5)); return err },
			"semaphore: WithConsumerShare(f=1.5): f must be in (0, 1]"},
		{"consumer share zero", func() error { _, err := semaphore.NewThrottler(1, semaphore.WithConsumerShare(0)); return err },
			"semaphore: WithConsumerShare(f=0): f must be in (0, 1]"},
		{"consumer share NaN", func() error {
			_, err := semaphore.NewThrottler(1, semaphore.WithConsumerShare(math.NaN()))
			return err
		}, "semaphore: WithConsumerShare(f=NaN): f must be in (0, 1]"},
		{"priority share", func() error {
			_, err := semaphore.NewThrottler(1, semaphore.WithPriorityShare(semaphore.PriorityLow, -0.5))
			return err
		}, "semaphore: WithPriorityShare(p=low, f=-0.5): f must be in (0, 1]"},
		{"quota on Weighted", func() error { _, err := semaphore.NewWeighted(1, semaphore.WithConsumerShare(0.5)); return err },
			"semaphore: WithConsumerShare, WithPriorityShare and WithRejectOnQuota apply to Throttler and Keyed only, not Weighted"},
		{"negative capacity", func() error { _, err := semaphore.NewThrottler(-2); return err },
			"semaphore: NewThrottler(capacity=-2): capacity must not be negative"},
		{"nil capacityFor", func() error { _, err := semaphore.NewKeyed(nil); return err },
			"semaphore: NewKeyed(capacityFor=nil): capacityFor must not be nil"},
		{"keyed option", func() error {
			_, err := semaphore.NewKeyed(func(string) int64 { return 1 }, semaphore.WithQueueLimit(-3))
			return err
		}, "semaphore: WithQueueLimit(n=-3): n must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.new()
			isErr(t, err, semaphore.ErrInvalid)
			equal(t, tt.msg, err.Error())
		})
	}
}

func TestInvalidOptionsJoined(t *testing.T) {
	_, err := semaphore.NewThrottler(1, semaphore.WithQueueLimit(-1), semaphore.WithConsumerShare(2))
	isErr(t, err, semaphore.ErrInvalid)
	isTrue(t, strings.Contains(err.Error(), "WithQueueLimit(n=-1)") && strings.Contains(err.Error(), "WithConsumerShare(f=2)"), err)
	var joined interface{ Unwrap() []error }
	isTrue(t, errors.As(err, &joined) && len(joined.Unwrap()) == 2, "every bad option reported")
}
