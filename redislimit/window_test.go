package redislimit_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/redislimit"
)

// Compile-time: a Window is a ratelimit.Limiter.
var _ ratelimit.Limiter = (*redislimit.Window)(nil)

func newWindow(t *testing.T, srv *redisServer, key string, n int, per time.Duration, opts ...redislimit.Option) *redislimit.Window {
	t.Helper()
	w, err := redislimit.NewWindow(srv.client(t), key, n, per, append([]redislimit.Option{testTimeout}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// testTimeout is the tests' WithTimeout unless they set their own: the
// default 250 ms is for a healthy Redis, and on a loaded 2-core machine
// running every package's tests at once a call can take longer.
var testTimeout = redislimit.WithTimeout(2 * time.Second)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestWindowGrantsNThenWaits(t *testing.T) {
	srv := startRedis(t)
	const per = 300 * time.Millisecond
	w := newWindow(t, srv, "wait", 3, per)
	ctx := ctxFor(t, 10*time.Second)
	start := time.Now()
	for i := range 3 {
		if err := w.Acquire(ctx, 1); err != nil {
			t.Fatalf("acquire %d: %v", i, err)
		}
	}
	if err := w.Acquire(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// The fourth unit frees when the first leaves the window: per (plus
	// the 3 ms guard) after it. Generous upper bound: a busy machine.
	if got := time.Since(start); got < per {
		t.Fatalf("fourth unit after %v, want at least %v", got, per)
	}
}

func TestWindowDeadlineFailsAtOnce(t *testing.T) {
	srv := startRedis(t)
	w := newWindow(t, srv, "deadline", 1, 5*time.Second)
	if err := w.Acquire(ctxFor(t, 5*time.Second), 1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := w.Acquire(ctxFor(t, 500*time.Millisecond), 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Fatalf("failed after %v, want at once", d)
	}
}

func TestWindowCancelledWaitReturns(t *testing.T) {
	srv := startRedis(t)
	w := newWindow(t, srv, "cancel", 1, 5*time.Second)
	if err := w.Acquire(ctxFor(t, 5*time.Second), 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Acquire(ctx, 1) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled wait did not return")
	}
}

func TestWindowPendingGrant(t *testing.T) {
	srv := startRedis(t)
	rdb := srv.client(t)
	w := newWindow(t, srv, "pending", 2, time.Minute)
	ctx := ctxFor(t, 10*time.Second)
	g1, err := w.Reserve(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := w.Reserve(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if w.IdleAt(time.Now()) {
		t.Fatal("IdleAt with grants pending")
	}
	// Both units are taken while pending: a third caller would wait.
	if err := w.Acquire(ctxFor(t, 100*time.Millisecond), 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third unit: err = %v, want DeadlineExceeded", err)
	}
	// A cancelled grant is given back on Redis at once.
	g2.Cancel()
	if err := w.Acquire(ctx, 1); err != nil {
		t.Fatalf("after Cancel: %v", err)
	}
	// A committed grant is stamped now, on Redis's clock, in the
	// background: the provisional stamp in the future moves to now.
	before := redisNow(t, rdb)
	g1.Commit()
	var scores []redis.Z
	waitFor(t, 5*time.Second, func() bool {
		scores, err = rdb.ZRangeWithScores(ctx, "{pending}:window", 0, -1).Result()
		return err == nil && len(scores) == 2 && scores[1].Score <= float64(redisNow(t, rdb))
	})
	// The Acquire's unit was stamped before, the commit's from before on.
	if z := scores[1]; z.Score < float64(before) {
		t.Fatalf("committed unit stamped at %.0f, want from %d on", z.Score, before)
	}
	if !w.IdleAt(time.Now()) {
		t.Fatal("not IdleAt with nothing pending")
	}
	// The key expires when idle: its TTL is per + guard + lease + 1 s.
	ttl, err := rdb.PTTL(ctx, "{pending}:window").Result()
	if err != nil || ttl <= 0 || ttl > time.Minute+20*time.Second {
		t.Fatalf("PTTL = %v, %v; want a TTL of about 71 s", ttl, err)
	}
}

// redisNow reads Redis's clock in microseconds.
func redisNow(t *testing.T, rdb redis.UniversalClient) int64 {
	t.Helper()
	tm, err := rdb.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixMicro()
}

func TestWindowWeighted(t *testing.T) {
	srv := startRedis(t)
	w := newWindow(t, srv, "weighted", 2500, time.Minute)
	ctx := ctxFor(t, 10*time.Second)
	if err := w.Acquire(ctx, 2000); err != nil {
		t.Fatal(err)
	}
	if err := w.Acquire(ctxFor(t, 100*time.Millisecond), 501); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if err := w.Acquire(ctx, 500); err != nil {
		t.Fatal(err)
	}
	if err := w.Acquire(ctx, 2501); !errors.Is(err, ratelimit.ErrExceedsLimit) {
		t.Fatalf("err = %v, want ErrExceedsLimit", err)
	}
}

func TestNewWindowInvalid(t *testing.T) {
	srv := startRedis(t)
	rdb := srv.client(t)
	_, err := redislimit.NewWindow(nil, "", 0, 0, redislimit.WithTimeout(0), redislimit.WithFailOpenConcurrency(2), nil)
	if !errors.Is(err, ratelimit.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, want := range []string{"rdb=nil", `key=""`, "n=0", "per=0s", "WithTimeout(0s)", "WithFailOpenConcurrency", "Option(nil)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	w, err := redislimit.NewWindow(rdb, "k", 1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Acquire(nil, 1); !errors.Is(err, ratelimit.ErrNilContext) { //nolint:staticcheck // a nil context is the point
		t.Fatalf("nil ctx: err = %v", err)
	}
	if err := w.Acquire(context.Background(), 0); !errors.Is(err, ratelimit.ErrInvalid) {
		t.Fatalf("n=0: err = %v", err)
	}
}

func TestWindowClosed(t *testing.T) {
	srv := startRedis(t)
	w := newWindow(t, srv, "closed", 1, time.Minute)
	ctx := ctxFor(t, 10*time.Second)
	if err := w.Acquire(ctx, 1); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- w.Acquire(context.Background(), 1) }()
	time.Sleep(50 * time.Millisecond)
	w.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, redislimit.ErrClosed) {
			t.Fatalf("waiter: err = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the wait")
	}
	if err := w.Acquire(ctx, 1); !errors.Is(err, redislimit.ErrClosed) {
		t.Fatalf("after Close: err = %v, want ErrClosed", err)
	}
}
