package redislimit_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/redislimit"
)

// Every replica of a service builds the same limits on the same keys: the
// API key's quota of 50 requests a second and 10 in flight then holds for
// all of them together. (These examples need a Redis, so they are
// compiled but not run; examples/sharedquota runs one.)
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()

	// With Redis unreachable, each of the 5 replicas carries on at a fifth
	// of the quota instead of failing.
	local, err := ratelimit.NewWindow(10, time.Second)
	if err != nil {
		log.Fatal(err)
	}
	quota, err := redislimit.NewWindow(rdb, "quota:my-api-key", 50, time.Second, redislimit.WithFailOpen(local))
	if err != nil {
		log.Fatal(err)
	}
	defer quota.Close()
	slots, err := redislimit.NewSemaphore(rdb, "conc:my-api-key", 10, redislimit.WithFailOpenConcurrency(2))
	if err != nil {
		log.Fatal(err)
	}
	defer slots.Close()

	s, err := throttle.NewSession(throttle.WithLimiter(quota), throttle.WithSharedConcurrency(slots))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	resp, err := s.Get(context.Background(), "https://api.example.com/v1/items")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
}

// A shared limit per host: every replica crawling a host shares 10
// requests a second and 4 connections' worth of requests with the others.
func ExampleNewWindow_perHost() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	s, err := throttle.NewSession(
		throttle.WithHostLimiter(func(host string) ratelimit.Limiter {
			w, err := redislimit.NewWindow(rdb, "host:"+host, 10, time.Second)
			if err != nil {
				return nil // no shared limit for a host we cannot key
			}
			return w
		}),
		throttle.WithHostConcurrencyLimiter(func(host string) throttle.ConcurrencyLimiter {
			sem, err := redislimit.NewSemaphore(rdb, "hostconc:"+host, 4)
			if err != nil {
				return nil
			}
			return sem
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close() // closes the per-host limiters too
}

// Failing closed: with Redis down, Acquire says so at once.
func ExampleWindow_Acquire() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	w, err := redislimit.NewWindow(rdb, "jobs", 100, time.Minute, redislimit.WithTimeout(100*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	switch err := w.Acquire(context.Background(), 1); {
	case errors.Is(err, redislimit.ErrUnavailable):
		log.Print("Redis is down: try later")
	case err != nil:
		log.Fatal(err)
	}
}

// A lease tells its holder when it was given up: a long job stops then,
// rather than run on past the slot Redis grants it.
func ExampleSemaphore_AcquireLease() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	s, err := redislimit.NewSemaphore(rdb, "reports", 2, redislimit.WithLease(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	lease, err := s.AcquireLease(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	defer lease.Release()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-lease.Done(): // given up: its renewals failed
			cancel()
		case <-ctx.Done():
		}
	}()
	runJob(ctx)
}

func runJob(context.Context) {}
