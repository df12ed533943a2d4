package ratelimit

// entry is one stamped grant in a Window: units counted from at, an offset
// in nanoseconds from the Window's base time.
type entry struct {
	at    int64
	units int
}

// ring is a FIFO of entries in nondecreasing order of at, held in a
// circular buffer whose length is a power of two, so that wrapping around
// is a mask rather than a branch or a division on the hot path. It starts
// small and doubles while it is full, and it never holds more than max
// entries, which a Window never exceeds (see maxEntries). Once grown it
// never allocates again, so the steady state of a Window allocates
// nothing.
type ring struct {
	buf  []entry // len(buf) is a power of two
	head int     // index of the oldest entry
	size int     // number of entries
	max  int     // the most entries the ring may hold
}

// initialRing is the capacity a ring starts with (or less, if max is
// smaller). A crawl keeps one Window per host, most of them holding a
// stamp or two, so a fresh Window stays small; a busy one doubles its ring
// a few times (a few copies of a few entries) and then stays put.
const initialRing = 2

func newRing(max int) ring {
	return ring{buf: make([]entry, min(max, initialRing)), max: max}
}

// oldest returns the oldest entry; the ring must not be empty.
func (r *ring) oldest() entry { return r.buf[r.head] }

// at returns the i-th oldest entry.
func (r *ring) at(i int) entry { return *r.ptr(i) }

// newest returns a pointer to the newest entry; the ring must not be empty.
func (r *ring) newest() *entry { return r.ptr(r.size - 1) }

// pop drops the oldest entry.
func (r *ring) pop() {
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.size--
}

// push appends e, which must not be older than the newest entry. An entry
// stamped at the same instant as the newest is merged into it.
func (r *ring) push(e entry) {
	// Merging keeps bursts at one instant (and a fake clock's tests) to
	// one entry; the sum of units, not the number of entries, is what the
	// Window limits.
	if r.size > 0 {
		if last := r.newest(); last.at == e.at {
			last.units += e.units
			return
		}
	}
	if r.size == len(r.buf) {
		r.grow()
	}
	*r.ptr(r.size) = e
	r.size++
}

// remove takes units off the entry stamped at, and drops the entry if
// none are left, closing the gap by moving the newer entries back one
// place. It reports false, changing nothing, if no entry at at holds that
// many. Window.restampGrant uses it to move a grant's units to a later
// stamp; it costs one pass over the entries newer than at, and allocates
// nothing.
func (r *ring) remove(at int64, units int) bool {
	i := r.size - 1
	for i >= 0 && r.at(i).at > at {
		i--
	}
	if i < 0 || r.at(i).at != at || r.at(i).units < units {
		return false
	}
	e := r.ptr(i)
	if e.units -= units; e.units > 0 {
		return true
	}
	for ; i < r.size-1; i++ {
		*r.ptr(i) = r.at(i + 1)
	}
	r.size--
	return true
}

// ptr returns a pointer to the i-th oldest entry.
func (r *ring) ptr(i int) *entry { return &r.buf[(r.head+i)&(len(r.buf)-1)] }

// grow doubles the buffer, keeping the order. Growing a ring that holds
// max entries would break the Window's invariant, so it panics: that is a
// bug in this package, not a misuse.
func (r *ring) grow() {
	if r.size >= r.max {
		panic("ratelimit: window ring overflow")
	}
	buf := make([]entry, 2*len(r.buf))
	for i := 0; i < r.size; i++ {
		buf[i] = r.at(i)
	}
	r.buf, r.head = buf, 0
}
