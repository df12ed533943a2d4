package feedback_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/go-throttle/throttle/feedback"
)

// checkInstant fails unless t is zero or within [now, now+MaxDelay+1s].
func checkInstant(t *testing.T, name string, v time.Time) {
	t.Helper()
	if !v.IsZero() && (v.Before(now) || v.After(farthest.Add(time.Second))) {
		t.Fatalf("%s = %v, outside [%v, %v]", name, v, now, farthest)
	}
}

// FuzzParse checks Parse's guarantees for arbitrary values of every field
// it reads, and an arbitrary status. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add("120", `"default";r=0;t=30`, `"burst";q=100;w=60`, "100, 100;w=60", "0", "5", "0", epoch(time.Hour), "1.234", "32/40", 429)
	f.Fuzz(func(t *testing.T, retryAfter, rateLimit, policy, limit, remaining, reset, xRemaining, xReset, xResetAfter, bucket string, status int) {
		h := http.Header{
			"Retry-After":                   {retryAfter},
			"Ratelimit":                     {rateLimit},
			"Ratelimit-Policy":              {policy},
			"Ratelimit-Limit":               {limit},
			"Ratelimit-Remaining":           {remaining},
			"Ratelimit-Reset":               {reset},
			"X-Ratelimit-Limit":             {limit},
			"X-Ratelimit-Remaining":         {xRemaining},
			"X-Ratelimit-Reset":             {xReset},
			"X-Ratelimit-Reset-After":       {xResetAfter},
			"X-Rate-Limit-Remaining":        {xRemaining},
			"X-Rate-Limit-Reset":            {xReset},
			"X-Shopify-Shop-Api-Call-Limit": {bucket},
			"X-Ratelimit-Bucket":            {bucket},
			"X-Ratelimit-Global":            {xRemaining},
			"X-Ratelimit-Scope":             {xResetAfter},
		}
		s := feedback.Parse(h, status, now)
		checkInstant(t, "Until", s.Until)
		checkInstant(t, "ResetAt", s.ResetAt)
		if s.NPolicies < 0 || s.NPolicies > feedback.MaxPolicies {
			t.Fatalf("NPolicies = %d", s.NPolicies)
		}
		for i, p := range s.Policies[:s.NPolicies] {
			if p.Quota <= 0 || p.Window <= 0 || p.Window > feedback.MaxDelay {
				t.Fatalf("Policies[%d] = %+v", i, p)
			}
		}
		if s.Remaining < 0 || !s.HasRemaining && (s.Remaining != 0 || !s.ResetAt.IsZero()) {
			t.Fatalf("HasRemaining=%v Remaining=%d ResetAt=%v", s.HasRemaining, s.Remaining, s.ResetAt)
		}
		if s.BucketSize < 0 || s.BucketFill < 0 || s.BucketFill > s.BucketSize || s.BucketSize == 0 && s.BucketFill != 0 {
			t.Fatalf("BucketFill=%d BucketSize=%d", s.BucketFill, s.BucketSize)
		}
		if s.Limit < 0 || !s.HasRemaining && s.Limit != 0 {
			t.Fatalf("HasRemaining=%v Limit=%d", s.HasRemaining, s.Limit)
		}
		forbidden := status == 403 && (!s.Until.IsZero() || s.HasRemaining && s.Remaining == 0)
		if s.Throttled != (status == 429 || status == 503 || status == 529 || forbidden) {
			t.Fatalf("Throttled = %v for status %d", s.Throttled, status)
		}
	})
}

// FuzzParseRetryAfter checks that ParseRetryAfter reports an instant within
// [now, now+MaxDelay] or nothing at all.
func FuzzParseRetryAfter(f *testing.F) {
	f.Add("120")
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := feedback.ParseRetryAfter(v, now)
		if !ok {
			if !got.IsZero() {
				t.Fatalf("ParseRetryAfter(%q) = %v, false", v, got)
			}
			return
		}
		if got.IsZero() {
			t.Fatalf("ParseRetryAfter(%q) = zero, true", v)
		}
		checkInstant(t, "ParseRetryAfter", got)
	})
}
