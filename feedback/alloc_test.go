package feedback_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/go-throttle/throttle/feedback"
)

// TestParseAllocs pins the promise that the common forms do not allocate.
func TestParseAllocs(t *testing.T) {
	cases := []struct {
		name   string
		h      http.Header
		status int
	}{
		{"retry-after", hdr("Retry-After", "120"), 429},
		{"http-date", hdr("Retry-After", now.Add(time.Minute).Format(http.TimeFormat)), 503},
		{"ietf", hdr("RateLimit", `"burst";r=0;t=30`, "RateLimit-Policy", `"burst";q=100;w=60, "daily";q=1000;w=86400`), 200},
		{"draft-06", hdr("RateLimit-Limit", "100, 100;w=60", "RateLimit-Remaining", "0", "RateLimit-Reset", "5"), 200},
		{"draft-07", hdr("RateLimit", "limit=100, remaining=0, reset=5"), 200},
		{"github", hdr("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", epoch(time.Hour)), 403},
		{"discord", hdr("X-RateLimit-Remaining", "0", "X-RateLimit-Reset-After", "1.234", "X-RateLimit-Bucket", "abcd1234",
			"X-RateLimit-Scope", "user"), 200},
		{"none", hdr("Content-Type", "text/html"), 200},
		{"retry-after-ms", hdr("Retry-After-Ms", "1500", "Retry-After", "2"), 429},
		{"shopify", hdr("X-Shopify-Shop-Api-Call-Limit", "40/40", "Retry-After", "2.0"), 429},
		{"ietf-bytes", hdr("RateLimit", `"b";r=0;t=30`, "RateLimit-Policy", `"b";q=100;qu="content-bytes";w=60`), 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(100, func() { sink = feedback.Parse(tc.h, tc.status, now) })
			if allocs != 0 {
				t.Errorf("Parse allocates %v times per call, want 0", allocs)
			}
		})
	}
}
