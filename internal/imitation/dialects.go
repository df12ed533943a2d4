package imitation

import (
	"fmt"
	"hash/crc32"
	"math"
	"net/http"
	"strconv"
	"time"
)

// seconds formats d in seconds with millisecond precision ("0.250").
func seconds(d time.Duration) string { return strconv.FormatFloat(max(d, 0).Seconds(), 'f', 3, 64) }

// sayDiscord writes Discord's fields: the bucket's limit, what remains,
// when it resets (Unix seconds with milliseconds) and after how long, and
// the bucket's id; a rejection adds Retry-After in whole seconds (the
// JSON body carries the exact value) and the scope.
func sayDiscord(h http.Header, w *fixedWindow, route string, now time.Time, ok bool) string {
	reset := w.start.Add(w.per)
	h.Set("X-RateLimit-Limit", strconv.Itoa(w.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(w.remaining()))
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(reset.UnixMilli())/1000, 'f', 3, 64))
	h.Set("X-RateLimit-Reset-After", seconds(w.resetIn(now)))
	h.Set("X-RateLimit-Bucket", discordBucket(route))
	if ok {
		return ""
	}
	h.Set("Retry-After", strconv.FormatInt(max(ceilSeconds(w.resetIn(now)), 1), 10))
	h.Set("X-RateLimit-Scope", "user")
	h.Set("Content-Type", "application/json")
	return fmt.Sprintf(`{"message": "You are being rate limited.", "retry_after": %s, "global": false}`, seconds(w.resetIn(now)))
}

// discordBucket names a route's bucket as Discord does: an opaque hash.
func discordBucket(route string) string {
	return fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(route)))
}

// sayGitHub writes GitHub's x-ratelimit-* fields; the reset is in whole
// Unix seconds, rounded up, as GitHub's is.
func sayGitHub(h http.Header, w *fixedWindow, _ string, _ time.Time, _ bool) string {
	reset := w.start.Add(w.per)
	h.Set("X-Ratelimit-Limit", strconv.Itoa(w.limit))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(w.remaining()))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(ceilDiv(reset.UnixNano(), int64(time.Second)), 10))
	h.Set("X-Ratelimit-Used", strconv.Itoa(w.count))
	h.Set("X-Ratelimit-Resource", "core")
	return ""
}

// sayIETF10 writes draft-ietf-httpapi-ratelimit-headers-10's fields:
// the policy (q per w seconds) and the remaining quota with the seconds
// until it resets, rounded up.
func sayIETF10(h http.Header, w *fixedWindow, _ string, now time.Time, _ bool) string {
	h.Set("RateLimit-Policy", fmt.Sprintf(`"default";q=%d;w=%d`, w.limit, windowSeconds(w.per)))
	h.Set("RateLimit", fmt.Sprintf(`"default";r=%d;t=%d`, w.remaining(), ceilSeconds(w.resetIn(now))))
	return ""
}

// sayIETF06 writes draft -06's three separate fields.
func sayIETF06(h http.Header, w *fixedWindow, _ string, now time.Time, _ bool) string {
	h.Set("RateLimit-Limit", fmt.Sprintf("%d, %d;w=%d", w.limit, w.limit, windowSeconds(w.per)))
	h.Set("RateLimit-Remaining", strconv.Itoa(w.remaining()))
	h.Set("RateLimit-Reset", strconv.FormatInt(ceilSeconds(w.resetIn(now)), 10))
	return ""
}

// windowSeconds is per in whole seconds, as the drafts' w is; the
// catalogue only gives these dialects whole-second windows.
func windowSeconds(per time.Duration) int64 { return int64(math.Round(per.Seconds())) }
