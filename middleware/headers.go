package middleware

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-throttle/throttle/semaphore"
)

// Header names, in canonical form so that they can index http.Header
// directly (textproto.CanonicalMIMEHeaderKey("RateLimit-Policy") is
// "Ratelimit-Policy"; header names are case-insensitive on the wire).
const (
	headerConsumer   = "X-Service-Name"
	headerPriority   = "X-Request-Priority"
	headerReason     = "X-Throttled-Reason"
	headerRetryAfter = "Retry-After"
	headerRateLimit  = "Ratelimit"
	headerPolicy     = "Ratelimit-Policy"
)

// defaultConsumer is WithConsumerFunc's default: the X-Service-Name header.
func defaultConsumer(r *http.Request) string {
	return r.Header.Get(headerConsumer)
}

// defaultPriority is WithPriorityFunc's default: the X-Request-Priority
// header, "high", "normal" or "low" in any case and with surrounding
// spaces ignored; anything else, or no header, is normal.
func defaultPriority(r *http.Request) semaphore.Priority {
	v := strings.TrimSpace(r.Header.Get(headerPriority))
	switch {
	case strings.EqualFold(v, "high"):
		return semaphore.PriorityHigh
	case strings.EqualFold(v, "low"):
		return semaphore.PriorityLow
	}
	return semaphore.PriorityNormal
}

// ceilSeconds returns d in whole seconds, rounded up, and at least 1: the
// form Retry-After and the RateLimit fields take.
func ceilSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(1, s)
}

// policyValue returns the RateLimit-Policy field of draft-ietf-httpapi-
// ratelimit-headers (-09, -10) for n requests per per:
// `"default";q=<n>;w=<per in seconds, rounded up>`.
func policyValue(n int, per time.Duration) string {
	return `"default";q=` + strconv.Itoa(n) + ";w=" + strconv.FormatInt(ceilSeconds(per), 10)
}

// setRateHeaders sets the RateLimit field for what the window holds and
// the RateLimit-Policy field, which is the same for every response and so
// shared (policy has len == cap == 1, so a handler's Header().Add copies it
// rather than writing into it).
func setRateHeaders(h http.Header, policy []string, remaining int, reset time.Duration) {
	h[headerPolicy] = policy
	h[headerRateLimit] = []string{rateValue(remaining, reset)}
}

// rateValue returns the RateLimit field: `"default";r=<remaining>;t=<seconds
// until the oldest counted request leaves the window, rounded up>`.
func rateValue(remaining int, reset time.Duration) string {
	var buf [64]byte
	b := append(buf[:0], `"default";r=`...)
	b = strconv.AppendInt(b, int64(remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(reset), 10)
	return string(b)
}
