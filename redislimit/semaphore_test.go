package redislimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/redislimit"
)

func newSemaphore(t *testing.T, srv *redisServer, key string, n int, opts ...redislimit.Option) *redislimit.Semaphore {
	t.Helper()
	s, err := redislimit.NewSemaphore(srv.client(t), key, n, append([]redislimit.Option{testTimeout}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSemaphoreHoldsN(t *testing.T) {
	srv := startRedis(t)
	a := newSemaphore(t, srv, "sem", 2)
	b := newSemaphore(t, srv, "sem", 2) // another process, as far as Redis knows
	ctx := ctxFor(t, 10*time.Second)
	r1, err := a.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctxFor(t, 150*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third slot: err = %v, want DeadlineExceeded", err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := b.Acquire(ctx)
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	r1()
	r1() // a second release does nothing
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a released slot was not taken")
	}
}

func TestSemaphoreRenewsWhileHeld(t *testing.T) {
	srv := startRedis(t)
	lease := 300 * time.Millisecond
	a := newSemaphore(t, srv, "renew", 1, redislimit.WithLease(lease))
	b := newSemaphore(t, srv, "renew", 1, redislimit.WithLease(lease))
	ctx := ctxFor(t, 10*time.Second)
	release, err := a.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Held for three leases: renewed, so b cannot take it.
	if _, err := b.Acquire(ctxFor(t, 3*lease)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b: err = %v, want DeadlineExceeded (the lease was not renewed)", err)
	}
	release()
	if _, err := b.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSemaphoreGivesUpLeaseWhenRenewalFails(t *testing.T) {
	srv := startRedis(t)
	lease := 300 * time.Millisecond
	s := newSemaphore(t, srv, "giveup", 1, redislimit.WithLease(lease), redislimit.WithTimeout(50*time.Millisecond))
	var l *redislimit.Lease
	// The 50 ms timeout is for the renewals; a loaded machine may need a
	// few tries to take the lease.
	waitFor(t, 10*time.Second, func() bool {
		var err error
		l, err = s.AcquireLease(ctxFor(t, 10*time.Second))
		return err == nil
	})
	srv.freeze()
	defer srv.unfreeze()
	select {
	case <-l.Done():
	case <-time.After(10 * lease):
		t.Fatal("a lease whose renewals fail was not given up")
	}
	if !s.IdleAt(time.Now()) {
		t.Fatal("the Semaphore still counts the given-up lease")
	}
	l.Release() // does nothing more
}

func TestSemaphoreCloseGivesBack(t *testing.T) {
	srv := startRedis(t)
	rdb := srv.client(t)
	a, err := redislimit.NewSemaphore(rdb, "close", 2, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 10*time.Second)
	l, err := a.AcquireLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Done():
	default:
		t.Fatal("Close did not end the lease")
	}
	if n, err := rdb.ZCard(ctx, "{close}:semaphore").Result(); err != nil || n != 0 {
		t.Fatalf("after Close: %d leases on Redis (%v), want 0", n, err)
	}
	if _, err := a.Acquire(ctx); !errors.Is(err, redislimit.ErrClosed) {
		t.Fatalf("after Close: err = %v, want ErrClosed", err)
	}
}

func TestNewSemaphoreInvalid(t *testing.T) {
	_, err := redislimit.NewSemaphore(nil, "", -1, redislimit.WithLease(time.Millisecond),
		redislimit.WithFailOpen(nil), redislimit.WithFailOpenConcurrency(0))
	if !errors.Is(err, ratelimit.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	local, _ := ratelimit.NewWindow(1, time.Second)
	srv := startRedis(t)
	if _, err := redislimit.NewSemaphore(srv.client(t), "k", 1, redislimit.WithFailOpen(local)); !errors.Is(err, ratelimit.ErrInvalid) {
		t.Fatalf("WithFailOpen on a Semaphore: err = %v, want ErrInvalid", err)
	}
}
