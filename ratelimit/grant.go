package ratelimit

import (
	"context"
	"sync/atomic"
)

// Limiter is anything that can make a caller wait for n units. It has one
// method so that custom and distributed limiters fit; the limiters of this
// package also offer TryAcquire, HasCapacity, Reserve, MaxAcquire and
// IdleAt, which Keyed, Reader, Writer and [Reserve] use when present.
//
// Acquire blocks until n units are granted or ctx ends; in the latter case
// it returns an error wrapping ctx.Err() and takes nothing.
type Limiter interface {
	Acquire(ctx context.Context, n int) error
}

// Grant states.
const (
	grantPending   uint32 = iota // granted, not yet stamped
	grantCommitted               // stamped: counts from its Commit time
	grantCancelled               // given back
)

// grantOwner is the limiter a pending Grant belongs to.
type grantOwner interface {
	commitGrant(g *Grant)
	cancelGrant(n int)
	restampGrant(g *Grant)
}

// A Grant holds units that a limiter has granted but that are not yet
// stamped with the time they were used. It exists so that a limit can be
// applied when a request is sent rather than when it was queued: take a
// Grant before the work that precedes the send, Commit it at the send, and
// Cancel it if the send never happens.
//
// Exactly one of Commit and Cancel takes effect; later calls of either are
// no-ops, so `defer g.Cancel()` after a Reserve is always safe. Both are
// safe for concurrent use, and both are no-ops on a nil *Grant and on the
// zero Grant, which holds nothing.
type Grant struct {
	n     int
	owner grantOwner // nil if the grant was committed when it was made
	state atomic.Uint32
	// at is the stamp's offset in the owning Window, set once stamped is;
	// both are guarded by the Window's mutex.
	at      int64
	stamped bool
}

// N reports how many units the grant holds (0 for a nil Grant). It is
// safe for concurrent use, with Settle too.
func (g *Grant) N() int {
	if g == nil {
		return 0
	}
	if s, ok := g.owner.(settler); ok {
		return s.grantN(g) // Settle may be changing it
	}
	return g.n
}

// Commit stamps the grant. For a Window the units count from now (the
// clock's time of the Commit, never earlier than any earlier stamp) instead
// of being pending; for a Bucket it only marks the grant committed, since
// the tokens were spent when it was granted. Commit is idempotent and does
// nothing after Cancel.
func (g *Grant) Commit() {
	if g == nil || !g.state.CompareAndSwap(grantPending, grantCommitted) {
		return
	}
	if g.owner != nil {
		g.owner.commitGrant(g)
	}
}

// Restamp stamps a committed grant again, now: its units count from now
// instead of from their first stamp, as if they had been used now. It is
// for a caller that learns only after the Commit that the units may have
// been used later than that (a request its server read late). It does
// nothing if the grant is not committed, if its units have already
// stopped counting (they may have been granted again since), or if the
// grant is a Bucket's, whose tokens do not expire. It is safe for
// concurrent use, and a no-op on a nil *Grant.
func (g *Grant) Restamp() {
	if g == nil || g.owner == nil || g.state.Load() != grantCommitted {
		return
	}
	g.owner.restampGrant(g)
}

// Cancel gives the units back, unless the grant was already committed, and
// wakes whoever waits for them. It is idempotent.
func (g *Grant) Cancel() {
	if g == nil || !g.state.CompareAndSwap(grantPending, grantCancelled) {
		return
	}
	if g.owner != nil {
		g.owner.cancelGrant(g.n)
	}
}

// newGrant returns a pending grant of n units owned by o.
func newGrant(o grantOwner, n int) *Grant {
	return &Grant{n: n, owner: o}
}

// reserver is implemented by the limiters that can hold units pending.
type reserver interface {
	Reserve(ctx context.Context, n int) (*Grant, error)
}

// Reserve takes n units from l as a Grant. It uses l's own Reserve method
// when l has one (Window, Bucket), so that the units stay pending until the
// Grant is committed or cancelled. Otherwise it calls l.Acquire and returns
// a Grant that is already committed, whose Commit and Cancel do nothing:
// such a limiter counts the units from the Acquire.
//
// A nil ctx is an error wrapping ErrNilContext, whatever l is; other
// errors are those of the underlying call.
func Reserve(ctx context.Context, l Limiter, n int) (*Grant, error) {
	// Checked here too, not only by our limiters: a custom Limiter may
	// dereference ctx.
	if ctx == nil {
		return nil, nilCtxError(callOp("Reserve", n))
	}
	if r, ok := l.(reserver); ok {
		return r.Reserve(ctx, n)
	}
	if err := l.Acquire(ctx, n); err != nil {
		return nil, err
	}
	g := &Grant{n: n}
	g.state.Store(grantCommitted)
	return g, nil
}
