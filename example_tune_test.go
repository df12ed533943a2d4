package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
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
