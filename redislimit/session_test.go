package redislimit_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/internal/testserver"
	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/redislimit"
)

// Through a Session, a host's shared unit is stamped once the request is
// sent, and given back on Redis when the attempt gives up its turn (here:
// its caller's deadline passes while it waits for the session-wide slot).
func TestSessionGivesBackSharedUnit(t *testing.T) {
	srv := startRedis(t)
	rdb := srv.client(t)
	web := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	w := newWindow(t, srv, "session", 5, time.Minute)
	slots := newSemaphore(t, srv, "session", 1)
	s, err := throttle.NewSession(
		throttle.WithHostLimiter(func(string) ratelimit.Limiter { return w }),
		throttle.WithSharedConcurrency(slots),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := ctxFor(t, 10*time.Second)
	resp, err := s.Get(ctx, web.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// The commit runs in the background: wait until it stamped the unit.
	waitFor(t, 5*time.Second, func() bool {
		scores, err := rdb.ZRangeWithScores(ctx, "{session}:window", 0, -1).Result()
		return err == nil && len(scores) == 1 && int64(scores[0].Score) <= redisNow(t, rdb)
	})

	release, err := slots.Acquire(ctx) // the only slot: the next attempt waits
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := s.Get(short, web.URL); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if n, err := rdb.ZCard(ctx, "{session}:window").Result(); err != nil || n != 1 {
		t.Fatalf("%d units on Redis (%v), want 1: the unit of the attempt never sent is given back", n, err)
	}
	if !w.IdleAt(time.Now()) {
		t.Fatal("the Window still counts a pending grant")
	}
}

// A Session's Close closes the per-host limiters it made.
func TestSessionClosesHostLimiters(t *testing.T) {
	srv := startRedis(t)
	rdb := srv.client(t)
	web := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	var made *redislimit.Semaphore
	s, err := throttle.NewSession(throttle.WithHostConcurrencyLimiter(func(host string) throttle.ConcurrencyLimiter {
		sem, err := redislimit.NewSemaphore(rdb, "host:"+host, 2, testTimeout)
		if err != nil {
			t.Error(err)
			return nil
		}
		made = sem
		return sem
	}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Get(ctxFor(t, 10*time.Second), web.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	s.Close()
	if made == nil {
		t.Fatal("no limiter made")
	}
	if _, err := made.Acquire(context.Background()); !errors.Is(err, redislimit.ErrClosed) {
		t.Fatalf("after the Session's Close: err = %v, want ErrClosed", err)
	}
}
