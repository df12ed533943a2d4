package throttle

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle/feedback"
	"github.com/go-throttle/throttle/internal/admit"
	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
)

// hosts is what servers have said about each host: pauses, remaining
// budgets and learned quota policies. What one response says applies to
// every caller of that host. Entries that hold nothing worth keeping are
// dropped lazily, so memory is bounded by the hosts in recent use.
type hosts struct {
	clock    ratelimit.Clock
	maxPause time.Duration
	guard    windowGuard // of the learned windows
	// closed is closed when the Transport closes: every wait ends then.
	closed <-chan struct{}

	mu        sync.Mutex
	m         map[string]*hostState
	lastSweep time.Time
}

// hostState is one host's feedback. Its fields are guarded by hosts.mu.
type hostState struct {
	// refs counts callers between enter and leave: an entry in use is
	// never dropped.
	refs int
	// known is set once a response from the host has been seen; until
	// then one probe goes alone and the others wait for probeDone.
	known      bool
	probing    bool
	probeDone  chan struct{}
	probeSince time.Time
	// inflight counts attempts admitted whose response headers have not
	// arrived: a policy learned now must count them, since the server does.
	inflight int
	// pausedUntil: no attempt starts before it.
	pausedUntil time.Time
	// remaining attempts may start before resetAt; then the host pauses
	// until resetAt. hasBudget is false when the server stated no count.
	hasBudget bool
	remaining int
	resetAt   time.Time
	// learned are the server's policies, as strict windows each attempt
	// also takes a token from; policies keys them by quota and window.
	learned  []*ratelimit.Window
	policies []feedback.Policy
	// accepting counts the attempts whose response has not arrived on a
	// connection they opened to the host; opened counts such connections
	// ever. They are atomics, outside hosts.mu. See hold.readLate.
	accepting atomic.Int32
	opened    atomic.Uint64
}

func newHosts(clk ratelimit.Clock, maxPause time.Duration, guard windowGuard) *hosts {
	return &hosts{clock: clk, maxPause: maxPause, guard: guard, m: make(map[string]*hostState)}
}

// enter registers a caller of host and waits until it may be sent to (see
// admit); every successful enter is paired with one finish. On failure
// the caller is already let go.
func (hs *hosts) enter(ctx context.Context, host string) (st *hostState, learned []*ratelimit.Window, probe bool, err error) {
	hs.mu.Lock()
	st = hs.m[host]
	if st == nil {
		hs.sweepLocked()
		st = &hostState{}
		hs.m[host] = st
	}
	st.refs++
	if learned, probe, err = hs.admitLocked(ctx, host, st); err != nil {
		hs.finish(st, nil, false, false)
		return nil, nil, false, err
	}
	return st, learned, probe, nil
}

// sweepLocked drops entries nobody uses that hold nothing: no pause or
// budget still running and every learned window back to full. It runs at
// most once a second, when a new host is added, so its cost is amortised
// over the additions.
func (hs *hosts) sweepLocked() {
	now := hs.clock.Now()
	if now.Sub(hs.lastSweep) < time.Second && len(hs.m) < 1024 {
		return
	}
	hs.lastSweep = now
	for host, st := range hs.m {
		if st.idleAt(now) {
			delete(hs.m, host)
		}
	}
}

func (st *hostState) idleAt(now time.Time) bool {
	if st.refs > 0 || st.probing || now.Before(st.pausedUntil) || (st.hasBudget && now.Before(st.resetAt)) {
		return false
	}
	for _, w := range st.learned {
		if !w.IdleAt(now) {
			return false
		}
	}
	return true
}

// admitLocked waits until the host may be sent to: the first-contact probe has
// answered (or this caller becomes the probe), no pause is running, and
// the stated budget has room. It returns the learned windows to take a
// token from, and whether this caller is the probe. It spends nothing:
// the caller still waits for slots and tokens, and spend, called once it
// has them all, checks again and spends. It is called with hs.mu held
// (enter's lock serves its first look) and returns with it released.
func (hs *hosts) admitLocked(ctx context.Context, host string, st *hostState) (learned []*ratelimit.Window, probe bool, err error) {
	for {
		now := hs.clock.Now()
		var wait <-chan struct{}
		until := st.blockedUntil(now)
		switch {
		case !st.known && st.probing && now.Before(st.probeSince.Add(firstContactWait)):
			wait, until = st.probeDone, st.probeSince.Add(firstContactWait)
		case !st.known && !st.probing:
			st.probing, st.probeDone, st.probeSince, probe = true, make(chan struct{}), now, true
		}
		if wait == nil && until.IsZero() {
			learned = st.learned
			hs.mu.Unlock()
			return learned, probe, nil
		}
		hs.mu.Unlock()
		if err := hs.wait(ctx, host, wait, until, now); err != nil {
			return nil, false, err
		}
		hs.mu.Lock()
	}
}

// blockedUntil is the end of the pause or spent budget running at now, or
// the zero time. Called with hs.mu held.
func (st *hostState) blockedUntil(now time.Time) time.Time {
	switch {
	case now.Before(st.pausedUntil):
		return st.pausedUntil
	case st.hasBudget && now.Before(st.resetAt) && st.remaining <= 0:
		return st.resetAt
	}
	return time.Time{}
}

// spend is the last check before an attempt is sent, made once it holds
// every slot and token: a response that arrived while it waited may have
// paused the host or spent its budget since admit let it through. It
// reports false if so, and the caller gives back what it holds and waits
// again; otherwise it spends one unit of the budget and counts the attempt
// in flight.
func (hs *hosts) spend(st *hostState) bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	now := hs.clock.Now()
	if !st.blockedUntil(now).IsZero() {
		return false
	}
	if st.hasBudget && now.Before(st.resetAt) {
		st.remaining--
	}
	st.inflight++
	return true
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
func (hs *hosts) wait(ctx context.Context, host string, probe <-chan struct{}, until, now time.Time) error {
	queue, err := admit.Enter(ctx)
	if err != nil {
		return fmt.Errorf("throttle: waiting for host %s: %w", host, err)
	}
	defer queue.Leave()
	if d, ok := ctx.Deadline(); ok && probe == nil && d.Before(until) {
		return fmt.Errorf("throttle: host %s is paused for %v, past the context deadline: %w",
			host, until.Sub(now).Round(time.Millisecond), hostPausedDeadline)
	}
	timer, stop := clock.NewTimerAt(hs.clock, until)
	defer stop()
	select {
	case <-probe:
	case <-timer:
	case <-ctx.Done():
		return fmt.Errorf("throttle: waiting for host %s: %w", host, context.Cause(ctx))
	case <-hs.closed:
		return closedWhile("waiting for host " + host)
	}
	return nil
}

// finish ends one caller's part in its host's state, under one lock: it
// applies what resp says (resp is nil when the attempt got no response),
// ends the first contact if this caller was the probe (with headers seen
// the host is known; without, the next waiter probes instead), and lets
// the state go. It reports whether resp said it was throttled (a 429, a
// 503, or a rate-limit 403: see feedback.Signal.Throttled).
func (hs *hosts) finish(st *hostState, resp *http.Response, probe, admitted bool) (throttled bool) {
	var sig feedback.Signal
	now := hs.clock.Now()
	if resp != nil {
		sig = feedback.Parse(resp.Header, resp.StatusCode, now) // outside the lock: it is pure
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if resp != nil {
		hs.observeLocked(st, &sig, now)
	}
	if probe && st.probing {
		// With headers seen, observeLocked has made the host known;
		// without, it stays unknown and the next caller probes.
		st.probing = false
		close(st.probeDone)
	}
	st.refs--
	if admitted {
		st.inflight--
	}
	return sig.Throttled
}

// observeLocked applies what a response says about its host.
func (hs *hosts) observeLocked(st *hostState, sig *feedback.Signal, now time.Time) {
	st.known = true
	if !sig.Until.IsZero() {
		st.pausedUntil = laterOf(st.pausedUntil, capAt(sig.Until, now.Add(hs.maxPause)))
	}
	if sig.HasRemaining && !sig.ResetAt.IsZero() {
		hs.budgetLocked(st, sig.Remaining, capAt(sig.ResetAt, now.Add(hs.maxPause)), now)
	}
	if sig.NPolicies > 0 {
		hs.learnLocked(st, sig.Policies[:sig.NPolicies])
	}
}

// budgetLocked takes in a stated remaining count. The other attempts in
// flight may reach the server after this one was counted, so they are
// taken off it; and while an earlier budget still runs, the stricter of
// the two holds, since responses can arrive out of order.
func (hs *hosts) budgetLocked(st *hostState, remaining int, resetAt, now time.Time) {
	remaining -= max(st.inflight-1, 0)
	if st.hasBudget && now.Before(st.resetAt) {
		remaining = min(remaining, st.remaining)
		resetAt = laterOf(resetAt, st.resetAt)
	}
	st.hasBudget, st.remaining, st.resetAt = true, remaining, resetAt
}

// learnLocked adopts the server's policies as windows on the host. They
// are taken on top of any limit the user set, so what a server says can
// only tighten a user's limit, never loosen it. A window is no longer than
// WithMaxPause: a policy is a pause too, and no server may stall the
// client for longer than that cap. Windows of a policy seen
// before are kept, with their history.
func (hs *hosts) learnLocked(st *hostState, ps []feedback.Policy) {
	if samePolicies(st.policies, ps) {
		return
	}
	learned := make([]*ratelimit.Window, 0, len(ps))
	for _, p := range ps {
		if w := st.windowFor(p); w != nil {
			learned = append(learned, w)
			continue
		}
		w, err := ratelimit.NewWindow(p.Quota, hs.guard.window(min(p.Window, hs.maxPause)), ratelimit.WithClock(hs.clock))
		if err != nil {
			continue
		}
		// The server has counted the attempts already sent, this one
		// included; the new window counts them from now, to be safe.
		w.TryAcquire(min(max(st.inflight, 1), p.Quota))
		learned = append(learned, w)
	}
	st.learned, st.policies = learned, append([]feedback.Policy(nil), ps...)
}

func (st *hostState) windowFor(p feedback.Policy) *ratelimit.Window {
	for i, old := range st.policies {
		if old.Quota == p.Quota && old.Window == p.Window && i < len(st.learned) {
			return st.learned[i]
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

// paused counts the hosts paused now.
func (hs *hosts) paused() int64 {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	now := hs.clock.Now()
	var n int64
	for _, st := range hs.m {
		if now.Before(st.pausedUntil) || (st.hasBudget && st.remaining <= 0 && now.Before(st.resetAt)) {
			n++
		}
	}
	return n
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func capAt(t, limit time.Time) time.Time {
	if t.After(limit) {
		return limit
	}
	return t
}
