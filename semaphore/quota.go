package semaphore

// consumer is the quota state of one named consumer: what it holds and how
// many of its callers wait. It exists while either is non-zero.
type consumer struct {
	name    string
	held    int64
	waiting int
	// blocked is the grant pass (see sem.pass) in which a waiter of this
	// consumer was held back by its quota; later waiters of the consumer
	// are held back in the same pass too, to keep them in FIFO order.
	blocked uint64
}

// share is one WithPriorityShare: the callers of priority prio and lower
// together hold held units, at most max.
type share struct {
	prio Priority
	frac float64 // the fraction of the capacity given
	max  int64
	held int64
}

// quotas is a Throttler's per-consumer and per-priority accounting. A nil
// *quotas (a Weighted) has no quotas, and its methods say so.
type quotas struct {
	consumerShare float64 // the fraction given; 0: none
	consumerMax   int64   // 0: no per-consumer cap
	consumers     map[string]*consumer
	spare         []*consumer // freed consumers kept for reuse, so the fast path does not allocate
	shares        []share
}

// maxSpare bounds the idle consumers kept in quotas.consumers and the
// freed ones kept in quotas.spare.
const maxSpare = 64

// newQuotas returns the quotas cfg asks for over capacity, or nil if it asks
// for none.
func newQuotas(cfg config, capacity int64) *quotas {
	if cfg.consumerShare == 0 && len(cfg.shares) == 0 {
		return nil
	}
	q := &quotas{consumerShare: cfg.consumerShare}
	if cfg.consumerShare != 0 {
		q.consumers = make(map[string]*consumer)
	}
	for p, f := range cfg.shares {
		q.shares = append(q.shares, share{prio: p, frac: f})
	}
	q.resize(capacity)
	return q
}

// resize works the quotas out for capacity. What each consumer and share
// holds stays: if that is now more than its quota, it gets nothing more
// until it is below.
func (q *quotas) resize(capacity int64) {
	if q == nil {
		return
	}
	if q.consumerShare != 0 {
		q.consumerMax = shareOf(q.consumerShare, capacity)
	}
	for i := range q.shares {
		q.shares[i].max = shareOf(q.shares[i].frac, capacity)
	}
}

// limit returns the most units a caller of priority prio, named or not,
// could ever hold under the quotas, capped at capacity. The quotas change
// with the capacity, so it needs the mutex.
func (q *quotas) limit(capacity int64, prio Priority, named bool) int64 {
	if q == nil {
		return capacity
	}
	m := capacity
	if named && q.consumerMax > 0 {
		m = min(m, q.consumerMax)
	}
	for i := range q.shares {
		if s := &q.shares[i]; prio <= s.prio {
			m = min(m, s.max)
		}
	}
	return m
}

// consumer returns the state of the consumer called name, creating it, or
// nil if consumers are not tracked or name is "".
func (q *quotas) consumer(name string) *consumer {
	if q == nil || q.consumerMax == 0 || name == "" {
		return nil
	}
	if c := q.consumers[name]; c != nil {
		return c
	}
	var c *consumer
	if n := len(q.spare); n > 0 {
		c, q.spare = q.spare[n-1], q.spare[:n-1]
		*c = consumer{name: name}
	} else {
		c = &consumer{name: name}
	}
	q.consumers[name] = c
	return c
}

// lookup returns the state of the consumer called name if it exists.
func (q *quotas) lookup(name string) *consumer {
	if q == nil || q.consumerMax == 0 || name == "" {
		return nil
	}
	return q.consumers[name]
}

// tidy forgets c once it holds nothing and nobody of it waits, so that
// memory is bounded by the consumers in use. Up to maxSpare idle consumers
// stay in the map, so that a consumer that acquires and releases in turn
// does not pay for a map delete and insert each time; beyond that, freed
// states are recycled through spare.
func (q *quotas) tidy(c *consumer) {
	if c == nil || c.held != 0 || c.waiting != 0 || len(q.consumers) <= maxSpare {
		return
	}
	delete(q.consumers, c.name)
	if len(q.spare) < maxSpare {
		*c = consumer{}
		q.spare = append(q.spare, c)
	}
}

// sharesAllow reports whether every share binding priority prio has room
// for n more units.
func (q *quotas) sharesAllow(n int64, prio Priority) bool {
	for i := range q.shares {
		if s := &q.shares[i]; prio <= s.prio && s.held+n > s.max {
			return false
		}
	}
	return true
}

// add counts n units (negative: given back) against c and the shares
// binding prio. Given-back units never take a count below zero.
func (q *quotas) add(n int64, prio Priority, c *consumer) {
	if q == nil {
		return
	}
	if c != nil {
		c.held = max(0, c.held+n)
	}
	for i := range q.shares {
		if s := &q.shares[i]; prio <= s.prio {
			s.held = max(0, s.held+n)
		}
	}
}
