package imitation

import (
	"net/http"
	"time"
)

// haproxyRate is HAProxy's http_req_rate(period) in a stick table, read
// by a rule "http-request deny deny_status 429 if { sc_http_req_rate(0)
// gt limit }" after "http-request track-sc0 src". It is HAProxy's
// freq_ctr (src/freq_ctr.c, include/haproxy/freq_ctr.h):
//
//   - track-sc0 counts every request, denied ones too, in curr
//     (update_freq_ctr_period). When a period has passed since curr_tick,
//     curr becomes prev and curr_tick moves on by one period; when two
//     have passed, prev is 0 and curr_tick jumps to now. A new entry's
//     first request therefore starts its first period.
//   - sc_http_req_rate reads (read_freq_ctr_period, freq_ctr_total with
//     pend = -1) floor((prev·remain + curr·period) / period), remain being
//     the milliseconds left in the current period: the previous period's
//     count weighted by how much of it still overlaps a sliding period,
//     plus the current one's. When curr is 0 and prev at most 1 it reads
//     prev (HAProxy's correction against flapping at very low rates).
//
// So a client that keeps retrying into a deny keeps the rate above the
// limit: its denied requests count as much as accepted ones.
type haproxyRate struct {
	limit    int64
	period   int64 // ms
	currTick int64
	curr     int64
	prev     int64
}

// update counts one request at the millisecond now.
func (r *haproxyRate) update(now int64) {
	if now-r.currTick < r.period {
		r.curr++
		return
	}
	r.prev, r.curr = r.curr, 1
	r.currTick += r.period
	if now-r.currTick >= r.period {
		r.prev, r.currTick = 0, now
	}
}

// read is the rate estimate at the millisecond now.
func (r *haproxyRate) read(now int64) int64 {
	past, curr := r.prev, r.curr
	remain := r.currTick + r.period - now
	if remain < 0 {
		remain += r.period
		if remain >= 0 {
			past = curr
		} else {
			past = 0
		}
		curr = 0
	}
	if curr == 0 && past <= 1 {
		return past
	}
	return (past*remain + curr*r.period) / r.period
}

// take counts a request at now and reports whether the deny rule lets it
// through.
func (r *haproxyRate) take(now int64) bool {
	r.update(now)
	return r.read(now) <= r.limit
}

func (r *haproxyRate) admit(now time.Time, _ string, _ int) decision {
	if r.take(now.UnixMilli()) {
		return accept(nil)
	}
	return reject(http.StatusTooManyRequests, nil)
}

// ideal is found by playing the rule against a client that sends each
// request at the first millisecond it would pass, trying on a copy so that
// its probes are not counted. Sending as early as possible is optimal
// here: no period can take more than limit requests (the estimate is at
// least curr), and the greedy client fills each period to limit by its
// end, so it is never behind another client at any instant.
func (r *haproxyRate) ideal(n int, service time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	sim := haproxyRate{limit: r.limit, period: r.period}
	const t0 = int64(1) << 40 // any instant far from the zero tick
	t := t0
	for range n {
		for {
			probe := sim
			if probe.take(t) {
				sim = probe
				break
			}
			t++
		}
	}
	return time.Duration(t-t0)*time.Millisecond + service
}
