package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/go-throttle/throttle"
)

// A retry budget keeps a failing host from getting a retry storm: here
// each request earns a fifth of a retry, on top of a floor of one retry
// per 10 s window, and a call whose retry the budget refuses ends at once.
func ExampleRetryBudget() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	s, err := throttle.NewSession(throttle.WithRetry(throttle.RetryPolicy{
		MaxRetries: 1,
		MinWait:    time.Millisecond,
		Budget:     &throttle.RetryBudget{Ratio: 0.2, MinPerSecond: 0.1, Window: 10 * time.Second},
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for i := 1; i <= 6; i++ {
		_, err := s.Get(context.Background(), srv.URL)
		var re *throttle.RetryError
		if errors.As(err, &re) {
			fmt.Printf("call %d: %d attempt(s), budget refused a retry: %v\n", i, re.Attempts, errors.Is(err, throttle.ErrRetryBudget))
		}
	}
	fmt.Println("retries:", s.Stats().Retries, "refused:", s.Stats().RetriesRefused)
	// Output:
	// call 1: 2 attempt(s), budget refused a retry: false
	// call 2: 1 attempt(s), budget refused a retry: true
	// call 3: 1 attempt(s), budget refused a retry: true
	// call 4: 1 attempt(s), budget refused a retry: true
	// call 5: 2 attempt(s), budget refused a retry: false
	// call 6: 1 attempt(s), budget refused a retry: true
	// retries: 2 refused: 4
}

// tryGet reports whether a GET of url through s gets a response within
// 50 ms, and closes its body.
func tryGet(s *throttle.Session, url string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	resp, err := s.Get(ctx, url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// holdGet sends a GET of url through s and leaves its body open, so that
// the attempt keeps its slots; close gives them back.
func holdGet(s *throttle.Session, url string) (ok bool, close func()) {
	resp, err := s.Get(context.Background(), url)
	if err != nil {
		return false, func() {}
	}
	return true, func() { resp.Body.Close() }
}

// okServer answers every request with a short body.
func okServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok")) // a body: an unread one holds its slot
	}))
}

// SetRateLimit raises or lowers the session's rate while it runs: the
// attempts already counted keep counting.
func ExampleSession_SetRateLimit() {
	srv := okServer()
	defer srv.Close()
	s, err := throttle.NewSession(throttle.WithRateLimit(1, time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println("first:", tryGet(s, srv.URL))
	fmt.Println("second, at 1 per hour:", tryGet(s, srv.URL))
	if err := s.SetRateLimit(2, time.Hour); err != nil {
		log.Fatal(err)
	}
	fmt.Println("second, at 2 per hour:", tryGet(s, srv.URL))
	fmt.Println("third:", tryGet(s, srv.URL))
	fmt.Println(s.SetRateLimit(0, time.Hour))
	// Output:
	// first: true
	// second, at 1 per hour: false
	// second, at 2 per hour: true
	// third: false
	// throttle: invalid option: SetRateLimit(n=0): n must be positive
}

// SetMaxConcurrency changes how many attempts may be in flight at once; a
// response whose body is open holds its slot.
func ExampleSession_SetMaxConcurrency() {
	srv := okServer()
	defer srv.Close()
	s, err := throttle.NewSession() // no concurrency limit: SetMaxConcurrency creates one
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if err := s.SetMaxConcurrency(1); err != nil {
		log.Fatal(err)
	}
	ok, release := holdGet(s, srv.URL)
	defer release()
	fmt.Println("first, kept open:", ok)
	fmt.Println("second, at 1:", tryGet(s, srv.URL))
	if err := s.SetMaxConcurrency(2); err != nil {
		log.Fatal(err)
	}
	fmt.Println("second, at 2:", tryGet(s, srv.URL))
	// Output:
	// first, kept open: true
	// second, at 1: false
	// second, at 2: true
}

// SetHostConcurrencyFor limits one host while the others go on as before.
func ExampleSession_SetHostConcurrencyFor() {
	slow, other := okServer(), okServer()
	defer slow.Close()
	defer other.Close()
	s, err := throttle.NewSession()
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	host := strings.TrimPrefix(slow.URL, "http://")
	if err := s.SetHostConcurrencyFor(host, 1); err != nil {
		log.Fatal(err)
	}
	ok, release := holdGet(s, slow.URL)
	defer release()
	fmt.Println("slow host, kept open:", ok)
	fmt.Println("slow host again:", tryGet(s, slow.URL))
	ok, release = holdGet(s, other.URL)
	defer release()
	fmt.Println("other host, kept open:", ok)
	fmt.Println("other host again:", tryGet(s, other.URL))
	// Output:
	// slow host, kept open: true
	// slow host again: false
	// other host, kept open: true
	// other host again: true
}

// SetHostConcurrency changes every host's own limit at once.
func ExampleSession_SetHostConcurrency() {
	srv := okServer()
	defer srv.Close()
	s, err := throttle.NewSession(throttle.WithHostConcurrency(1))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ok, release := holdGet(s, srv.URL)
	defer release()
	fmt.Println("first, kept open:", ok)
	fmt.Println("second, at 1:", tryGet(s, srv.URL))
	if err := s.SetHostConcurrency(2); err != nil {
		log.Fatal(err)
	}
	fmt.Println("second, at 2:", tryGet(s, srv.URL))
	// Output:
	// first, kept open: true
	// second, at 1: false
	// second, at 2: true
}

// SetHostRateLimit gives every host a rate limit of its own; SetRateLimitFor
// overrides it for one host.
func ExampleSession_SetHostRateLimit() {
	a, b := okServer(), okServer()
	defer a.Close()
	defer b.Close()
	s, err := throttle.NewSession()
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if err := s.SetHostRateLimit(1, time.Hour); err != nil {
		log.Fatal(err)
	}
	if err := s.SetRateLimitFor(strings.TrimPrefix(b.URL, "http://"), 2, time.Hour); err != nil {
		log.Fatal(err)
	}
	fmt.Println("a:", tryGet(s, a.URL), tryGet(s, a.URL))
	fmt.Println("b:", tryGet(s, b.URL), tryGet(s, b.URL), tryGet(s, b.URL))
	// Output:
	// a: true false
	// b: true true false
}

// SetRateLimitFor changes one host's rate limit while it runs.
func ExampleSession_SetRateLimitFor() {
	srv := okServer()
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	s, err := throttle.NewSession(throttle.WithRateLimitFor(host, 1, time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println("first:", tryGet(s, srv.URL))
	fmt.Println("second, at 1 per hour:", tryGet(s, srv.URL))
	if err := s.SetRateLimitFor(host, 3, time.Hour); err != nil {
		log.Fatal(err)
	}
	fmt.Println("second and third, at 3 per hour:", tryGet(s, srv.URL), tryGet(s, srv.URL))
	// Output:
	// first: true
	// second, at 1 per hour: false
	// second and third, at 3 per hour: true true
}
