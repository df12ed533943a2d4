package feedback_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/go-throttle/throttle/feedback"
)

var sink feedback.Signal

// BenchmarkParse measures Parse on the common forms; all but
// form=http-date are expected to run without allocating.
func BenchmarkParse(b *testing.B) {
	base := http.Header{"Content-Type": {"application/json"}, "Date": {now.Format(http.TimeFormat)}}
	with := func(kv ...string) http.Header {
		h := base.Clone()
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	forms := []struct {
		name   string
		h      http.Header
		status int
	}{
		{"retry-after", with("Retry-After", "120"), 429},
		{"shopify", with("X-Shopify-Shop-Api-Call-Limit", "40/40", "Retry-After", "2.0"), 429},
		{"ietf", with("RateLimit", `"burst";r=0;t=30`, "RateLimit-Policy", `"burst";q=100;w=60, "daily";q=1000;w=86400`), 200},
		{"github", with("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4987",
			"X-RateLimit-Reset", epoch(time.Hour), "X-RateLimit-Used", "13", "X-RateLimit-Resource", "core"), 200},
		{"discord", with("X-RateLimit-Limit", "5", "X-RateLimit-Remaining", "0",
			"X-RateLimit-Reset", epoch(time.Second)+".123", "X-RateLimit-Reset-After", "1.234"), 200},
		{"none", base, 200},
		{"http-date", with("Retry-After", now.Add(time.Minute).Format(http.TimeFormat)), 503},
	}
	for _, f := range forms {
		b.Run("form="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = feedback.Parse(f.h, f.status, now)
			}
		})
	}
}
