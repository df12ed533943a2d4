package imitation

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const ms0 = int64(1) << 40 // a millisecond clock's instant far from zero

// greedy plays n requests against a rule's state, each at the first
// multiple of step (from 0, never earlier than the previous one) at which a
// copy of the state accepts it, and returns the instant of the last. The
// probes are made on copies, so a rule that counts rejections is not
// disturbed by them.
func greedy[T any](n int, step time.Duration, state T, take func(s *T, at time.Duration) bool) time.Duration {
	var at time.Duration
	for range n {
		for {
			probe := state
			if take(&probe, at) {
				state = probe
				break
			}
			at += step
		}
	}
	return at
}

func TestFixedWindow(t *testing.T) {
	w := fixedWindow{limit: 100, per: time.Second}
	for i := range 100 {
		require.True(t, w.take(t0), "request %d", i)
	}
	assert.False(t, w.take(t0), "the 101st in the window")
	assert.False(t, w.take(t0.Add(999*time.Millisecond)), "still the first window")
	assert.Equal(t, 0, w.remaining())
	assert.True(t, w.take(t0.Add(time.Second)), "a new window opens")
	assert.Equal(t, 99, w.remaining())
	assert.Equal(t, time.Second, w.resetIn(t0.Add(time.Second)))
	// The next window opens with the first request after this one ends,
	// not on a fixed grid.
	assert.True(t, w.take(t0.Add(3500*time.Millisecond)))
	assert.Equal(t, time.Second, w.resetIn(t0.Add(3500*time.Millisecond)))
}

func TestWindowIdealIsGreedy(t *testing.T) {
	r := newWindowRule(100, time.Second, http.StatusTooManyRequests, nil)
	for _, n := range []int{1, 100, 101, 300, 301} {
		g := greedy(n, time.Millisecond, fixedWindow{limit: 100, per: time.Second}, func(w *fixedWindow, at time.Duration) bool {
			return w.take(t0.Add(at))
		})
		assert.Equal(t, g+rateService, r.ideal(n, rateService), "n=%d", n)
	}
	assert.Equal(t, 2*time.Second+rateService, r.ideal(300, rateService))
}

func TestWindowRuleSilent(t *testing.T) {
	r := newWindowRule(2, time.Second, http.StatusTooManyRequests, nil)
	assert.True(t, r.admit(t0, "/a", 0).ok)
	assert.True(t, r.admit(t0, "/b", 0).ok, "one window for every route")
	d := r.admit(t0, "/a", 0)
	assert.False(t, d.ok)
	assert.Equal(t, http.StatusTooManyRequests, d.status)
	assert.Empty(t, d.header, "a silent 429 says nothing")
	assert.Empty(t, d.body)
}

func TestInflightRule(t *testing.T) {
	busy := &inflightRule{limit: 6, status: http.StatusServiceUnavailable, retryAfter: "1"}
	assert.True(t, busy.admit(t0, "", 5).ok)
	d := busy.admit(t0, "", 6)
	assert.False(t, d.ok)
	assert.Equal(t, http.StatusServiceUnavailable, d.status)
	assert.Equal(t, "1", d.header.Get("Retry-After"))
	assert.Equal(t, 2*time.Second, busy.ideal(300, 40*time.Millisecond), "50 rounds of 40 ms")

	bare := &inflightRule{limit: 3, status: http.StatusTooManyRequests}
	d = bare.admit(t0, "", 3)
	assert.Equal(t, http.StatusTooManyRequests, d.status)
	assert.Empty(t, d.header)
	assert.Equal(t, 2*time.Second, bare.ideal(300, 20*time.Millisecond), "100 rounds of 20 ms")
	assert.Equal(t, 60*time.Millisecond, bare.ideal(7, 20*time.Millisecond), "3 rounds")

	conn := &inflightRule{limit: 4, status: http.StatusTooManyRequests}
	assert.InDelta(t, 2*time.Second, conn.ideal(300, LimitConnService), float64(time.Millisecond), "75 rounds")
}

func TestLeakyBucket(t *testing.T) {
	b := &leakyBucket{capacity: 40, rate: 130, retryAfter: "2.0"}
	d := b.admit(t0, "", 0)
	require.True(t, d.ok)
	assert.Equal(t, "1/40", d.header.Get("X-Shopify-Shop-Api-Call-Limit"))
	for i := 1; i < 40; i++ {
		require.True(t, b.admit(t0, "", 0).ok, "request %d", i)
	}
	d = b.admit(t0, "", 0)
	assert.False(t, d.ok)
	assert.Equal(t, http.StatusTooManyRequests, d.status)
	assert.Equal(t, "2.0", d.header.Get("Retry-After"))
	assert.Equal(t, "40/40", d.header.Get("X-Shopify-Shop-Api-Call-Limit"))

	// One request leaks in 1/130 s, and not a nanosecond sooner.
	leak := time.Duration(ceilDiv(unit, 130))
	assert.False(t, b.take(t0.Add(leak-time.Nanosecond)))
	assert.True(t, b.take(t0.Add(leak)))
	assert.False(t, b.take(t0.Add(leak)))
	// A clock that steps back leaks nothing and does not move last back.
	assert.False(t, b.take(t0))

	fresh := leakyBucket{capacity: 40, rate: 130}
	g := greedy(300, time.Millisecond, fresh, func(b *leakyBucket, at time.Duration) bool { return b.take(t0.Add(at)) })
	ideal := fresh.ideal(300, 0)
	assert.Equal(t, 2*time.Second, ideal, "260 leaked at 130/s")
	assert.InDelta(t, g, ideal, float64(time.Millisecond), "the greedy client, on a 1 ms grid")
}

func TestNginxLimitReq(t *testing.T) {
	// rate=50r/s: the next request is accepted 20 ms after the last, not 19
	// (the figure DESIGN.md quotes).
	r := newNginxLimitReq(50, 0)
	assert.True(t, r.take(ms0))
	assert.False(t, r.take(ms0+19))
	assert.True(t, r.take(ms0+20))
	// A rejection leaves the state as it was.
	for range 5 {
		assert.False(t, r.take(ms0+21))
	}
	assert.True(t, r.take(ms0+40))

	// rate=150r/s: 150·6 < 1000, so 7 ms apart, and the surplus of 50 is lost
	// to the clamp at 0: the kept rate is 1000/7 per second.
	r = newNginxLimitReq(150, 0)
	assert.True(t, r.take(ms0))
	assert.False(t, r.take(ms0+6))
	assert.True(t, r.take(ms0+7))
	assert.False(t, r.take(ms0+13))
	assert.True(t, r.take(ms0+14))

	// Time stepping back: a small step counts as 0 ms, a huge one as 1 ms.
	r = newNginxLimitReq(1000, 0)
	assert.True(t, r.take(ms0))
	assert.False(t, r.take(ms0-5))
	assert.True(t, r.take(ms0-70000), "ms < -60000 counts as 1 ms")
}

func TestNginxLimitReqBurst(t *testing.T) {
	r := newNginxLimitReq(140, 20)
	for i := range 21 {
		require.True(t, r.take(ms0), "request %d of the burst", i)
	}
	assert.False(t, r.take(ms0))
	assert.Equal(t, int64(20000), r.excess)
	// 140·7 = 980 < 1000: not yet; 140·8 = 1120: one more, excess 19880.
	assert.False(t, r.take(ms0+7))
	assert.True(t, r.take(ms0+8))
	assert.Equal(t, int64(19880), r.excess)
	d := r.admit(time.UnixMilli(ms0+8), "", 0)
	assert.Equal(t, http.StatusTooManyRequests, d.status, "limit_req_status 429")
}

func TestNginxIdealIsGreedy(t *testing.T) {
	for _, c := range []struct{ rate, burst, n int }{
		{150, 0, 300}, {150, 0, 2}, {50, 0, 10}, {140, 20, 300}, {140, 20, 21}, {140, 20, 22}, {7, 3, 30},
	} {
		fresh := *newNginxLimitReq(c.rate, c.burst)
		g := greedy(c.n, time.Millisecond, fresh, func(r *nginxLimitReq, at time.Duration) bool {
			return r.take(ms0 + at.Milliseconds())
		})
		assert.Equal(t, g, fresh.ideal(c.n, 0), "rate=%d burst=%d n=%d", c.rate, c.burst, c.n)
	}
	assert.Equal(t, 299*7*time.Millisecond, newNginxLimitReq(150, 0).ideal(300, 0))
	assert.Equal(t, 1993*time.Millisecond, newNginxLimitReq(140, 20).ideal(300, 0))
}

func TestHAProxyRate(t *testing.T) {
	r := &haproxyRate{limit: 150, period: 1000}
	for i := range 150 {
		require.True(t, r.take(ms0), "request %d", i)
	}
	assert.False(t, r.take(ms0), "the 151st reads 151")
	assert.Equal(t, int64(151), r.curr, "the denied request is counted")

	// Next period: prev = 151 (150 accepted + 1 denied). At e ms into it
	// the estimate of one more request is floor(151·(1000-e)/1000) + 1.
	assert.False(t, r.take(ms0+1000), "151 + 1")
	assert.Equal(t, int64(151), r.prev)
	assert.Equal(t, int64(1), r.curr)
}

func TestHAProxyCountsDenied(t *testing.T) {
	// Two clients send 150 at once; one also sends 50 more that are denied.
	// In the next period the polite one may go on after 1 ms, the other
	// only after 250 ms: its denied requests weigh as much as the others.
	polite := &haproxyRate{limit: 150, period: 1000}
	eager := &haproxyRate{limit: 150, period: 1000}
	for range 150 {
		polite.take(ms0)
		eager.take(ms0)
	}
	for range 50 {
		require.False(t, eager.take(ms0))
	}
	p, e := *polite, *eager
	assert.False(t, p.take(ms0+1000))
	p = *polite
	assert.True(t, p.take(ms0+1001), "floor(150·999/1000) + 1 = 150")
	assert.False(t, e.take(ms0+1250), "floor(200·750/1000) + 1 = 151")
	e = *eager
	assert.True(t, e.take(ms0+1251), "floor(200·749/1000) + 1 = 150")
}

func TestHAProxyRotation(t *testing.T) {
	r := &haproxyRate{limit: 10, period: 1000}
	r.take(ms0 + 5)
	assert.Equal(t, ms0+5, r.currTick, "the first request starts the first period")
	r.take(ms0 + 1500)
	assert.Equal(t, ms0+1005, r.currTick, "one period on, aligned to the first")
	assert.Equal(t, int64(1), r.prev)
	r.take(ms0 + 5000)
	assert.Equal(t, ms0+5000, r.currTick, "two periods missed: restart at now")
	assert.Equal(t, int64(0), r.prev)

	// The flapping correction: with curr 0 and prev at most 1, the read is
	// prev, however much of the period remains.
	q := &haproxyRate{limit: 10, period: 1000, currTick: ms0, prev: 1}
	assert.Equal(t, int64(1), q.read(ms0+999))
	q.prev = 4
	assert.Equal(t, int64(0), q.read(ms0+999), "floor(4·1/1000)")
	// Read a period later without an update: the current count becomes the
	// past.
	q = &haproxyRate{limit: 10, period: 1000, currTick: ms0, curr: 8}
	assert.Equal(t, int64(4), q.read(ms0+1500), "8·500/1000")
	assert.Equal(t, int64(0), q.read(ms0+2500))
}

func TestHAProxyIdeal(t *testing.T) {
	r := &haproxyRate{limit: 150, period: 1000}
	// 150 at once, then the next 150 as the previous period's weight drains:
	// the k-th of them once floor(150·(1000-e)/1000) + k <= 150, the last
	// at e = 994 ms of the second period.
	assert.Equal(t, 1994*time.Millisecond, r.ideal(300, 0))
	assert.Equal(t, time.Duration(0), r.ideal(150, 0))
	assert.Equal(t, 1001*time.Millisecond+rateService, r.ideal(151, rateService))
}

func TestExportedIdeals(t *testing.T) {
	assert.Equal(t, 299*7*time.Millisecond+rateService, IdealLimitReq(150, 0, 300, rateService))
	assert.Equal(t, 1993*time.Millisecond, IdealLimitReq(140, 20, 300, 0))
	assert.Equal(t, 2*time.Second, IdealInFlight(6, 300, 40*time.Millisecond))
	assert.Equal(t, 1994*time.Millisecond, IdealHTTPReqRate(150, time.Second, 300, 0))
	assert.Equal(t, time.Millisecond, Backend(time.Millisecond).Ideal(10))
}
