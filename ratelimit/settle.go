package ratelimit

import "time"

// This file holds what a cost budget needs of a Window beyond its limiter
// API: a grant whose real use is known only afterwards (an LLM call is
// charged its max_tokens up front and uses fewer), and capacity that a
// server says is spent although this Window did not grant it.

// Settle changes the units a committed grant of a Window holds to n, the
// units really used, once they are known: fewer give the difference back
// at once, and the waiters are woken to take it; more take the difference
// from the Window, counted from the grant's stamp, as far as the Window has
// room (the units were used, so they count, but the Window never holds
// more than its n). It does nothing if the grant is not committed (pending
// units are settled by committing or cancelling them), if its units have
// stopped counting, or if it is not a Window's. It may be called more than
// once: each call sets the units to n. A negative n counts as 0. It is
// safe for concurrent use, and a no-op on a nil *Grant.
func (g *Grant) Settle(n int) {
	if g == nil || g.state.Load() != grantCommitted {
		return
	}
	if w, ok := g.owner.(*Window); ok {
		w.settleGrant(g, max(n, 0))
	}
}

// settleGrant implements Grant.Settle. g.n changes only here and under
// the Window's lock, where restampGrant reads it; a committed grant is
// never cancelled, so cancelGrant never reads it.
func (w *Window) settleGrant(g *Grant, n int) {
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	now := w.now()
	w.expire(now)
	if !g.stamped || w.expiry(g.at) <= now {
		return // a Commit in flight, or no longer counting
	}
	switch d := n - g.n; {
	case d < 0:
		if w.recent.remove(g.at, -d) {
			w.used += d
			g.n = n
			w.q.waiters.WakeFront()
		}
	case d > 0:
		d = min(d, w.n-w.used-w.pending)
		if d > 0 && w.recent.addAt(g.at, d) {
			w.used += d
			g.n += d
		}
	}
}

// Occupy makes sure that at least used units count now, by counting the
// shortfall until the instant until, and reports how many units it
// counted. It is for capacity spent elsewhere: a server that states how
// much of its budget is spent may have counted requests this Window has
// not (another client's, or this one's before the Window existed). The
// units count as if stamped at until minus the Window's per, so they stop
// counting at until, or at once if until has passed. It never makes the
// Window hold more than its n (pending units included), and it wakes
// nobody: it only takes capacity away.
func (w *Window) Occupy(until time.Time, used int) int {
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	now := w.now()
	w.expire(now)
	end := int64(until.Sub(w.base))
	units := min(used-w.used, w.n-w.used-w.pending)
	if units <= 0 || end <= now {
		return 0
	}
	w.recent.insert(entry{at: end - w.per, units: units})
	w.used += units
	return units
}

// addAt adds units to the entry stamped at, reporting false if there is
// none.
func (r *ring) addAt(at int64, units int) bool {
	for i := r.size - 1; i >= 0; i-- {
		e := r.ptr(i)
		if e.at == at {
			e.units += units
			return true
		}
		if e.at < at {
			break
		}
	}
	return false
}

// insert adds e in its place by stamp, merging it into an entry of the
// same stamp, and moving the newer entries up one place.
func (r *ring) insert(e entry) {
	i := r.size - 1
	for i >= 0 && r.at(i).at > e.at {
		i--
	}
	if i >= 0 && r.at(i).at == e.at {
		r.ptr(i).units += e.units
		return
	}
	if r.size == len(r.buf) {
		r.grow()
	}
	for j := r.size; j > i+1; j-- {
		*r.ptr(j) = r.at(j - 1)
	}
	*r.ptr(i + 1) = e
	r.size++
}
