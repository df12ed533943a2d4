package ratelimit

import (
	"context"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// A Bucket is a token bucket with aiolimiter's semantics: it holds up to
// burst units (n by default), is refilled continuously at n units per per,
// and starts full. Acquiring n units at once after an idle period is
// allowed; over any long stretch the rate is n/per. Unlike a Window it can
// grant up to burst+n units in a window of length per; use a Window where
// that matters.
//
// The tokens live in a golang.org/x/time/rate.Limiter, used with care:
// every call passes the time read from the Bucket's Clock, under the
// Bucket's mutex, so the limiter never sees time step backwards
// (golang/go#71360), and the Bucket does its own waiting, so n up to the
// burst works for Acquire (WaitN's golang/go#16854 does not arise) and
// every error can be matched with errors.Is (golang/go#54541).
//
// Waiters are served by priority, then first in, first out, from the
// Bucket's own queue rather than with x/time/rate reservations: a waiter
// takes its tokens only when it is served, so a cancelled wait gives back
// everything in any order (x/time/rate's Reservation.Cancel can restore
// only the tokens no later reservation depends on). A Bucket starts no
// goroutine.
//
// A Bucket is safe for concurrent use. The zero value is not usable (it has
// no clock and no tokens); call NewBucket.
type Bucket struct {
	q     fifo // the waiters; q.mu guards every field below and lim's calls
	lim   *rate.Limiter
	n     int
	per   time.Duration
	burst int

	base    time.Time // the Bucket's creation, on its clock
	last    time.Time // latest time passed to lim
	pending int       // units of grants not yet committed or cancelled
}

// NewBucket returns a Bucket granting n units per per, with a burst of n
// unless WithBurst says otherwise. n and per must be positive (any positive
// per is honoured, up to the largest time.Duration); anything
// wrong, options included, is reported in one error wrapping ErrInvalid.
func NewBucket(n int, per time.Duration, opts ...Option) (*Bucket, error) {
	cfg, err := buildConfig(opts)
	if n <= 0 {
		err = joinErr(err, invalidf(callOp("NewBucket", n), "n must be positive"))
	}
	if per <= 0 {
		err = joinErr(err, invalidf("NewBucket(per="+per.String()+")", "per must be positive"))
	}
	if cfg.gran != 0 {
		err = joinErr(err, invalidf("NewBucket(WithGranularity("+cfg.gran.String()+"))", "WithGranularity applies to NewWindow only"))
	}
	if err != nil {
		return nil, err
	}
	burst := n
	if cfg.burstSet {
		burst = cfg.burst
	}
	b := &Bucket{
		q:     fifo{clock: cfg.clock},
		n:     n,
		per:   per,
		burst: burst,
		base:  cfg.clock.Now(),
	}
	b.q.e, b.last = b, b.base
	b.q.max.Store(int64(burst))
	b.lim = rate.NewLimiter(rate.Limit(float64(n)/per.Seconds()), burst)
	b.lim.SetBurstAt(b.last, burst) // start full, at our clock's time
	return b, nil
}

// Limit reports the Bucket's n and per (its rate is n/per).
func (b *Bucket) Limit() (n int, per time.Duration) {
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	return b.n, b.per
}

// MaxAcquire reports the largest n Acquire can grant now: the burst.
func (b *Bucket) MaxAcquire() int { return int(b.q.max.Load()) }

// Acquire blocks until n tokens are taken or ctx ends. Waiters are served
// in arrival order. It fails at once, without waiting, if ctx is nil
// (ErrNilContext), n is not positive (ErrInvalid), exceeds the burst
// (ErrExceedsLimit), ctx is already done, or ctx's deadline comes before
// the tokens could be refilled (an error wrapping
// context.DeadlineExceeded). When ctx ends during the wait it returns an
// error wrapping ctx.Err() and takes nothing.
func (b *Bucket) Acquire(ctx context.Context, n int) error {
	return b.q.acquire(ctx, "Bucket.Acquire", n, false)
}

// Reserve is Acquire returning a Grant. The tokens are spent when granted,
// so Commit only marks the grant used; Cancel puts the tokens back in the
// bucket (up to the burst) and wakes the next waiter. Until one of them is
// called the Bucket does not report IdleAt.
func (b *Bucket) Reserve(ctx context.Context, n int) (*Grant, error) {
	if err := b.q.acquire(ctx, "Bucket.Reserve", n, true); err != nil {
		return nil, err
	}
	return newGrant(b, n), nil
}

// TryAcquire takes n tokens if it can do so at once, and reports whether
// it did. It fails while anyone is waiting, so it never overtakes a queued
// caller, and for any n that Acquire would reject.
func (b *Bucket) TryAcquire(n int) bool {
	if n <= 0 || n > b.MaxAcquire() {
		return false
	}
	b.q.mu.Lock()
	ok := b.q.waiters.Len() == 0 && b.tryTake(n, false)
	b.q.mu.Unlock()
	return ok
}

// HasCapacity reports whether TryAcquire(n) would succeed now, without
// taking anything.
func (b *Bucket) HasCapacity(n int) bool {
	if n <= 0 || n > b.MaxAcquire() {
		return false
	}
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	return b.q.waiters.Len() == 0 && b.lim.TokensAt(b.now()) >= float64(n)
}

// IdleAt reports whether the Bucket is indistinguishable from a new one at
// now: full, with no waiter and no pending grant. Keyed uses it to drop
// idle entries.
func (b *Bucket) IdleAt(now time.Time) bool {
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	if b.q.waiters.Len() > 0 || b.pending > 0 || now.Before(b.last) {
		return false
	}
	return b.lim.TokensAt(now) >= float64(b.burst)
}

// now returns the clock's time, never earlier than a time already passed
// to lim. Called with q.mu held.
func (b *Bucket) now() time.Time {
	t := b.base.Add(since(b.q.clock, b.base))
	if t.Before(b.last) {
		return b.last
	}
	b.last = t
	return t
}

// tryTake implements engine. It works out the wait itself before AllowN
// does: x/time/rate computes it in float64 nanoseconds, and for a refill
// period near the largest time.Duration it rounds to 2^63, passes its
// overflow check and wraps to a negative wait, which AllowN would take for
// "no wait".
func (b *Bucket) tryTake(k int, hold bool) bool {
	now := b.now()
	if b.refillNanos(k, now) >= 1 || !b.lim.AllowN(now, k) {
		return false
	}
	if hold {
		b.pending += k
	}
	return true
}

// waitFor implements engine: when the refill brings the bucket to need
// tokens.
func (b *Bucket) waitFor(need int) (time.Time, bool) {
	now := b.now()
	// x/time/rate counts tokens in float64: a refill worked out from an
	// instant before the true one can end a nanosecond past it, and a
	// timer armed for that nanosecond would miss the instant (on a fake
	// clock, forever). Rounded to the microsecond, it lands on it; if it
	// lands a little early, the queue simply looks again, never at once.
	d := b.refillWait(need, now)
	if d > 0 {
		d = max(d.Round(time.Microsecond), time.Microsecond)
	}
	return now.Add(d), true
}

// refillWait is how long the refill takes, from now, to bring the bucket
// to need tokens: rounded up, so that a timer does not fire a nanosecond
// short of the tokens (the queue looks again anyway if it does).
func (b *Bucket) refillWait(need int, now time.Time) time.Duration {
	return ceilDuration(b.refillNanos(need, now))
}

// refillNanos is how many nanoseconds the refill takes, from now, to bring
// the bucket to need tokens (0 if it holds them), computed as x/time/rate
// does, so that AllowN waits exactly when this is 1 or more. Called with
// q.mu held.
func (b *Bucket) refillNanos(need int, now time.Time) float64 {
	missing := float64(need) - b.lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return missing / float64(b.lim.Limit()) * float64(time.Second)
}

// ceilDuration converts ns nanoseconds to a Duration, rounded up, and
// saturates at the largest Duration: converting a float64 beyond the int64
// range is implementation-defined (on amd64 it gives a negative number, a
// timer that fires at once).
func ceilDuration(ns float64) time.Duration {
	if ns >= math.MaxInt64 { // float64(math.MaxInt64) is 2^63, itself out of range
		return math.MaxInt64
	}
	return time.Duration(math.Ceil(ns))
}

// estimate implements engine: the refill time for the tokens of everyone
// ahead of w and k more (waiters take nothing until served, and the
// bucket refills at n/per whatever its burst).
func (b *Bucket) estimate(w *waiter, k int) time.Duration {
	need := k
	for x := b.q.waiters.Front(); x != nil && x != w; x = x.Next() {
		need += x.Val.n
	}
	return b.refillWait(need, b.now())
}

// commitGrant marks n pending units used: the tokens were spent when they
// were granted.
func (b *Bucket) commitGrant(g *Grant) {
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	b.pending -= g.n
}

// restampGrant does nothing: spent tokens do not expire, so there is no
// stamp to move.
func (b *Bucket) restampGrant(*Grant) {}

// cancelGrant puts n tokens back, capped at the burst, and wakes the front
// waiter. x/time/rate has no call for returning spent tokens;
// AllowN(t, -n) adds n to the bucket (its next look at the tokens caps them
// at the burst). TestBucketCancelGivesBack pins that behaviour of the
// pinned x/time version.
func (b *Bucket) cancelGrant(n int) {
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	b.pending -= n
	b.lim.AllowN(b.now(), -n)
	b.q.waiters.WakeFront()
}
