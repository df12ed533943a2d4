package semaphore

// SetCapacity changes the Throttler's capacity to capacity (>= 0) while it
// is in use, and with it the quotas, which are fractions of it (the
// consumer share and the priority shares). It returns an error wrapping
// ErrInvalid, changing nothing, for a negative capacity.
//
// Nothing held is lost or taken back: units granted before stay granted
// until their Permits are released. A larger capacity admits waiters at
// once, in the usual order. A smaller one lets the holders finish and
// admits nobody until the units held are below it (and below the quota
// that binds the waiter). A waiter that asks for more than the new
// capacity (or its new quota) could never be granted: it fails at once
// with an error wrapping ErrExceedsCapacity, and the waiters it held up
// move on.
func (t *Throttler) SetCapacity(capacity int64) error {
	if capacity < 0 {
		return invalidf("Throttler.SetCapacity(capacity=%d): capacity must not be negative", capacity)
	}
	t.s.setCapacity(capacity)
	return nil
}

// setCapacity is SetCapacity on the semaphore.
func (s *sem) setCapacity(capacity int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.size = capacity
	s.quota.resize(capacity)
	// Waiters are granted only by a pass, so one that asks for more than
	// it could now ever hold would wait for good: wake it, and its Look
	// fails it (and its Abandon serves those behind it).
	for w := s.q.Front(); w != nil; w = w.Next() {
		if s.check(w.Val.n, Priority(w.Prio()), w.Val.c != nil) != nil {
			s.q.Wake(w)
		}
	}
	s.Serve()
}

// capacity returns the capacity now.
func (s *sem) capacity() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}
