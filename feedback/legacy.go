package feedback

import "time"

// Canonical keys of the de facto fields: X-RateLimit-* (GitHub, Discord and
// most others), X-Rate-Limit-* (X, formerly Twitter) and Discord's
// X-RateLimit-Reset-After.
const (
	keyXLimit      = "X-Ratelimit-Limit"
	keyXTLimit     = "X-Rate-Limit-Limit"
	keyXRemaining  = "X-Ratelimit-Remaining"
	keyXReset      = "X-Ratelimit-Reset"
	keyXResetAfter = "X-Ratelimit-Reset-After"
	keyXTRemaining = "X-Rate-Limit-Remaining"
	keyXTReset     = "X-Rate-Limit-Reset"
)

// epochThreshold separates the two meanings of X-RateLimit-Reset: a value
// above 10^9 seconds (September 2001) is a Unix time, as at GitHub and X; a
// smaller one is a delay in seconds, as at most other services.
const epochThreshold = 1e9

// parseLegacy reads the X-RateLimit-* and X-Rate-Limit-* families. Each
// family counts only if it states a remaining count.
func parseLegacy(h map[string][]string, now time.Time, s *Signal) {
	legacyFamily(h[keyXLimit], h[keyXRemaining], h[keyXResetAfter], h[keyXReset], now, s)
	legacyFamily(h[keyXTLimit], h[keyXTRemaining], nil, h[keyXTReset], now, s)
}

func legacyFamily(limit, remaining, resetAfter, reset []string, now time.Time, s *Signal) {
	n, ok := parseCount(firstItem(remaining))
	if !ok {
		return
	}
	l, _ := parseCount(firstItem(limit))
	s.observe(n, legacyReset(firstItem(resetAfter), firstItem(reset), now), l)
}

// legacyReset returns the reset instant, or zero if none is usable.
// Discord's X-RateLimit-Reset-After (decimal seconds) takes precedence over
// X-RateLimit-Reset, which is a Unix time above epochThreshold (decimals
// allowed, as Discord sends) and delta seconds otherwise.
func legacyReset(resetAfter, reset string, now time.Time) time.Time {
	if d, ok := parseDelay(resetAfter); ok {
		return after(now, d)
	}
	sec, nsec, ok := parseSeconds(reset)
	switch {
	case !ok:
		return time.Time{}
	case sec > epochThreshold || sec == epochThreshold && nsec > 0:
		return clampTime(time.Unix(sec, nsec), now)
	default:
		return after(now, toDelay(sec, nsec))
	}
}
