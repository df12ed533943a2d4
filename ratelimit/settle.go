package ratelimit

import "time"

// This file holds what a cost budget needs of a Window beyond its limiter
// API: a grant whose real use is known only afterwards (an LLM call is
// charged its max_tokens up front and uses fewer), and capacity that a
// server says is spent although this Window did not grant it.

// Settle changes the units a committed grant holds to n, the units really
// used, once they are known: fewer give the difference back at once, and
// the waiters are woken to take it; more take the difference, as far as
// the limiter has room (a Window counts them from the grant's stamp, and
// never holds more than its n; a Bucket gives what it holds). It does
// nothing if the grant is not committed (pending units are settled by
// committing or cancelling them), if a Window's units have stopped
// counting, or if it is neither a Window's nor a Bucket's. It may be called more than
// once: each call sets the units to n. A negative n counts as 0. It is
// safe for concurrent use, and a no-op on a nil *Grant.
func (g *Grant) Settle(n int) {
	if g == nil || g.state.Load() != grantCommitted {
		return
	}
	switch o := g.owner.(type) {
	case *Window:
		o.settleGrant(g, max(n, 0))
	case *Bucket:
		o.settleGrant(g, max(n, 0))
	}
}

// settler is an owner whose Grants Settle changes, under its lock: a
// Window or a Bucket.
type settler interface {
	grantN(g *Grant) int
}

// grantN reads g.n under the lock that settleGrant writes it under.
func (b *Bucket) grantN(g *Grant) int {
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	return g.n
}

// grantN reads g.n under the lock that settleGrant writes it under.
func (w *Window) grantN(g *Grant) int {
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	return g.n
}

// settleGrant implements Grant.Settle for a Bucket: fewer units put the
// difference back in the bucket (capped at the burst, as cancelGrant
// does), more take it out, as far as the bucket holds it.
func (b *Bucket) settleGrant(g *Grant, n int) {
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	now := b.now()
	switch d := n - g.n; {
	case d < 0:
		b.lim.AllowN(now, d)
		g.n = n
		b.q.waiters.WakeFront()
	case d > 0:
		if d = min(d, int(b.lim.TokensAt(now))); d > 0 && b.lim.AllowN(now, d) {
			g.n += d
		}
	}
}

// Drain takes tokens out of the Bucket so that it holds at most remaining
// once its pending units are spent too, and reports how many it took. It
// is Window.Occupy's counterpart for a server that refills continuously:
// one that states fewer remaining tokens than the Bucket holds has counted
// what the Bucket has not. It wakes nobody.
func (b *Bucket) Drain(remaining int) int {
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	now := b.now()
	k := int(b.lim.TokensAt(now)) - (max(remaining, 0) - b.pending)
	if k <= 0 || !b.lim.AllowN(now, k) {
		return 0
	}
	return k
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
