package throttle

import (
	"net/http"
	"time"

	"github.com/go-throttle/throttle/feedback"
)

// A server may keep its limits per route rather than per host: Discord
// names, in X-RateLimit-Bucket, the bucket its counts apply to, and the
// routes that share a bucket name the same one. The host then keeps a
// budget per bucket, and learns which bucket each route counts in from
// its responses: a route's attempts wait for their bucket's budget and
// pause, and its counts do not hold the host's other routes back. A route
// whose bucket is not known yet goes as a new host does: its first
// request alone, the others once it has answered (for at most
// firstContactWait). A refusal of the global limit (X-RateLimit-Global)
// still pauses the whole host.
//
// A route is a method and a path, so the routes of one template (a
// message's path, with its id) are each their own until their responses
// name the bucket they share; Discord also splits a bucket by its route's
// major parameter (the channel or guild), which one budget per bucket
// counts together: that can only slow the client, never overfill a
// bucket. A host keeps at most maxRoutes routes and maxRouteBuckets
// buckets; the routes beyond go under the host's limits alone.

// hostRoutes is what a host's responses said of its route buckets.
type hostRoutes struct {
	routes  map[routeKey]*route
	buckets map[string]*routeBucket
}

// routeKey names a route: its method ("GET" for "") and path.
type routeKey struct{ method, path string }

// route is what is known of one route: its bucket once a response named
// it (known; a known route without a bucket is not limited per route),
// and its first contact until then.
type route struct {
	bucket     *routeBucket
	known      bool
	probing    bool
	probeDone  chan struct{}
	probeSince int64
}

// routeBucket is one bucket's budget, its pause, and its attempts in
// flight (which its counts may not include yet).
type routeBucket struct {
	statedBudget
	pausedUntil int64
	inflight    int
}

// routeHold is what an attempt holds of its route: its request, whose
// method and path name the route, the route, the bucket that counts it in
// flight (nil if none), whether it is the route's first contact, and
// whether its end was seen.
type routeHold struct {
	req          *http.Request
	route        *route
	bucket       *routeBucket
	probe, ended bool
}

const (
	maxRoutes       = 1024
	maxRouteBuckets = 256
)

func keyOf(req *http.Request) routeKey {
	m := req.Method
	if m == "" {
		m = http.MethodGet
	}
	return routeKey{m, req.URL.Path}
}

// routeLocked returns the route of req, made if need be; nil when the host
// keeps no route buckets, or keeps as many routes as it may.
func (h *host) routeLocked(req *http.Request) *route {
	rs := h.routes
	if rs == nil || req == nil || req.URL == nil {
		return nil
	}
	k := keyOf(req)
	r := rs.routes[k]
	if r == nil && len(rs.routes) < maxRoutes {
		r = &route{}
		rs.routes[k] = r
	}
	return r
}

// bucketLocked returns the bucket called id, made if need be; nil when the
// host keeps as many as it may.
func (rs *hostRoutes) bucketLocked(id string) *routeBucket {
	b := rs.buckets[id]
	if b == nil && len(rs.buckets) < maxRouteBuckets {
		b = &routeBucket{}
		rs.buckets[id] = b
	}
	return b
}

// routeBlockedLocked says what the attempt h must wait for on its route at
// now, as blockedLocked does for the host: the route's first contact (a
// channel and the instant it stops waiting for it), or the end of its
// bucket's pause or spent budget, with what wakes it if the budget gets
// room first; nothing when it may go. An attempt that finds its route
// unknown and nobody probing it becomes its probe.
func (t *hostTable) routeBlockedLocked(st *host, h *hold, now int64) (<-chan struct{}, int64) {
	r := st.routeLocked(h.rt.req)
	if r == nil {
		return nil, 0
	}
	h.rt.route = r
	if !r.known {
		switch {
		case h.rt.probe:
		case r.probing && now < r.probeSince+int64(firstContactWait):
			return r.probeDone, r.probeSince + int64(firstContactWait)
		case !r.probing:
			r.probing, r.probeDone, r.probeSince, h.rt.probe = true, make(chan struct{}), now, true
		}
		return nil, 0
	}
	b := r.bucket
	if b == nil {
		return nil, 0
	}
	if now < b.pausedUntil {
		return nil, b.pausedUntil
	}
	until := b.spentUntil(now)
	return b.wakeLocked(until), until
}

// acquireRoute waits until the attempt h may go on its route, if its host
// keeps route buckets; it runs before the host's own admission (see
// Transport.acquire), so that an attempt waiting for its route holds
// nothing of the host's.
func (t *Transport) acquireRoute(w *waiter, key string, h *hold) error {
	ht := t.hosts
	if ht == nil || !ht.routed.Load() || h.rt.req == nil {
		return nil
	}
	st := ht.enter(key)
	defer ht.leave(st)
	for {
		ht.mu.Lock()
		now := ht.now()
		ch, until := ht.routeBlockedLocked(st, h, now)
		ht.mu.Unlock()
		if ch == nil && until == 0 {
			return nil
		}
		if err := ht.wait(w.ctx, key, ch, until, now); err != nil {
			return err
		}
	}
}

// spendRoute is the route's last check before the attempt h is sent, as
// spend is the host's: it reports false if the attempt must wait for its
// route, and otherwise spends one unit of its bucket's budget and counts
// it in flight there.
func (t *hostTable) spendRoute(h *hold) bool {
	if t == nil || !t.feedback || !t.routed.Load() || h.host == nil || h.rt.req == nil {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if ch, until := t.routeBlockedLocked(h.host, h, now); ch != nil || until != 0 {
		return false
	}
	r := h.rt.route // set by routeBlockedLocked when the host keeps routes
	if r == nil || r.bucket == nil {
		return true
	}
	b := r.bucket
	if !b.spendLocked(now, b.inflight) {
		return false
	}
	b.inflight++
	h.rt.bucket = b
	return true
}

// unspendRoute gives back what spendRoute took, when the host refuses the
// attempt after its route let it through.
func (t *hostTable) unspendRoute(h *hold) {
	b := h.rt.bucket
	if b == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b.inflight--
	if b.hasBudget {
		b.remaining++
	}
	h.rt.bucket = nil
}

// endRoute ends the attempt h on its route, once: it applies what resp
// says of the route's bucket (resp is nil when the attempt got no
// response), stops counting h in flight there, and ends the route's first
// contact if h was it. A response naming a bucket makes its host keep
// route buckets from then on.
func (t *hostTable) endRoute(h *hold, resp *http.Response) {
	if t == nil || !t.feedback || h.host == nil || h.rt.ended {
		return
	}
	h.rt.ended = true
	named := resp != nil && len(resp.Header["X-Ratelimit-Bucket"]) > 0
	if !named && h.rt.bucket == nil && !h.rt.probe {
		return
	}
	var sig feedback.Signal
	var at time.Time
	if resp != nil {
		at = t.clock.Now()
		sig = feedback.Parse(resp.Header, resp.StatusCode, at)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st := h.host
	if named && sig.Bucket != "" && st.routes == nil {
		st.routes = &hostRoutes{routes: map[routeKey]*route{}, buckets: map[string]*routeBucket{}}
		t.routed.Store(true)
	}
	r := h.rt.route
	if r == nil {
		r = st.routeLocked(h.rt.req)
	}
	if resp != nil && r != nil {
		t.learnRouteLocked(st, r, h.rt.bucket, &sig, at)
	}
	if h.rt.bucket != nil {
		h.rt.bucket.inflight--
	}
	if h.rt.probe && r != nil && r.probing {
		r.probing = false
		close(r.probeDone)
	}
}

// learnRouteLocked applies what a response of route r says: the bucket it
// counts in (none if it names none), that bucket's count, and the pause of
// a refusal that is not of the global limit (the host's, see applyLocked).
// mine is the bucket that counted the attempt in flight, if any.
func (t *hostTable) learnRouteLocked(st *host, r *route, mine *routeBucket, sig *feedback.Signal, at time.Time) {
	r.known = true
	if sig.Bucket == "" || st.routes == nil {
		r.bucket = nil
		return
	}
	b := st.routes.bucketLocked(sig.Bucket)
	r.bucket = b
	if b == nil {
		return
	}
	now, limit := t.at(at), at.Add(t.maxPause)
	others := b.inflight
	if mine == b {
		others--
	}
	if sig.HasRemaining && !sig.ResetAt.IsZero() {
		b.countLocked(sig, t.at(capAt(sig.ResetAt, limit)), now, others, 0)
	}
	if sig.Throttled && !sig.Until.IsZero() && !sig.Global {
		b.pausedUntil = max(b.pausedUntil, t.at(capAt(sig.Until, limit)))
	}
}
