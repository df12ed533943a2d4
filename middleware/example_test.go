package middleware_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
