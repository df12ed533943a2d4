package semaphore_test

import (
	"context"
	"testing"

	"github.com/go-throttle/throttle/semaphore"
)

func newKeyed(t *testing.T, capacityFor func(string) int64, opts ...semaphore.Option) *semaphore.Keyed {
	t.Helper()
	k, err := semaphore.NewKeyed(capacityFor, opts...)
	noErr(t, err)
	return k
}

func TestKeyedEntriesRemoved(t *testing.T) {
	k := newKeyed(t, func(string) int64 { return 2 })
	ctx := context.Background()
	var held []semaphore.KeyedPermit
	for _, key := range []string{"a", "b", "a", "c"} {
		p, err := k.Acquire(ctx, key, 1)
		noErr(t, err)
		equal(t, key, p.Key())
		held = append(held, p)
	}
	equal(t, 3, k.Len())
	held[0].Release()
	equal(t, 3, k.Len(), "a still has a permit")
	held[2].Release()
	equal(t, 2, k.Len())
	held[1].Release()
	held[3].Release()
	equal(t, 0, k.Len())

	// Failed tries leave nothing behind either.
	_, ok := k.TryAcquire(ctx, "d", 3)
	isTrue(t, !ok)
	equal(t, 0, k.Len())
}

func TestKeyedCancelledWaitsRemoved(t *testing.T) {
	k := newKeyed(t, func(string) int64 { return 1 })
	hold, err := k.Acquire(context.Background(), "h", 1)
	noErr(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 50)
	for range 50 {
		go func() {
			_, err := k.Acquire(ctx, "h", 1)
			errs <- err
		}()
	}
	waitFor(t, "queue", func() bool { return k.Waiting() == 50 })
	equal(t, 1, k.Len())
	cancel()
	for range 50 {
		isErr(t, recv(t, errs), context.Canceled)
	}
	equal(t, 1, k.Len(), "the held permit keeps the entry")
	hold.Release()
	equal(t, 0, k.Len())
	equal(t, 0, k.Waiting())
}

func TestKeyedCapacityOverride(t *testing.T) {
	k := newKeyed(t, func(key string) int64 {
		if key == "slow.example" {
			return 1
		}
		return 3
	})
	ctx := context.Background()
	p, ok := k.TryAcquire(ctx, "slow.example", 1)
	isTrue(t, ok)
	_, ok = k.TryAcquire(ctx, "slow.example", 1)
	isTrue(t, !ok, "slow.example holds one at a time")
	var fast []semaphore.KeyedPermit
	for range 3 {
		q, ok := k.TryAcquire(ctx, "fast.example", 1)
		isTrue(t, ok)
		fast = append(fast, q)
	}
	_, err := k.Acquire(ctx, "fast.example", 4)
	isErr(t, err, semaphore.ErrExceedsCapacity)
	p.Release()
	for _, q := range fast {
		q.Release()
	}
	equal(t, 0, k.Len())
}

func TestKeyedNegativeCapacity(t *testing.T) {
	k := newKeyed(t, func(string) int64 { return -1 })
	_, err := k.Acquire(context.Background(), "x", 1)
	isErr(t, err, semaphore.ErrInvalid)
	equal(t, 0, k.Len())
}

func TestKeyedSharedOptions(t *testing.T) {
	k := newKeyed(t, func(string) int64 { return 4 }, semaphore.WithConsumerShare(0.5), semaphore.WithRejectOnQuota())
	a := consumerCtx("a")
	p, err := k.Acquire(a, "h", 2)
	noErr(t, err)
	_, err = k.Acquire(a, "h", 1)
	isErr(t, err, semaphore.ErrQuota)
	p.Release()
	equal(t, 0, k.Len())
}
