package ratelimit

import (
	"context"
	"math"
	"time"
)

// A Window grants at most n units in any window of time of length per,
// wherever that window is placed: a strict sliding window, as quota servers
// enforce, where a token bucket would allow up to twice its burst across a
// window boundary. Use it when overshooting a published quota is an error.
//
// It keeps a ring of recent grants (their time and units), so it forgets a
// grant exactly per after it was stamped. The ring starts with room for two
// stamps and doubles as needed, up to n entries (fewer with
// WithGranularity), so a Window that is mostly idle costs little; once
// grown it does not allocate again. Its state is computed from its Clock
// when someone asks; it starts no goroutine.
//
// Units taken with Reserve are pending: they occupy capacity from the
// moment they are granted, and never expire, until Grant.Commit stamps them
// with the real time of use (so the window is counted from the send, not
// the grant) or Grant.Cancel gives them back. Waiters blocked behind pending
// units are woken by the Commit or Cancel; nothing polls.
//
// Waiters are served by priority (the context's, see semaphore.WithPriority),
// then first in, first out. A cancelled wait returns an error wrapping
// ctx.Err() and leaves the Window as if it had never been called. Times are
// kept as monotonic offsets from the Window's creation, and a clock that
// steps backwards is treated as standing still, so the promise holds
// whatever the wall clock does.
//
// A Window is safe for concurrent use. The zero value is not usable (it has
// no clock and grants nothing); call NewWindow.
type Window struct {
	q    fifo      // the waiters; q.mu guards every field below
	n    int       // units per window
	per  int64     // window length, in nanoseconds
	gran int64     // stamps are rounded up to a multiple of it (1: exact)
	base time.Time // offsets are measured from here

	last    int64 // latest offset seen: time never runs backwards here
	recent  ring  // stamped grants not yet known to have expired
	used    int   // sum of recent's units
	pending int   // units of grants not yet committed or cancelled

	onStamp func(at int64, units int) // test hook (export_test.go), nil otherwise
}

// NewWindow returns a Window granting at most n units in any window of
// length per. n and per must be positive; any positive per is honoured, up
// to the largest time.Duration. The options that apply are WithClock and
// WithGranularity; anything wrong is reported in one error wrapping
// ErrInvalid.
func NewWindow(n int, per time.Duration, opts ...Option) (*Window, error) {
	cfg, err := buildConfig(opts)
	if n <= 0 {
		err = joinErr(err, invalidf(callOp("NewWindow", n), "n must be positive"))
	}
	if per <= 0 {
		err = joinErr(err, invalidf("NewWindow(per="+per.String()+")", "per must be positive"))
	}
	if cfg.burstSet {
		err = joinErr(err, invalidf(callOp("NewWindow(WithBurst", cfg.burst)+")", "WithBurst applies to NewBucket only"))
	}
	if cfg.gran > per && per > 0 {
		err = joinErr(err, invalidf("NewWindow(per="+per.String()+", WithGranularity("+cfg.gran.String()+"))", "the granularity must not exceed per"))
	}
	if err != nil {
		return nil, err
	}
	w := &Window{
		q:    fifo{clock: cfg.clock},
		n:    n,
		per:  int64(per),
		gran: max(1, int64(cfg.gran)),
		base: cfg.clock.Now(),
	}
	w.q.e = w
	w.q.max.Store(int64(n))
	w.recent = newRing(maxEntries(n, w.per, w.gran))
	return w, nil
}

// maxEntries is the most stamps a Window can hold at once. Every live
// entry holds at least one unit and the live units sum to at most n. With
// stamps rounded up to multiples of gran, the live ones lie in
// (now-per, now+gran), which holds at most ceil(per/gran)+1 of them.
func maxEntries(n int, per, gran int64) int {
	if gran <= 1 {
		return n
	}
	return int(min(int64(n), per/gran+2)) // ceil(per/gran)+1, without overflow
}

// Limit reports the Window's n and per.
func (w *Window) Limit() (n int, per time.Duration) {
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	return w.n, time.Duration(w.per)
}

// MaxAcquire reports the largest n Acquire can grant now: the Window's n.
func (w *Window) MaxAcquire() int { return int(w.q.max.Load()) }

// Acquire blocks until n units are granted, counting from now, or ctx ends.
// Waiters are served in arrival order. It fails at once, without waiting,
// if ctx is nil (ErrNilContext), n is not positive (ErrInvalid), exceeds
// MaxAcquire (ErrExceedsLimit), ctx is already done, or ctx's deadline
// comes before the units could be granted (an error wrapping
// context.DeadlineExceeded). When ctx ends during the wait it returns an
// error wrapping ctx.Err() and the Window is left as if Acquire had never
// been called.
func (w *Window) Acquire(ctx context.Context, n int) error {
	return w.q.acquire(ctx, "Window.Acquire", n, false)
}

// Reserve is Acquire, but the units are held pending, occupying capacity
// without expiring, until the returned Grant is committed (they then count
// from the Commit) or cancelled (they are given back). The caller must do
// one or the other, or the capacity is lost for good.
func (w *Window) Reserve(ctx context.Context, n int) (*Grant, error) {
	if err := w.q.acquire(ctx, "Window.Reserve", n, true); err != nil {
		return nil, err
	}
	return newGrant(w, n), nil
}

// TryAcquire takes n units if it can do so at once, and reports whether it
// did. It fails while anyone is waiting, so it never overtakes a queued
// caller, and for any n that Acquire would reject.
//
// It is the hot path of a Window with capacity free: one uncontended lock,
// one read of the monotonic clock (see since), and a ring append that does
// not allocate once the ring has grown.
func (w *Window) TryAcquire(n int) bool {
	if n <= 0 || n > w.MaxAcquire() {
		return false
	}
	w.q.mu.Lock()
	ok := w.q.waiters.Len() == 0 && w.tryTake(n, false)
	w.q.mu.Unlock()
	return ok
}

// HasCapacity reports whether TryAcquire(n) would succeed now, without
// taking anything.
func (w *Window) HasCapacity(n int) bool {
	if n <= 0 || n > w.MaxAcquire() {
		return false
	}
	remaining, _ := w.State()
	return n <= remaining
}

// State reports what the Window holds now, as the RateLimit header fields
// of draft-ietf-httpapi-ratelimit-headers describe it: remaining, the
// units TryAcquire could take at once (0 while anyone waits, since waiters
// are served first), and reset, how long until the oldest unit counted now
// leaves the window and frees its capacity (0 if none is counted). Pending
// units of a Reserve occupy capacity but have no time yet, so they lower
// remaining and do not set reset.
func (w *Window) State() (remaining int, reset time.Duration) {
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	now := w.now()
	w.expire(now)
	if w.q.waiters.Len() == 0 {
		remaining = w.n - w.used - w.pending
	}
	if w.recent.size > 0 {
		reset = time.Duration(w.expiry(w.recent.oldest().at) - now)
	}
	return remaining, reset
}

// IdleAt reports whether the Window is indistinguishable from a new one at
// now: every grant has expired, none is pending and no one waits. Keyed
// uses it to drop idle entries.
func (w *Window) IdleAt(now time.Time) bool {
	off := int64(now.Sub(w.base))
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	if w.q.waiters.Len() > 0 || w.pending > 0 {
		return false
	}
	return w.recent.size == 0 || w.expiry(w.recent.newest().at) <= off
}

// expiry is when a grant stamped at offset at stops counting: at+per, or
// the end of time if that sum would overflow (per may be as long as a
// time.Duration can be, and at is never negative).
func (w *Window) expiry(at int64) int64 {
	if at > math.MaxInt64-w.per {
		return math.MaxInt64
	}
	return at + w.per
}

// now returns the clock's time as an offset from base, never earlier than
// one already seen. Called with q.mu held.
func (w *Window) now() int64 {
	off := int64(since(w.q.clock, w.base))
	if off < w.last {
		return w.last // the clock stepped back: stand still instead
	}
	w.last = off
	return off
}

// expire forgets the grants that no longer count at now: a grant stamped
// at t counts in windows [s, s+per) that contain t, so it stops counting
// at t+per. Called with q.mu held.
func (w *Window) expire(now int64) {
	for w.recent.size > 0 && w.expiry(w.recent.oldest().at) <= now {
		w.used -= w.recent.oldest().units
		w.recent.pop()
	}
}

// tryTake implements engine. The invariant used+pending <= n holds at every
// instant, so every window of length per ending at a stamp holds at most n
// units: see commitGrant for why stamping later keeps it.
func (w *Window) tryTake(k int, hold bool) bool {
	now := w.now()
	w.expire(now)
	if w.used+w.pending+k > w.n {
		return false
	}
	if hold {
		w.pending += k
		return true
	}
	w.stamp(now, k)
	return true
}

// stamp counts k units from now, rounded up to the granularity, and
// returns the stamp. Called with q.mu held.
func (w *Window) stamp(now int64, k int) int64 {
	at := w.round(now)
	w.recent.push(entry{at: at, units: k})
	w.used += k
	if w.onStamp != nil {
		w.onStamp(at, k)
	}
	return at
}

// round rounds now up to the granularity: counting units as used later
// than they were only delays their expiry, so the limit stays strict.
func (w *Window) round(now int64) int64 {
	if w.gran > 1 {
		return (now + w.gran - 1) / w.gran * w.gran
	}
	return now
}

// waitFor implements engine: the instant when enough of the oldest grants
// expire for need more units (on top of the pending ones) to fit. Pending
// units never expire, so if they and need exceed n only a Commit or Cancel
// can help.
func (w *Window) waitFor(need int) (time.Time, bool) {
	need += w.pending
	if need > w.n {
		return time.Time{}, false
	}
	now := w.now()
	w.expire(now)
	excess := w.used + need - w.n
	for i := 0; excess > 0 && i < w.recent.size; i++ {
		e := w.recent.at(i)
		if excess -= e.units; excess <= 0 {
			return w.base.Add(time.Duration(w.expiry(e.at))), true
		}
	}
	return w.base.Add(time.Duration(now)), true
}

// estimate implements engine by playing the queue forward: the live
// grants, the pending units stamped now, then each waiter ahead of wt and
// finally k, each served at the earliest time its units fit. (It ignores
// the granularity, so it can only come out short: it is a lower bound.)
func (w *Window) estimate(wt *waiter, k int) time.Duration {
	now := w.now()
	w.expire(now)
	sim := make([]entry, 0, w.recent.size+w.q.waiters.Len()+2)
	for i := range w.recent.size {
		sim = append(sim, w.recent.at(i))
	}
	if w.pending > 0 {
		sim = append(sim, entry{at: now, units: w.pending})
	}
	used, t, oldest := w.used+w.pending, now, 0
	serve := func(k int) {
		if k > w.n {
			return // a waiter the limit was lowered under: it will fail, not be served
		}
		for used+k > w.n { // k <= n, so this ends
			e := sim[oldest]
			oldest++
			used -= e.units
			t = max(t, w.expiry(e.at))
		}
		sim = append(sim, entry{at: t, units: k})
		used += k
	}
	for x := w.q.waiters.Front(); x != nil && x != wt; x = x.Next() {
		serve(x.Val.n)
	}
	if k > w.n {
		return math.MaxInt64 // never: see Look
	}
	serve(k)
	return time.Duration(t - now)
}

// commitGrant stamps g's pending units at now. The stamp is never earlier
// than the grant (time does not run backwards here), and the units occupied
// capacity since the grant, so moving them from pending to a stamp keeps
// used+pending <= n, and they count for a full per from the stamp.
func (w *Window) commitGrant(g *Grant) {
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	now := w.now()
	w.expire(now)
	w.pending -= g.n
	g.at, g.stamped = w.stamp(now, g.n), true
	// The units now expire at now+per, where as pending they never would:
	// the front waiter may be able to set a timer, or an earlier one.
	w.q.waiters.WakeFront()
}

// restampGrant moves g's units from their stamp to now, if they still
// count. Like a late Commit it keeps used+pending <= n at every instant:
// the units have counted all along, and now count until now+per. The
// front waiter may have a timer for their old expiry; it then finds them
// still counting and sets a new one. Test hooks see only first stamps.
func (w *Window) restampGrant(g *Grant) {
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	now := w.now()
	w.expire(now)
	at := w.round(now)
	if !g.stamped || g.at >= at || w.expiry(g.at) <= now {
		return // a Commit in flight, already now, or no longer counting
	}
	if w.recent.remove(g.at, g.n) {
		w.recent.push(entry{at: at, units: g.n})
		g.at = at
	}
}

// cancelGrant gives n pending units back and wakes the front waiter.
func (w *Window) cancelGrant(n int) {
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	w.pending -= n
	w.q.waiters.WakeFront()
}
