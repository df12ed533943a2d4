package semaphore

import "context"

// Weighted bounds concurrent access to a resource of a fixed capacity:
// callers take units with Acquire and give them back with Release. It is
// x/sync/semaphore.Weighted with priorities, a queue limit, and errors
// where that one panics or blocks forever.
//
// Ordering: waiters are served by priority (PriorityFrom(ctx)), highest
// first, first come first served within a priority. The first waiter that
// does not fit in the free capacity holds up all behind it, so a large
// request is never starved by a stream of small ones of its priority.
// Acquire takes the fast path, without allocating, only when no waiter of
// its priority or higher is queued.
//
// A Weighted is safe for concurrent use. Create one with NewWeighted; the
// zero value has capacity 0 (and a queue limit of 0) and grants only
// requests for 0 units.
type Weighted struct {
	s sem
}

// NewWeighted returns a semaphore of capacity n (n >= 0). Of the options
// only WithQueueLimit applies; quota options are for Throttler and give an
// error here, as does a bad argument, wrapping ErrInvalid.
func NewWeighted(n int64, opts ...Option) (*Weighted, error) {
	if n < 0 {
		return nil, invalidf("NewWeighted(n=%d): n must not be negative", n)
	}
	cfg, err := buildConfig(opts, false)
	if err != nil {
		return nil, err
	}
	return &Weighted{s: sem{size: n, queueLimit: cfg.queueLimit}}, nil
}

// Acquire takes n units, blocking until they are granted or ctx is done.
// It waits at priority PriorityFrom(ctx). On success it returns nil, and
// the caller must give the units back with Release(n).
//
// It returns at once, having taken nothing, with an error wrapping:
// ErrNilContext (and so ErrInvalid) if ctx is nil; ErrInvalid if n < 0; ErrExceedsCapacity if n > Capacity() (x/sync would
// block until ctx ends); ErrQueueFull if it would have to wait while the
// queue limit is reached; ctx.Err() if ctx is already done, even if the
// units are free. If ctx ends while it waits, it returns an error wrapping
// ctx.Err() and leaves the semaphore unchanged: units granted meanwhile
// are given back, and waiters it was holding up are woken.
func (s *Weighted) Acquire(ctx context.Context, n int64) error {
	if ctx == nil {
		return nilCtxErr("Weighted.Acquire", n)
	}
	return s.s.acquire(ctx, n, PriorityFrom(ctx), "")
}

// TryAcquire takes n units at PriorityNormal if it can without waiting,
// and reports whether it did; on false the semaphore is unchanged. It
// fails when n is negative or too large, when the units are not free, and
// when a waiter of normal or higher priority is queued (it would overtake
// it).
func (s *Weighted) TryAcquire(n int64) bool {
	return s.s.try(n, PriorityNormal, "")
}

// Release gives back n units taken with Acquire or TryAcquire and wakes
// the waiters that can now be served.
//
// Unlike x/sync it never panics: n <= 0 is ignored, and releasing more
// than is held releases what is held, leaving Held() at 0. Such a call is
// still a bug in the caller, which can grant units twice.
func (s *Weighted) Release(n int64) {
	s.s.release(n, PriorityNormal, "")
}

// Waiting returns the number of callers waiting in Acquire now.
func (s *Weighted) Waiting() int { return s.s.waiting() }

// Held returns the number of units held now.
func (s *Weighted) Held() int64 { return s.s.held() }

// Capacity returns the capacity given to NewWeighted.
func (s *Weighted) Capacity() int64 { return s.s.capacity() }
