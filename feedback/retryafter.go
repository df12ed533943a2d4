package feedback

import (
	"net/http"
	"time"
)

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
