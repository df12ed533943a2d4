package throttle_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/go-throttle/throttle"
)

// WithCost charges each call its estimate (prompt tokens plus max_tokens)
// against a token budget before it is sent, and Settle gives back what the
// response's usage says it did not use, so the next call does not wait.
func ExampleWithCost() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"usage":{"total_tokens":350}}`)
	}))
	defer srv.Close()

	s, err := throttle.NewSession(throttle.WithBudget("tokens", 2000, time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// Charged 1,200 each: without Settle the second call would wait for
	// the first to leave the minute's window.
	for range 3 {
		ctx := throttle.WithCost(context.Background(), "tokens", 200+1000)
		resp, err := s.Post(ctx, srv.URL, "application/json", strings.NewReader(`{"max_tokens":1000}`))
		if err != nil {
			log.Fatal(err)
		}
		var out struct {
			Usage struct {
				TotalTokens int64 `json:"total_tokens"`
			} `json:"usage"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil {
			log.Fatal(err)
		}
		throttle.Settle(resp, "tokens", out.Usage.TotalTokens)
		fmt.Println(resp.StatusCode, out.Usage.TotalTokens)
	}

	// A call that could never fit fails at once instead of waiting forever.
	_, err = s.Get(throttle.WithCost(context.Background(), "tokens", 5000), srv.URL)
	fmt.Println(errors.Is(err, throttle.ErrCostExceedsBudget))
	// Output:
	// 200 350
	// 200 350
	// 200 350
	// true
}

// WithBudgetFor gives one host a budget of its own, charged before the
// session's budget of the same name.
func ExampleWithBudgetFor() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	s, err := throttle.NewSession(
		throttle.WithBudgetFor(host, "input-tokens", 40_000, time.Minute),
		throttle.WithBudget("input-tokens", 100_000, time.Minute),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := throttle.WithCost(context.Background(), "input-tokens", 30_000)
	resp, err := s.Get(ctx, srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)

	// The host's budget has 10,000 left: a second call would wait for it,
	// and this one's deadline cannot be met, so it fails at once.
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = s.Get(ctx, srv.URL)
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	// Output:
	// 200
	// true
}
