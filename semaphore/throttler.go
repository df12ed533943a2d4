package semaphore

import "context"

// Throttler is a Weighted with quotas, after Python's aio-throttle: a
// capacity, an optional queue limit, a cap per consumer (WithConsumerShare)
// and reserves for higher priorities (WithPriorityShare). The consumer and
// the priority of a call come from its context (WithConsumer,
// WithPriority). Acquire returns a Permit that gives back exactly what it
// took.
//
// Ordering is Weighted's, with one rule for quotas: a waiter that would fit
// in the free capacity but is held back only by its own consumer's quota is
// skipped, so it never stalls other consumers, while later waiters of the
// same consumer stay behind it. A waiter that does not fit in the free
// capacity still holds up everyone behind it, whatever its quota, and so
// does one held back by a priority share (those behind it are bound by the
// same share), so neither is starved. Granting may therefore look at every
// queued waiter of quota-blocked consumers, where Weighted looks at the
// granted ones and one more.
//
// A Throttler is safe for concurrent use. Create one with NewThrottler; the
// zero value, like Weighted's, has capacity 0, no quotas and a queue limit
// of 0, so it grants only requests for 0 units.
type Throttler struct {
	s sem
}

// NewThrottler returns a Throttler of the given capacity (>= 0) with the
// options. A bad argument gives an error wrapping ErrInvalid that names it.
func NewThrottler(capacity int64, opts ...Option) (*Throttler, error) {
	if capacity < 0 {
		return nil, invalidf("NewThrottler(capacity=%d): capacity must not be negative", capacity)
	}
	cfg, err := buildConfig(opts, true)
	if err != nil {
		return nil, err
	}
	return newThrottler(capacity, cfg), nil
}

// newThrottler builds a Throttler from a checked config.
func newThrottler(capacity int64, cfg config) *Throttler {
	return &Throttler{s: sem{
		size:        capacity,
		queueLimit:  cfg.queueLimit,
		rejectQuota: cfg.rejectQuota,
		quota:       newQuotas(cfg, capacity),
	}}
}

// Acquire takes n units for ConsumerFrom(ctx) at PriorityFrom(ctx),
// blocking until they are granted or ctx is done, and returns a Permit
// that must be released exactly once.
//
// It returns at once, having taken nothing, with an error wrapping:
// ErrNilContext (and so ErrInvalid) if ctx is nil; ErrInvalid if n < 0; ErrExceedsCapacity if n exceeds the capacity or the
// caller's quota (its consumer share or a priority share binding it), so
// could never be granted; ErrQueueFull if it would have to wait while the
// queue limit is reached (joined with ErrQuota if its own quota is why it
// would wait); ErrQuota, as a *QuotaError naming the quota, if its own
// quota holds it back and the Throttler has WithRejectOnQuota; ctx.Err()
// if ctx is already done. If ctx ends while it
// waits, it returns an error wrapping ctx.Err() and leaves the Throttler
// unchanged, waking the waiters it was holding up.
func (t *Throttler) Acquire(ctx context.Context, n int64) (Permit, error) {
	if ctx == nil {
		return Permit{}, nilCtxErr("Throttler.Acquire", n)
	}
	prio, name := PriorityFrom(ctx), ConsumerFrom(ctx)
	if err := t.s.acquire(ctx, n, prio, name); err != nil {
		return Permit{}, err
	}
	return Permit{t: t, n: n, prio: prio, consumer: name}, nil
}

// TryAcquire takes n units for ConsumerFrom(ctx) at PriorityFrom(ctx) if
// it can without waiting, and reports whether it did; ctx only names the
// consumer and priority and is not watched. On false nothing is taken: n
// was negative or could never be granted, ctx was nil, the caller's quota
// held it back, or it would have had to wait for capacity.
func (t *Throttler) TryAcquire(ctx context.Context, n int64) (Permit, bool) {
	if ctx == nil {
		return Permit{}, false
	}
	prio, name := PriorityFrom(ctx), ConsumerFrom(ctx)
	if !t.s.try(n, prio, name) {
		return Permit{}, false
	}
	return Permit{t: t, n: n, prio: prio, consumer: name}, true
}

// Waiting returns the number of callers waiting in Acquire now.
func (t *Throttler) Waiting() int { return t.s.waiting() }

// Held returns the number of units held now, by all consumers.
func (t *Throttler) Held() int64 { return t.s.held() }

// Capacity returns the capacity now: the one given to NewThrottler, or
// the last SetCapacity.
func (t *Throttler) Capacity() int64 { return t.s.capacity() }

// Permit is the units a Throttler granted. It is a small value, free to
// copy; the zero Permit holds nothing and its Release does nothing.
type Permit struct {
	t        *Throttler
	n        int64
	prio     Priority
	consumer string
}

// Release gives back the units of p to the consumer and priority they were
// taken for, and wakes the waiters that can now be served.
//
// Call it exactly once, as with x/sync's Release: a Permit is a value and
// cannot tell its copies apart, so a second call gives the units back
// again and lets others exceed the capacity. (Counts never go below zero.)
func (p Permit) Release() {
	if p.t == nil {
		return
	}
	p.t.s.release(p.n, p.prio, p.consumer)
}

// N returns the number of units p holds; 0 for the zero Permit.
func (p Permit) N() int64 { return p.n }
