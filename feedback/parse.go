package feedback

import (
	"net/http"
	"time"
)

// keyRetryAfter is the canonical key of Retry-After.
const keyRetryAfter = "Retry-After"

// Parse reads what a response with header h and status code status, received
// at now, says about its host.
//
// Every form listed in the package documentation is read, and statements
// from several forms are merged: the most restrictive remaining count wins
// (see Signal.HasRemaining), and policies accumulate up to MaxPolicies.
// Retry-After is read as RetryAfter reads it (on a 429, a 503, a 529 or a 403, retry-after-ms first)
// and takes precedence over every other field: it sets Until, and it also
// ends any remaining count stated beside it (see Signal.Until).
//
// h is indexed by canonical key, as net/http builds it (http.Header.Set,
// Add and the client's response parsing); a map filled by hand with
// non-canonical keys is not searched. Parse never panics, ignores malformed
// fields and malformed parts of fields, and does not allocate except to
// parse an HTTP-date or to unescape a policy name holding backslashes.
func Parse(h http.Header, status int, now time.Time) Signal {
	s, _ := ParseRetry(h, status, now)
	return s
}

// ParseRetry is Parse, also reporting whether the Signal's Until is a
// usable Retry-After's: the wait a client that retries the request must
// honour, which a remaining count of 0 does not direct. A caller that both
// applies the Signal to its host and retries reads the response once.
func ParseRetry(h http.Header, status int, now time.Time) (s Signal, hasRetryAfter bool) {
	parseIETF(h, now, &s)
	parseLegacy(h, now, &s)
	parseBucket(h, &s)
	parseRoute(h, &s)
	until, hasRetryAfter := RetryAfter(h, status, now)
	switch {
	case hasRetryAfter:
		s.retryAfter(until)
	case s.HasRemaining && s.Remaining == 0 && !s.ResetAt.IsZero():
		s.Until = s.ResetAt
	}
	s.Throttled = throttled(status, hasRetryAfter, &s)
	return s, hasRetryAfter
}

// throttled reports whether a response refused its request because of a
// rate limit: any 429, 503 or 529 (StatusOverloaded), and a 403 that says so with a usable
// Retry-After or a remaining count of 0. GitHub answers both its primary
// (X-RateLimit-Remaining: 0) and its secondary (Retry-After) rate limits
// with a 403; any other 403 is a plain refusal.
func throttled(status int, hasRetryAfter bool, s *Signal) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, StatusOverloaded:
		return true
	case http.StatusForbidden:
		return hasRetryAfter || s.HasRemaining && s.Remaining == 0
	}
	return false
}
