package feedback_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/go-throttle/throttle/feedback"
)

// This example reads a 429 response carrying the IETF RateLimit fields and a
// Retry-After, which takes precedence: the reset stated beside it (t=30) is
// ignored, and the remaining count runs out when the pause ends.
func ExampleParse() {
	now := time.Date(2025, time.June, 1, 12, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("Retry-After", "2.0")
	h.Set("RateLimit", `"burst";r=0;t=30`)
	h.Set("RateLimit-Policy", `"burst";q=100;w=60, "daily";q=1000;w=86400`)

	s := feedback.Parse(h, http.StatusTooManyRequests, now)
	fmt.Println("throttled:", s.Throttled)
	fmt.Println("pause:", s.Until.Sub(now))
	fmt.Println("remaining:", s.Remaining, "reset in:", s.ResetAt.Sub(now))
	for _, p := range s.Policies[:s.NPolicies] {
		fmt.Printf("policy %s: %d per %v\n", p.Name, p.Quota, p.Window)
	}
	// Output:
	// throttled: true
	// pause: 2s
	// remaining: 0 reset in: 2s
	// policy burst: 100 per 1m0s
	// policy daily: 1000 per 24h0m0s
}

// This example reads a Retry-After value on its own.
func ExampleParseRetryAfter() {
	now := time.Date(2025, time.June, 1, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "0.5", "Sun, 01 Jun 2025 12:01:00 GMT", "-5"} {
		t, ok := feedback.ParseRetryAfter(v, now)
		if !ok {
			fmt.Println(v, "-> ignored")
			continue
		}
		fmt.Println(v, "->", t.Sub(now))
	}
	// Output:
	// 120 -> 2m0s
	// 0.5 -> 500ms
	// Sun, 01 Jun 2025 12:01:00 GMT -> 1m0s
	// -5 -> ignored
}
