package throttle_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle"
)

// An observer sees what the limits do: here a server that rejects the
// first request pauses its host, the retry waits out the pause, and the
// host resumes.
func ExampleWithObserver() {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0.2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	s, err := throttle.NewSession(
		throttle.WithRetry(throttle.RetryPolicy{MaxRetries: 2}),
		throttle.WithObserver(func(e throttle.Event) {
			// An observer must not block: print and return.
			switch e.Kind {
			case throttle.EventAttemptSent:
				fmt.Printf("%v: attempt %d\n", e.Kind, e.Attempt)
			case throttle.EventAttemptDone:
				fmt.Printf("%v: %d\n", e.Kind, e.StatusCode)
			case throttle.EventHostResumed:
				fmt.Println(e.Kind)
			default:
				fmt.Printf("%v: %s\n", e.Kind, e.Reason)
			}
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	resp, err := s.Get(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Output:
	// attempt sent: attempt 1
	// limit adapted: rejected
	// host paused: retry_after
	// attempt done: 429
	// retry scheduled: retry_after
	// host resumed
	// attempt sent: attempt 2
	// limit adapted: increase
	// attempt done: 200
}

// HostStats says what a host's server said and which limits are in
// force on it now: here, after a 429, the ones the client adapted, below
// the 4 in flight configured and the 10 per second the server stated.
func ExampleSession_HostStats() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Policy", `"default";q=10;w=1`)
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()

	s, err := throttle.NewSession(throttle.WithHostConcurrency(4), throttle.WithHostRateLimit(100, time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	resp, err := s.Get(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()

	for hs := range s.Hosts() {
		fmt.Println("429s:", hs.TooManyRequests)
		fmt.Println("paused for about:", time.Until(hs.PausedUntil).Round(10*time.Second))
		fmt.Println("concurrency:", hs.Concurrency)
		fmt.Println("rate:", hs.Rate)
	}
	// Output:
	// 429s: 1
	// paused for about: 30s
	// concurrency: 1 in flight (adapted)
	// rate: 9 per 1s (adapted)
}
