package imitation

import (
	"net/http"
	"time"
)

// nginxLimitReq is ngx_http_limit_req_module's rule for one key, as
// ngx_http_limit_req_lookup computes it (nginx 1.22 to 1.29): excess is
// kept in thousandths of a request, the clock is nginx's millisecond
// ngx_current_msec, and the rate is stored as requests per second times
// 1000. On each request
//
//	ms = now - last (a negative ms counts as 0, below -60000 as 1)
//	excess = max(0, excess - rate*ms/1000 + 1000)
//	if excess > burst*1000: reject, state unchanged
//	else: keep excess, and move last to now if ms != 0
//
// The integer division loses the drain of a partial request: with
// rate=150r/s and no burst a request is accepted only 7 ms after the
// previous one (150·6 < 1000), so the rate a client can keep is 1000/7
// requests per second, not 150. With burst=B nodelay, B requests beyond
// the first are accepted at once and not delayed (the nodelay case; the
// delaying case is not imitated).
type nginxLimitReq struct {
	rate    int64 // requests per second × 1000
	burst   int64 // × 1000
	status  int   // limit_req_status
	excess  int64
	last    int64 // ms
	started bool
}

func newNginxLimitReq(perSecond, burst int) *nginxLimitReq {
	return &nginxLimitReq{rate: int64(perSecond) * 1000, burst: int64(burst) * 1000, status: http.StatusTooManyRequests}
}

// take applies the rule at the millisecond now, reporting acceptance.
func (r *nginxLimitReq) take(now int64) bool {
	if !r.started { // a new node: excess 0, last = now
		r.started, r.excess, r.last = true, 0, now
		return true
	}
	ms := now - r.last
	if ms < -60000 {
		ms = 1
	} else if ms < 0 {
		ms = 0
	}
	excess := max(0, r.excess-r.rate*ms/1000+1000)
	if excess > r.burst {
		return false
	}
	r.excess = excess
	if ms != 0 {
		r.last = now
	}
	return true
}

func (r *nginxLimitReq) admit(now time.Time, _ string, _ int) decision {
	if r.take(now.UnixMilli()) {
		return accept(nil)
	}
	return reject(r.status, nil)
}

// ideal: the first burst+1 requests go at once (excess 0, 1000, ...,
// burst). Without a burst, excess is back to 0 after each request, and
// the next needs rate*ms/1000 >= 1000, ms = ceil(1e6/rate), so n requests
// take (n-1)·ceil(1e6/rate) ms. With a burst, excess never needs to fall
// to 0 (the clamp loses nothing), the drains add up exactly, and request
// j (from 0) is accepted once rate·t/1000 >= (j-burst)·1000, so the last
// at t = ceil((n-1-burst)·1e6/rate) ms.
func (r *nginxLimitReq) ideal(n int, service time.Duration) time.Duration {
	b := r.burst / 1000
	if int64(n)-1 <= b {
		return service
	}
	var ms int64
	if b == 0 {
		ms = (int64(n) - 1) * ceilDiv(1e6, r.rate)
	} else {
		ms = ceilDiv((int64(n)-1-b)*1e6, r.rate)
	}
	return time.Duration(ms)*time.Millisecond + service
}
