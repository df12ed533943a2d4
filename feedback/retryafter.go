package feedback

import (
	"net/http"
	"time"
)

// StatusOverloaded is the status Anthropic answers when its service is
// overloaded (an overloaded_error): a rejection like a 503.
const StatusOverloaded = 529

// keyRetryAfterMs is the canonical key of retry-after-ms, the wait in
// milliseconds that OpenAI and Anthropic send beside Retry-After.
const keyRetryAfterMs = "Retry-After-Ms"

// RetryAfter returns the instant named by the Retry-After field of a
// response with header h and status code status, received at now, and
// whether there is one. The field is read only where it speaks of rate
// limits: on a 429 (Too Many Requests), a 503 (Service Unavailable), a 529
// (StatusOverloaded) and a 403 (Forbidden), as GitHub's secondary rate
// limits send it; elsewhere, and when it is absent or malformed,
// RetryAfter reports false. A usable retry-after-ms (milliseconds,
// decimals allowed, as OpenAI and Anthropic send it) is read before
// Retry-After, being the more precise; Retry-After is parsed as
// ParseRetryAfter parses it. h is indexed by canonical key, as in Parse.
func RetryAfter(h http.Header, status int, now time.Time) (time.Time, bool) {
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusForbidden, StatusOverloaded:
	default:
		return time.Time{}, false
	}
	if ms := h[keyRetryAfterMs]; len(ms) > 0 {
		if sec, nsec, ok := parseSeconds(trimOWS(ms[0])); ok {
			return after(now, toDelay(sec, nsec)/1000), true
		}
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

// keyShouldRetry is the canonical key of x-should-retry, with which
// OpenAI and Anthropic tell their own SDKs whether to retry.
const keyShouldRetry = "X-Should-Retry"

// ShouldRetry reads a response's x-should-retry field: retry is what it
// says ("true" or "false"), and stated whether it says either. Any other
// value states nothing.
func ShouldRetry(h http.Header) (retry, stated bool) {
	v := h[keyShouldRetry]
	if len(v) == 0 {
		return false, false
	}
	switch trimOWS(v[0]) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}
