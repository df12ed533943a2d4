package ratelimit

// This file lets a limiter outside this package hand out pending Grants,
// so that its units too count from the send rather than from the grant
// (redislimit.Window holds them on Redis). The root package commits,
// restamps and cancels every Grant alike, whoever made it.

// Pending is what such a limiter supplies for one Grant. The Grant calls
// Commit or Cancel, and exactly one of them, once: Commit when the units
// are used (they count from now), Cancel when they never will be (they
// are given back). It calls Restamp, any number of times, only after
// Commit: the units are to count from now instead, if they still count.
// The methods must not block for long: Commit runs while a request is
// being written.
type Pending interface {
	Commit()
	Cancel()
	Restamp()
}

// NewPendingGrant returns a pending Grant of n units whose Commit, Cancel
// and Restamp call p's, with the once-only rules of Grant: a limiter that
// implements Reserve(ctx, n) (*Grant, error) with it is held pending by
// the Reserve function of this package, and so by throttle's pipeline.
// A nil p, or an n below 1, gives a Grant that holds nothing.
func NewPendingGrant(n int, p Pending) *Grant {
	if p == nil || n < 1 {
		return &Grant{}
	}
	return newGrant(pendingOwner{p}, n)
}

// pendingOwner adapts a Pending to the Grant's owner.
type pendingOwner struct{ p Pending }

func (o pendingOwner) commitGrant(*Grant)  { o.p.Commit() }
func (o pendingOwner) cancelGrant(int)     { o.p.Cancel() }
func (o pendingOwner) restampGrant(*Grant) { o.p.Restamp() }
