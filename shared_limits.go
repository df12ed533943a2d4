package throttle

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

// ConcurrencyLimiter is a concurrency limit that lives outside the
// Session, such as a redislimit.Semaphore shared by many processes.
// Acquire blocks until the caller holds a slot, or ctx ends (an error
// wrapping ctx.Err(), nothing held); release gives the slot back and must
// be safe to call more than once. A nil release with a nil error is taken
// as a slot that needs no giving back.
type ConcurrencyLimiter interface {
	Acquire(ctx context.Context) (release func(), err error)
}

// sharedLimits are the limits given as interfaces, often shared with other
// processes: WithSharedConcurrency's session-wide slot and the per-host
// limiters of WithHostLimiter and WithHostConcurrencyLimiter. A nil
// *sharedLimits has none.
type sharedLimits struct {
	conc     ConcurrencyLimiter
	hostRate *hostLimiters[ratelimit.Limiter]
	hostConc *hostLimiters[ConcurrencyLimiter]
}

func newSharedLimits(c *config) *sharedLimits {
	if c.sharedConc == nil && c.hostLimiter == nil && c.hostConcLimiter == nil {
		return nil
	}
	s := &sharedLimits{conc: c.sharedConc}
	if c.hostLimiter != nil {
		s.hostRate = newHostLimiters(c.hostLimiter, c.clock)
	}
	if c.hostConcLimiter != nil {
		s.hostConc = newHostLimiters(c.hostConcLimiter, c.clock)
	}
	return s
}

// perHost reports whether any host has a limiter of this kind: a caller
// then cannot pass its host without waiting (see tryHost).
func (s *sharedLimits) perHost() bool { return s != nil && (s.hostRate != nil || s.hostConc != nil) }

// session reports whether there is a session-wide shared slot.
func (s *sharedLimits) session() bool { return s != nil && s.conc != nil }

// close closes the per-host limiters nobody uses now, and the others when
// their last attempt ends.
func (s *sharedLimits) close() {
	if s == nil {
		return
	}
	s.hostRate.close()
	s.hostConc.close()
}

// sharedHeld is what an attempt holds of the shared limits: its slots, and
// its use of its host's limiters, which keeps them from being dropped
// while it runs. Part of the hold.
type sharedHeld struct {
	slot     func() // WithSharedConcurrency's slot; nil if none
	hostSlot func() // the host's shared slot; nil if none
	rate     *hostLimiter[ratelimit.Limiter]
	conc     *hostLimiter[ConcurrencyLimiter]
}

// release gives back the slots and ends the attempt's use of its host's
// limiters. Called once, from hold.release.
func (sh *sharedHeld) release(s *sharedLimits) {
	if sh.hostSlot != nil {
		sh.hostSlot()
	}
	if sh.slot != nil {
		sh.slot()
	}
	if sh.rate != nil {
		s.hostRate.put(sh.rate)
	}
	if sh.conc != nil {
		s.hostConc.put(sh.conc)
	}
}

// acquireSharedSlot takes the session-wide shared slot
// (WithSharedConcurrency), after the session's own slot.
func (t *Transport) acquireSharedSlot(ctx context.Context, h *hold) error {
	if !t.shared.session() {
		return nil
	}
	release, err := t.shared.conc.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("throttle: waiting for the shared concurrency slot: %w", err)
	}
	h.shared.slot = release
	return nil
}

// acquireSharedHostSlot takes the host's shared slot
// (WithHostConcurrencyLimiter), after its own slot.
func (t *Transport) acquireSharedHostSlot(ctx context.Context, key string, h *hold) error {
	if t.shared == nil || t.shared.hostConc == nil {
		return nil
	}
	e := t.shared.hostConc.get(key)
	h.shared.conc = e
	if e.l == nil {
		return nil
	}
	release, err := e.l.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("throttle: waiting for the shared concurrency slot of host %s: %w", key, err)
	}
	h.shared.hostSlot = release
	return nil
}

// acquireSharedHostRate takes the host's shared rate token
// (WithHostLimiter), after its own tokens. A limiter that can hold it
// pending (a redislimit.Window, a ratelimit.Window) does, so that it is
// stamped when the request's headers are written and given back if the
// attempt is never sent.
func (t *Transport) acquireSharedHostRate(ctx context.Context, key string, h *hold) error {
	if t.shared == nil || t.shared.hostRate == nil {
		return nil
	}
	e := t.shared.hostRate.get(key)
	h.shared.rate = e
	if e.l == nil {
		return nil
	}
	if err := h.reserve(ctx, e.l); err != nil {
		return fmt.Errorf("throttle: waiting for the shared rate limit of host %s: %w", key, err)
	}
	return nil
}

// reserve takes one unit of l for the attempt: pending, in a grant, when
// l can hold it so and the attempt has room for another grant; through
// Acquire otherwise.
func (h *hold) reserve(ctx context.Context, l ratelimit.Limiter) error {
	if _, ok := l.(interface {
		Reserve(ctx context.Context, n int) (*ratelimit.Grant, error)
	}); !ok || !h.canAddGrant() {
		return l.Acquire(ctx, 1)
	}
	g, err := ratelimit.Reserve(ctx, l, 1)
	if err != nil {
		return err
	}
	h.addGrant(g)
	return nil
}

// hostLimiters holds the limiter a function made for each host, created on
// the host's first attempt. A host's limiter is dropped (and closed, if it
// has a Close method) once no attempt uses it and it reports IdleAt(now),
// so that a crawl's millions of hosts do not pile up; one without IdleAt
// is kept for the Transport's life. Dropping is lazy and amortised, as in
// ratelimit.Keyed: the table is swept when as many hosts have been added
// since the last sweep as it left. It lives apart from the host table so
// that a host's shared limiter, whose state is elsewhere, is made once per
// use of the host, not rebuilt with the host's history.
type hostLimiters[L any] struct {
	make  func(host string) L
	clock ratelimit.Clock

	mu     sync.Mutex
	m      map[string]*hostLimiter[L]
	adds   int // hosts added since the last sweep
	kept   int // hosts the last sweep left
	closed bool
}

// hostLimiter is one host's limiter and how many attempts use it.
type hostLimiter[L any] struct {
	key  string
	l    L // the zero L (nil) when the function gave the host no limiter
	refs int
}

func newHostLimiters[L any](f func(host string) L, clk ratelimit.Clock) *hostLimiters[L] {
	return &hostLimiters[L]{make: f, clock: clk, m: make(map[string]*hostLimiter[L])}
}

// get returns key's entry, making its limiter on first use, and counts
// the caller as a user until put.
func (k *hostLimiters[L]) get(key string) *hostLimiter[L] {
	k.mu.Lock()
	e := k.m[key]
	var drop []any
	if e == nil {
		drop = k.sweepLocked()
		e = &hostLimiter[L]{key: key, l: k.make(key)}
		k.m[key] = e
		k.adds++
	}
	e.refs++
	k.mu.Unlock()
	closeAll(drop)
	return e
}

// put ends one caller's use of e.
func (k *hostLimiters[L]) put(e *hostLimiter[L]) {
	k.mu.Lock()
	e.refs--
	done := k.closed && e.refs == 0 && k.m[e.key] == e
	if done {
		delete(k.m, e.key)
	}
	k.mu.Unlock()
	if done {
		closeAll([]any{e.l})
	}
}

// sweepLocked drops the entries nobody uses whose limiter is idle, when
// enough hosts have been added since the last sweep, and returns their
// limiters, to be closed once the lock is let go.
func (k *hostLimiters[L]) sweepLocked() (drop []any) {
	if k.adds < k.kept {
		return nil
	}
	now := k.clock.Now()
	for key, e := range k.m {
		if e.refs == 0 && idleAt(e.l, now) {
			delete(k.m, key)
			drop = append(drop, e.l)
		}
	}
	k.adds, k.kept = 0, len(k.m)
	return drop
}

// close closes the limiters nobody uses, and marks the others to be closed
// by their last put.
func (k *hostLimiters[L]) close() {
	if k == nil {
		return
	}
	k.mu.Lock()
	k.closed = true
	var drop []any
	for key, e := range k.m {
		if e.refs == 0 {
			delete(k.m, key)
			drop = append(drop, e.l)
		}
	}
	k.mu.Unlock()
	closeAll(drop)
}

// idleAt reports whether l may be dropped at now: it is nil, or says it
// is idle.
func idleAt(l any, now time.Time) bool {
	if l == nil {
		return true
	}
	i, ok := l.(interface{ IdleAt(now time.Time) bool })
	return ok && i.IdleAt(now)
}

// closeAll closes the limiters that have a Close method.
func closeAll(ls []any) {
	for _, l := range ls {
		if c, ok := l.(interface{ Close() error }); ok {
			c.Close()
		}
	}
}
