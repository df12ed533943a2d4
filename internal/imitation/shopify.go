package imitation

import (
	"fmt"
	"net/http"
	"time"
)

// leakyBucket is Shopify's REST limit: a bucket of size capacity that
// each request fills by one and that leaks rate requests per second; a
// request that would overflow it is answered 429 with Retry-After: 2.0.
// Every answer carries X-Shopify-Shop-Api-Call-Limit: fill/capacity.
//
// The fill is kept in units of 1/1e9 request and leaks rate units per
// nanosecond, so the arithmetic is exact.
type leakyBucket struct {
	capacity   int64
	rate       int64  // requests per second
	retryAfter string // on a 429
	fill       int64  // in 1e-9 requests
	last       time.Time
	started    bool
}

const unit = int64(time.Second) // one request, in the bucket's units

func (b *leakyBucket) leak(now time.Time) {
	if b.started {
		if d := now.Sub(b.last); d > 0 {
			b.fill = max(0, b.fill-int64(d)*b.rate)
		}
	}
	if !b.started || now.After(b.last) {
		b.last = now
	}
	b.started = true
}

// take leaks the bucket up to now and adds one request if it fits,
// reporting whether it did.
func (b *leakyBucket) take(now time.Time) bool {
	b.leak(now)
	if b.fill+unit > b.capacity*unit {
		return false
	}
	b.fill += unit
	return true
}

func (b *leakyBucket) admit(now time.Time, _ string, _ int) decision {
	ok := b.take(now)
	h := http.Header{"X-Shopify-Shop-Api-Call-Limit": {fmt.Sprintf("%d/%d", ceilDiv(b.fill, unit), b.capacity)}}
	if ok {
		return accept(h)
	}
	h.Set("Retry-After", b.retryAfter)
	return reject(http.StatusTooManyRequests, h)
}

// ideal: capacity requests at once fill the bucket; each later one must
// wait until one request has leaked, so the last of n enters when
// n-capacity requests have leaked, (n-capacity)/rate seconds in.
func (b *leakyBucket) ideal(n int, service time.Duration) time.Duration {
	if int64(n) <= b.capacity {
		return service
	}
	return time.Duration(ceilDiv((int64(n)-b.capacity)*unit, b.rate)) + service
}
