package feedback

import (
	"net/http"
	"time"
)

// RetryAfter returns the instant named by the Retry-After field of a
// response with header h and status code status, received at now, and
// whether there is one. The field is read only where it speaks of rate
// limits: on a 429 (Too Many Requests), a 503 (Service Unavailable) and a
// 403 (Forbidden), as GitHub's secondary rate limits send it; elsewhere,
// and when it is absent or malformed, RetryAfter reports false. The value
// is parsed as ParseRetryAfter parses it. h is indexed by canonical key, as
// in Parse.
func RetryAfter(h http.Header, status int, now time.Time) (time.Time, bool) {
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusForbidden:
	default:
		return time.Time{}, false
	}
	v := h[keyRetryAfter]
	if len(v) == 0 {
		return time.Time{}, false
	}
	return ParseRetryAfter(v[0], now)
}

// ParseRetryAfter parses the value of a Retry-After field received at now.
//
// It accepts delta seconds ("120"), decimal seconds ("2.0", "0.5", as
// Shopify sends) and an HTTP-date in any format http.ParseTime accepts,
// with surrounding spaces. It reports false for an empty, negative or
// malformed value ("-5", "1e400", "inf"). The instant returned is within
// [now, now+MaxDelay]: a past HTTP-date gives now, and a delay or date
// further away than MaxDelay gives now+MaxDelay.
//
// Numeric forms do not allocate; http.ParseTime may allocate for an
// HTTP-date.
func ParseRetryAfter(v string, now time.Time) (time.Time, bool) {
	v = trimOWS(v)
	if v == "" {
		return time.Time{}, false
	}
	if isDigit(v[0]) {
		d, ok := parseDelay(v)
		if !ok {
			return time.Time{}, false
		}
		return after(now, d), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return time.Time{}, false
	}
	return clampTime(t, now), true
}
