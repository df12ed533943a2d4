package middleware_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/go-throttle/throttle/middleware"
)

// A handler behind a Throttler: each consumer (named by the X-Service-Name
// header) may make 2 requests a minute, and at most 10 requests run at
// once. The third request of "billing" is turned away with a reason.
func ExampleThrottler_Wrap() {
	th, err := middleware.New(
		middleware.WithCapacity(10),
		middleware.WithQueueLimit(100),
		middleware.WithRateLimit(2, time.Minute),
		middleware.WithExempt("/healthz"),
	)
	if err != nil {
		panic(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	})
	srv := httptest.NewServer(th.Wrap(hello))
	defer srv.Close()

	for _, path := range []string{"/", "/", "/", "/healthz"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("X-Service-Name", "billing")
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Printf("%-8s %d reason=%q RateLimit=%s\n", path, resp.StatusCode,
			resp.Header.Get("X-Throttled-Reason"), resp.Header.Get("RateLimit"))
	}
	s := th.Stats()
	fmt.Println("accepted:", s.Accepted, "rejected for rate:", s.Rejected[middleware.ReasonRate])
	// Output:
	// /        200 reason="" RateLimit="default";r=1;t=60
	// /        200 reason="" RateLimit="default";r=0;t=60
	// /        429 reason="rate" RateLimit="default";r=0;t=60
	// /healthz 200 reason="" RateLimit=
	// accepted: 2 rejected for rate: 1
}

// userKey is where authenticate puts the id of the authenticated user.
type userKey struct{}

// A consumer keyed on what the server controls, not on the X-Service-Name
// header the client chooses: the authenticated user, or else the caller's
// address. An anonymous client that sends a new name with each request
// still gets its 2 requests a minute, and no more; an authenticated user
// has a quota of its own.
func ExampleWithConsumerFunc() {
	th, err := middleware.New(
		middleware.WithRateLimit(2, time.Minute),
		middleware.WithConsumerFunc(func(r *http.Request) string {
			if id, ok := r.Context().Value(userKey{}).(string); ok {
				return "user:" + id
			}
			host, _, _ := net.SplitHostPort(r.RemoteAddr) // anonymous callers, by address
			return "addr:" + host
		}),
	)
	if err != nil {
		panic(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	})
	srv := httptest.NewServer(authenticate(th.Wrap(hello)))
	defer srv.Close()

	for _, who := range []struct{ name, token string }{
		{"billing", ""}, {"search", ""}, {"anyone-else", ""}, {"", "alice-token"},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("X-Service-Name", who.name)
		if who.token != "" {
			req.Header.Set("Authorization", "Bearer "+who.token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		outcome := fmt.Sprint(resp.StatusCode)
		if reason := resp.Header.Get("X-Throttled-Reason"); reason != "" {
			outcome += " " + reason
		}
		fmt.Printf("X-Service-Name=%q token=%q: %s\n", who.name, who.token, outcome)
	}
	// Output:
	// X-Service-Name="billing" token="": 200
	// X-Service-Name="search" token="": 200
	// X-Service-Name="anyone-else" token="": 429 rate
	// X-Service-Name="" token="alice-token": 200
}

// authenticate stands for real authentication: it puts the user a bearer
// token names into the request's context, before the Throttler runs.
func authenticate(next http.Handler) http.Handler {
	users := map[string]string{"alice-token": "alice"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if id, ok := users[token]; ok {
			r = r.WithContext(context.WithValue(r.Context(), userKey{}, id))
		}
		next.ServeHTTP(w, r)
	})
}
