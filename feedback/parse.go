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
// Retry-After is read only on a 429 or 503 response, and takes precedence
// over every other field for Until.
//
// h is indexed by canonical key, as net/http builds it (http.Header.Set,
// Add and the client's response parsing); a map filled by hand with
// non-canonical keys is not searched. Parse never panics, ignores malformed
// fields and malformed parts of fields, and does not allocate except to
// parse an HTTP-date or to unescape a policy name holding backslashes.
func Parse(h http.Header, status int, now time.Time) Signal {
	var s Signal
	s.Throttled = status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
	parseIETF(h, now, &s)
	parseLegacy(h, now, &s)
	if s.Throttled {
		if v := h[keyRetryAfter]; len(v) > 0 {
			if t, ok := ParseRetryAfter(v[0], now); ok {
				s.Until = t
				return s
			}
		}
	}
	if s.HasRemaining && s.Remaining == 0 && !s.ResetAt.IsZero() {
		s.Until = s.ResetAt
	}
	return s
}
