package throttle

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle/feedback"
	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/semaphore"
)

// hostTable holds everything about each host, in one map with one
// reference count and one eviction rule: its concurrency slots, its own
// rate window, the windows its server stated, its pause, its budget and
// its first contact. What one response says applies to every caller of
// that host.
//
// A host has two forms. While callers use it, its live form holds the
// semaphore and windows they wait on. Once nobody uses it, its live form
// is kept as history (keepLocked): a few words of stamps per window, so
// that a crawl's millions of remembered hosts cost little; the next caller
// rebuilds the live form from it. Hosts whose history has passed and that
// hold no pause or budget are dropped by a sweep. Both are lazy and
// amortised, and no goroutine runs: hosts that go idle are kept in
// batches of idleBatch, and the table is swept when as many hosts have
// been added since the last sweep as it held then.
type hostTable struct {
	clock    ratelimit.Clock
	epoch    time.Time // host times are offsets from it, in nanoseconds
	maxPause time.Duration
	guard    windowGuard // of every window
	feedback bool        // WithServerFeedback
	adaptive bool        // WithAdaptive (only with feedback)
	latency  float64     // AdaptLatency's tolerance; 0: off
	closed   <-chan struct{}

	conc    int // WithHostConcurrency; 0: none
	concFor map[string]int
	semOpts []semaphore.Option
	rate    rateSpec // WithHostRateLimit; zero n: none
	rateFor map[string]rateSpec

	// routed is set once a host's server keeps route buckets (routes.go):
	// until then no attempt looks for its route.
	routed atomic.Bool

	mu   sync.Mutex
	m    map[string]*host
	adds int     // hosts added since the last sweep
	kept int     // hosts the last sweep left
	idle []*host // hosts that went unused in their live form, oldest first
}

// host is one host's state. Its fields, and its live form's fields but
// the atomics, are guarded by hostTable.mu.
type host struct {
	// refs counts the attempts between enter and leave: a host in use is
	// never kept nor dropped.
	refs int32
	// statedBudget is the budget the server states, if it does: no more
	// than remaining attempts start before resetAt (statedbudget.go).
	statedBudget
	// known is set once a response from the host has been seen; until
	// then one probe goes alone and the others wait (see admit).
	known  bool
	listed bool // in hostTable.idle
	// pausedUntil: no attempt starts before it. An offset, as resetAt.
	pausedUntil int64
	// routes are the route buckets its server keeps, if it does
	// (routes.go); nil until a response names one.
	routes *hostRoutes
	live   *hostLive // nil while the host is kept as history
	kept   []int64   // the history, nil while live (see keepLocked)
	// fig counts what HostStats reports beyond the state above; nil until
	// there is something to count (see hoststats.go).
	fig atomic.Pointer[hostFigures]
	// ad is what the client learned of the host (adaptive.go); nil when
	// WithAdaptive is off, or while the host is kept and learned nothing.
	ad *adaptive
}

// hostLive is what the callers of a host use: its limits, the server's
// policies as windows, and its first contact.
type hostLive struct {
	// slots and rate are atomic so that a limit set while the host is in
	// use (retune.go) can be installed where callers read it.
	slots atomic.Pointer[semaphore.Throttler] // nil: no concurrency limit of its own
	rate  atomic.Pointer[ratelimit.Window]    // nil: no rate limit of its own

	learned  []*ratelimit.Window // the server's policies, which policies keys
	policies []feedback.Policy
	// probeDone is closed when the probe (the first contact) answers.
	probing    bool
	probeDone  chan struct{}
	probeSince int64
	// inflight counts attempts admitted whose response headers have not
	// arrived: a policy learned now must count them, since the server does.
	inflight int
	// accepting counts the attempts whose response has not arrived on a
	// connection they opened to the host; opened counts such connections
	// ever. They are atomics, outside hostTable.mu. See hold.readLate.
	accepting atomic.Int32
	opened    atomic.Uint64
	// active counts the attempts sent and not released, waiting the
	// callers waiting to send (see HostStats); atomics too.
	active, waiting atomic.Int32
}

// idleBatch is how many hosts may sit unused in their live form (about
// 2 KiB each with windows) before they are kept as history together.
const idleBatch = 1024

// newHostTable returns the host table the options call for, or nil when
// nothing is per host: no host limit and no server feedback.
func newHostTable(c *config, closed <-chan struct{}) (*hostTable, error) {
	if c.noFeedback && c.hostConc == 0 && len(c.hostConcFor) == 0 && c.hostRate.n == 0 && len(c.hostRates) == 0 {
		return nil, nil
	}
	if _, err := semaphore.NewThrottler(1, c.semOpts...); err != nil {
		return nil, fmt.Errorf("%w: WithHostConcurrency: %w", ErrInvalidOption, err)
	}
	return &hostTable{
		clock: c.clock, epoch: c.clock.Now(), maxPause: c.maxPause, guard: c.guard,
		feedback: !c.noFeedback, adaptive: !c.noFeedback && !c.noAdaptive, closed: closed,
		conc: c.hostConc, concFor: c.hostConcFor, semOpts: c.semOpts,
		rate: c.hostRate, rateFor: c.hostRates, latency: c.adaptLatency,
		m: make(map[string]*host),
	}, nil
}

// now is the clock's time as an offset from epoch.
func (t *hostTable) now() int64 { return int64(t.clock.Now().Sub(t.epoch)) }

// at is the offset of instant x.
func (t *hostTable) at(x time.Time) int64 { return int64(x.Sub(t.epoch)) }

// slotsFor is key's concurrency limit: its WithHostConcurrencyFor, or
// WithHostConcurrency; 0 for none.
func (t *hostTable) slotsFor(key string) int {
	if n, ok := t.concFor[key]; ok {
		return n
	}
	return t.conc
}

// rateOf is key's own rate limit: its WithRateLimitFor, or
// WithHostRateLimit.
func (t *hostTable) rateOf(key string) (rateSpec, bool) {
	if spec, ok := t.rateFor[key]; ok {
		return spec, true
	}
	return t.rate, t.rate.n > 0
}

// enter returns key's host, in its live form, counting the caller as one
// of its users until leave.
func (t *hostTable) enter(key string) *host {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.enterLocked(key)
}

// enterTry is enter and tryAdmit under one lock: a caller that waits for
// nothing, the common case, takes the table's lock once to get in.
func (t *hostTable) enterTry(key string) (h *host, learned []*ratelimit.Window, probe, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h = t.enterLocked(key)
	learned, probe, ok = t.tryAdmitLocked(h)
	return h, learned, probe, ok
}

func (t *hostTable) enterLocked(key string) *host {
	h := t.m[key]
	if h == nil {
		t.sweepLocked()
		h = &host{}
		t.m[key] = h
		t.adds++
	}
	h.refs++
	if h.live == nil {
		h.live = t.reviveLocked(key, h)
	}
	if t.adaptive && h.ad == nil {
		h.ad = newAdaptive()
		h.ad.lat = newLatency(t.latency)
	}
	return h
}

// leave ends one caller's use of h. A host nobody uses joins the batch to
// be kept as history.
func (t *hostTable) leave(h *host) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h.refs--; h.refs > 0 || h.listed {
		return
	}
	h.listed = true
	t.idle = append(t.idle, h)
	if len(t.idle) >= idleBatch {
		for _, h := range t.idle {
			h.listed = false
			t.keepLocked(h)
		}
		clear(t.idle)
		t.idle = t.idle[:0]
	}
}

// sweepLocked drops the hosts nobody uses that hold nothing: no pause or
// budget running, no stamp still counting, and keeps the unused ones as
// history. It runs when as many hosts have been added since the last
// sweep as that sweep left, so its cost is amortised over the additions
// and the table holds at most twice the hosts whose state matters.
func (t *hostTable) sweepLocked() {
	if t.adds < t.kept {
		return
	}
	now := t.now()
	for key, h := range t.m {
		t.keepLocked(h)
		if h.refs == 0 && h.live == nil && h.doneAt(now) {
			delete(t.m, key)
		}
	}
	t.adds, t.kept = 0, len(t.m)
}

// doneAt reports whether a kept host holds nothing at now.
func (h *host) doneAt(now int64) bool {
	return now >= h.pausedUntil && !(h.hasBudget && now < h.resetAt) && (len(h.kept) == 0 || now >= h.kept[0]) && h.ad.doneAt(now)
}

// The history of a host, h.kept, is a run of int64s:
//
//	until, len(policies), (quota, window) per policy,
//	then per window (its own first, if it has one, then one per policy):
//	count, then count stamps: at, or -units, at when units > 1
//
// where until is when the last stamp stops counting, and every instant is
// an offset from the table's epoch. A host with one request in its own
// window and in one stated policy keeps 7 words.

// keepLocked replaces h's live form by its history, if nobody uses it.
func (t *hostTable) keepLocked(h *host) {
	l := h.live
	if h.refs > 0 || l == nil {
		return
	}
	if h.ad != nil && !h.ad.learned() {
		h.ad = nil // slow start alone is not worth keeping
	}
	now := t.clock.Now()
	kept := make([]int64, 2, 2+2*len(l.policies)+3*(1+len(l.learned)))
	kept[1] = int64(len(l.policies))
	for _, p := range l.policies {
		kept = append(kept, int64(p.Quota), int64(p.Window))
	}
	stamps := false
	keep := func(w *ratelimit.Window) {
		i := len(kept)
		kept = append(kept, 0)
		_, per := w.Limit()
		w.History(now, func(x time.Time, units int) {
			at := max(t.at(x), 0)
			if units > 1 {
				kept = append(kept, -int64(units))
			}
			kept = append(kept, at)
			kept[i]++
			kept[0] = max(kept[0], saturatingAdd(at, int64(per)))
			stamps = true
		})
	}
	if r := l.rate.Load(); r != nil {
		keep(r)
	}
	for _, w := range l.learned {
		keep(w)
	}
	h.live, h.kept = nil, nil
	if stamps || len(l.policies) > 0 {
		h.kept = kept
	}
}

// reviveLocked builds key's live form from h's history.
func (t *hostTable) reviveLocked(key string, h *host) *hostLive {
	l := &hostLive{}
	if n := t.slotsFor(key); n > 0 {
		slots, _ := semaphore.NewThrottler(int64(n), t.semOpts...) // checked by newHostTable
		l.slots.Store(slots)
	}
	if spec, ok := t.rateOf(key); ok {
		l.rate.Store(t.window(spec.n, spec.per))
	}
	kept := h.kept
	h.kept = nil
	if len(kept) == 0 {
		return l
	}
	np := int(kept[1])
	ps := make([]feedback.Policy, np)
	for i := range ps {
		ps[i] = feedback.Policy{Quota: int(kept[2+2*i]), Window: time.Duration(kept[3+2*i])}
	}
	l.learnPolicies(t, ps, false)
	rest := kept[2+2*np:]
	restore := func(w *ratelimit.Window) {
		count := int(rest[0])
		rest = rest[1:]
		for range count {
			units := 1
			if rest[0] < 0 {
				units, rest = int(-rest[0]), rest[1:]
			}
			if w != nil {
				w.AddHistory(t.epoch.Add(time.Duration(rest[0])), units)
			}
			rest = rest[1:]
		}
	}
	if r := l.rate.Load(); r != nil {
		restore(r)
	}
	for _, w := range l.learned {
		restore(w)
	}
	return l
}

// window returns a window of n per per, lengthened by the guard.
func (t *hostTable) window(n int, per time.Duration) *ratelimit.Window {
	w, err := ratelimit.NewWindow(n, t.guard.window(per), ratelimit.WithClock(t.clock))
	if err != nil {
		return nil
	}
	return w
}

// admit waits until the host may be sent to: the first-contact probe has
// answered (or this caller becomes the probe), no pause is running, and
// the stated budget has room. It returns the learned windows to take a
// token from, and whether this caller is the probe. It spends nothing:
// the caller still waits for slots and tokens, and spend, called once it
// has them all, checks again and spends.
func (t *hostTable) admit(ctx context.Context, key string, h *host) (learned []*ratelimit.Window, probe bool, err error) {
	if !t.feedback {
		return nil, false, nil
	}
	for {
		t.mu.Lock()
		now := t.now()
		probeWait, until := t.blockedLocked(h, now, &probe)
		learned = h.live.learned
		t.mu.Unlock()
		if probeWait == nil && until == 0 {
			return learned, probe, nil
		}
		if err := t.wait(ctx, key, probeWait, until, now); err != nil {
			return nil, probe, err
		}
	}
}

// tryAdmitLocked is admit without waiting: it reports false if the
// caller would have to wait. Called with t.mu held (see enterTry).
func (t *hostTable) tryAdmitLocked(h *host) (learned []*ratelimit.Window, probe, ok bool) {
	if !t.feedback {
		return nil, false, true
	}
	probeWait, until := t.blockedLocked(h, t.now(), &probe)
	return h.live.learned, probe, probeWait == nil && until == 0
}

// blockedLocked says what the caller must wait for at now: the probe's
// answer (a channel, with the instant it stops waiting for it), or the
// instant a pause or a spent budget ends; nothing (nil, 0) when it may
// go. A caller that finds the host unknown and nobody probing becomes the
// probe.
func (t *hostTable) blockedLocked(h *host, now int64, probe *bool) (<-chan struct{}, int64) {
	l := h.live
	if !h.known && !*probe {
		switch {
		case l.probing && now < l.probeSince+int64(firstContactWait):
			return l.probeDone, l.probeSince + int64(firstContactWait)
		case !l.probing:
			l.probing, l.probeDone, l.probeSince, *probe = true, make(chan struct{}), now, true
		}
	}
	until := h.blockedUntil(now)
	return h.budgetWakeLocked(now, until), until
}

// blockedUntil is the end of the pause or spent budget running at now, or
// 0.
func (h *host) blockedUntil(now int64) int64 {
	switch {
	case now < h.pausedUntil:
		return h.pausedUntil
	case h.hasBudget && now < h.resetAt && h.remaining <= 0:
		return h.resetAt
	}
	return 0
}

// spend is the last check before an attempt is sent, made once it holds
// every slot and token: a response that arrived while it waited may have
// paused the host or spent its budget since admit let it through. It
// reports false if so, and the caller gives back what it holds and waits
// again; otherwise it spends one unit of the budget and counts the attempt
// in flight.
func (t *hostTable) spend(h *host) (tk ticket, ok bool) {
	if !t.feedback {
		return tk, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if h.blockedUntil(now) != 0 || !h.spendBudgetLocked(now) {
		return tk, false
	}
	h.live.inflight++
	if h.ad != nil {
		tk = h.ad.sent(now, h.live.inflight)
	}
	return tk, true
}

// firstContactWait bounds how long the callers of a new host wait for
// its first request's response headers: a first request to a slow
// endpoint (a report, a long poll) must not hold the whole host back.
// After it, they go on under whatever limits are known.
const firstContactWait = 2 * time.Second

// wait blocks until the probe answers, or until the instant until: the end
// of a pause, or of the wait for a probe. A caller whose deadline falls
// before a pause ends fails at once; the Transport's Close ends the wait
// with an error wrapping ErrClosed.
func (t *hostTable) wait(ctx context.Context, key string, probe <-chan struct{}, until, now int64) error {
	if d, ok := ctx.Deadline(); ok && probe == nil && t.at(d) < until {
		return fmt.Errorf("throttle: host %s is paused for %v, past the context deadline: %w",
			key, time.Duration(until-now).Round(time.Millisecond), hostPausedDeadline)
	}
	timer, stop := clock.NewTimerAt(t.clock, t.epoch.Add(time.Duration(until)))
	defer stop()
	select {
	case <-probe:
	case <-timer:
	case <-ctx.Done():
		return fmt.Errorf("throttle: waiting for host %s: %w", key, context.Cause(ctx))
	case <-t.closed:
		return closedWhile("waiting for host " + key)
	}
	return nil
}

// observe ends an attempt's admission to h, under one lock: it applies
// what the attempt's response says (sig, parsed at now; nil when the
// attempt got no response or feedback is off), ends the first contact if
// the attempt was the probe (with headers seen the host is known; without,
// the next waiter probes instead), and stops counting the attempt in
// flight. It is the one place that applies what a response says about its
// host; the attempt parses it once (see hold.answer), and the retry layer
// reuses that parse.
func (t *hostTable) observe(h *host, sig *feedback.Signal, now time.Time, probe, admitted bool, out outcome) {
	if !t.feedback {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	l := h.live
	v := neutral
	if admitted && h.ad != nil {
		v = t.verdictLocked(h, sig, out)
	}
	if sig != nil {
		t.applyLocked(h, sig, now, v == busy)
	}
	if v != neutral {
		t.adaptLocked(h, out.tk, v, sig)
	}
	if probe && l.probing {
		l.probing = false
		close(l.probeDone)
	}
	if admitted {
		l.inflight--
	}
}

// applyLocked applies what a response says about its host.
func (t *hostTable) applyLocked(h *host, sig *feedback.Signal, now time.Time, busy bool) {
	h.known = true
	limit := now.Add(t.maxPause)
	if !sig.Until.IsZero() && sig.Throttled && !busy && sig.BucketSize == 0 && (sig.Bucket == "" || sig.Global) {
		// A refusal pauses the host. An accepted request's count of 0
		// (its Until) is the budget's to hold, until the tightest reset
		// its window's responses stated. A busy host's Retry-After holds
		// that attempt's retry (see the retry layer), not the attempts it
		// does take (adaptive.go); so does a refusal beside a bucket's
		// statement, which says when there is room (see statedBucket),
		// and one of a route bucket, which pauses that bucket (routes.go).
		h.pausedUntil = max(h.pausedUntil, t.at(capAt(sig.Until, limit)))
	}
	switch {
	case sig.BucketSize > 0:
		h.bucketLocked(sig, t.at(now), h.live.inflight-1)
	case sig.HasRemaining && !sig.ResetAt.IsZero() && sig.Bucket == "":
		// A count of a route bucket is that bucket's (routes.go).
		h.budgetLocked(sig, t.at(capAt(sig.ResetAt, limit)), t.at(now))
	}
	if sig.NPolicies > 0 {
		h.live.learnPolicies(t, sig.Policies[:sig.NPolicies], true)
	}
}

// budgetLocked takes in a stated remaining count, resetting at resetAt
// (see statedBudget.countLocked).
func (h *host) budgetLocked(sig *feedback.Signal, resetAt, now int64) {
	var sent int64 // when the first contact was sent, if this is its answer
	if l := h.live; l.probing {
		sent = l.probeSince
	}
	h.countLocked(sig, resetAt, now, h.live.inflight-1, sent)
}

// learnPolicies adopts the server's policies as windows on the host. They
// are taken on top of any limit the user set, so what a server says can
// only tighten a user's limit, never loosen it. A window is no longer than
// WithMaxPause: a policy is a pause too, and no server may stall the
// client for longer than that cap. Windows of a policy seen before are
// kept, with their history. A policy just stated counts the attempts in
// flight (fresh), since the server has counted them; one rebuilt from the
// host's history has its stamps restored instead.
func (l *hostLive) learnPolicies(t *hostTable, ps []feedback.Policy, fresh bool) {
	if samePolicies(l.policies, ps) {
		return
	}
	learned := make([]*ratelimit.Window, 0, len(ps))
	policies := make([]feedback.Policy, 0, len(ps))
	for _, p := range ps {
		w := l.windowFor(p)
		if w != nil {
			learned, policies = append(learned, w), append(policies, p)
			continue
		}
		if w = t.window(p.Quota, min(p.Window, t.maxPause)); w == nil {
			continue // a policy no window can hold: ignored
		}
		if fresh {
			// The server has counted the attempts already sent, this one
			// included; the new window counts them from now, to be safe.
			w.TryAcquire(min(max(l.inflight, 1), p.Quota))
		}
		learned, policies = append(learned, w), append(policies, p)
	}
	// policies[i] is the policy of learned[i], so that keepLocked and
	// windowFor can pair them.
	l.learned, l.policies = learned, policies
}

func (l *hostLive) windowFor(p feedback.Policy) *ratelimit.Window {
	for i, old := range l.policies {
		if old.Quota == p.Quota && old.Window == p.Window {
			return l.learned[i]
		}
	}
	return nil
}

func samePolicies(a, b []feedback.Policy) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Quota != b[i].Quota || a[i].Window != b[i].Window {
			return false
		}
	}
	return true
}

// paused counts the hosts paused by their server now.
func (t *hostTable) paused() int64 {
	if t == nil || !t.feedback {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var n int64
	for _, h := range t.m {
		if now < h.pausedUntil || (h.hasBudget && h.remaining <= 0 && now < h.resetAt) {
			n++
		}
	}
	return n
}

func capAt(t, limit time.Time) time.Time {
	if t.After(limit) {
		return limit
	}
	return t
}

// saturatingAdd is a+b, or the largest int64 if that overflows (b >= 0).
func saturatingAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// len reports how many hosts the table remembers.
func (t *hostTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
