package ratelimit

import "time"

// This file holds what the root package's host table needs of a Window
// beyond its limiter API: to keep an idle Window's history in a few words
// and rebuild the Window from it when its host is used again, and to take
// pending units without waiting.

// TryReserveInto is Reserve without waiting: it holds n units pending in
// g if they fit now and nobody waits, and reports whether it did. g must
// be a zero Grant that the caller owns (part of a larger struct, say), so
// that taking the units allocates nothing; on success the caller must
// Commit or Cancel it, and must not copy it. Like TryAcquire it never
// overtakes a queued caller and fails for any n Acquire would reject.
func (w *Window) TryReserveInto(g *Grant, n int) bool {
	return n > 0 && n <= w.MaxAcquire() && tryReserveInto(&w.q, w, w, g, n)
}

// tryReserveInto is the TryReserveInto of a Window and of a Bucket: it
// takes n units of e as pending, under q's lock, if nobody waits, and
// holds them in g, owned by o.
func tryReserveInto(q *fifo, e engine, o grantOwner, g *Grant, n int) bool {
	q.mu.Lock()
	ok := q.waiters.Len() == 0 && e.tryTake(n, true)
	q.mu.Unlock()
	if ok {
		g.n, g.owner = n, o
	}
	return ok
}

// History calls f with each stamp that still counts at now, oldest first:
// the instant it counts from and its units. It reports false, calling f
// for nothing, when the Window is in use (units pending or callers
// waiting): only an unused Window is fully described by its stamps.
func (w *Window) History(now time.Time, f func(at time.Time, units int)) bool {
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	if w.q.waiters.Len() > 0 || w.pending > 0 {
		return false
	}
	w.expire(max(int64(now.Sub(w.base)), w.last))
	for i := range w.recent.size {
		e := w.recent.at(i)
		f(w.base.Add(time.Duration(e.at)), e.units)
	}
	return true
}

// AddHistory counts units from at, as History reported them, in a Window
// not yet used: call it for each stamp, oldest first, before anything
// else. Stamps may predate the Window (they are kept as negative offsets
// from its creation). Units beyond the Window's n are dropped, so the
// Window stays within its limit whatever it is given.
func (w *Window) AddHistory(at time.Time, units int) {
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	units = min(units, w.n-w.used)
	if units <= 0 {
		return
	}
	off := int64(at.Sub(w.base))
	if w.recent.size > 0 {
		off = max(off, w.recent.newest().at)
	}
	w.recent.push(entry{at: off, units: units})
	w.used += units
}
