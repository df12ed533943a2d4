package redislimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/redislimit"
)

// A frozen Redis (SIGSTOP: it accepts nothing and answers nothing) holds
// no caller past WithTimeout, and the callers after the first fail at
// once. The client's own timeouts are go-redis's defaults (seconds), so
// only the limiter's timeout can be at work.
func TestFrozenRedisFailsWithinTimeout(t *testing.T) {
	srv := startRedis(t)
	const timeout = 200 * time.Millisecond
	w := newWindow(t, srv, "frozen", 10, time.Second, redislimit.WithTimeout(timeout))
	s := newSemaphore(t, srv, "frozen", 1, redislimit.WithTimeout(timeout))
	ctx := ctxFor(t, 30*time.Second)
	// Connect while Redis is up (a loaded machine may need a few tries
	// within the 200 ms timeout).
	waitFor(t, 10*time.Second, func() bool { return w.Acquire(ctx, 1) == nil })
	srv.freeze()
	defer srv.unfreeze()
	start := time.Now()
	err := w.Acquire(ctx, 1)
	if !errors.Is(err, redislimit.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	// The caller must not be held past the timeout; the slack is for a
	// loaded machine's scheduling, far below the client's 5 s.
	if d := time.Since(start); d > timeout+time.Second {
		t.Fatalf("returned after %v, want about %v", d, timeout)
	}
	start = time.Now()
	if err := w.Acquire(ctx, 1); !errors.Is(err, redislimit.ErrUnavailable) {
		t.Fatalf("second call: err = %v, want ErrUnavailable", err)
	}
	if _, err := s.Acquire(ctx); !errors.Is(err, redislimit.ErrUnavailable) {
		t.Fatalf("semaphore: err = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > timeout+time.Second {
		t.Fatalf("later calls returned after %v, want at once or within the timeout", d)
	}
	srv.unfreeze()
	// The shared limit comes back by itself.
	waitFor(t, 10*time.Second, func() bool { return w.Acquire(ctx, 1) == nil })
}

// Redis stopped mid-run: fail-closed callers get ErrUnavailable within
// the timeout, fail-open callers carry on at their local limit, and once
// Redis is back (empty: it keeps nothing) the shared limit holds again.
func TestRedisStoppedAndRestarted(t *testing.T) {
	srv := startRedis(t)
	const timeout = 200 * time.Millisecond
	local, err := ratelimit.NewWindow(2, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	closed := newWindow(t, srv, "restart", 3, time.Minute, redislimit.WithTimeout(timeout))
	open := newWindow(t, srv, "restart", 3, time.Minute, redislimit.WithTimeout(timeout), redislimit.WithFailOpen(local))
	sem := newSemaphore(t, srv, "restart", 1, redislimit.WithTimeout(timeout), redislimit.WithFailOpenConcurrency(1))
	ctx := ctxFor(t, 30*time.Second)
	waitFor(t, 10*time.Second, func() bool { return closed.Acquire(ctx, 1) == nil })
	srv.stop()

	start := time.Now()
	if err := closed.Acquire(ctx, 1); !errors.Is(err, redislimit.ErrUnavailable) {
		t.Fatalf("fail closed: err = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > timeout+time.Second {
		t.Fatalf("fail closed returned after %v", d)
	}
	// Fail open: the local limit of 2 a minute applies.
	for i := range 2 {
		if err := open.Acquire(ctx, 1); err != nil {
			t.Fatalf("fail open %d: %v", i, err)
		}
	}
	if err := open.Acquire(ctxFor(t, 100*time.Millisecond), 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("fail open past the local limit: err = %v, want DeadlineExceeded", err)
	}
	g, err := open.Reserve(ctxFor(t, 100*time.Millisecond), 1)
	if err == nil {
		t.Fatalf("Reserve past the local limit granted %v", g)
	}
	// The semaphore holds one local slot.
	release, err := sem.Acquire(ctx)
	if err != nil {
		t.Fatalf("semaphore fail open: %v", err)
	}
	if _, err := sem.Acquire(ctxFor(t, 100*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second local slot: err = %v, want DeadlineExceeded", err)
	}
	release()

	srv.restart()
	waitFor(t, 10*time.Second, func() bool { return closed.Acquire(ctx, 1) == nil })
	// Each limiter finds out for itself, at its first call once the last
	// failure is 500 ms old (the restart took less).
	time.Sleep(600 * time.Millisecond)
	// Shared again: 3 a minute over both Windows, one taken above.
	for i := range 2 {
		if err := open.Acquire(ctx, 1); err != nil {
			t.Fatalf("shared again %d: %v", i, err)
		}
	}
	if err := open.Acquire(ctxFor(t, 200*time.Millisecond), 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past the shared limit after the restart: err = %v, want DeadlineExceeded", err)
	}
}

// waitFor polls cond every 20 ms until it holds, failing t after d.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
