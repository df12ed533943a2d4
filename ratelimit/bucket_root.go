package ratelimit

// TryReserve is Reserve without waiting: it takes n tokens as a pending
// Grant if they are there now and nobody waits, and reports whether it
// did. Cancelling the Grant gives the tokens back, so a caller that tries
// several limits in turn can give back what it took when a later one
// would make it wait. It fails for any n Acquire would reject.
func (b *Bucket) TryReserve(n int) (*Grant, bool) {
	if n <= 0 || n > b.burst {
		return nil, false
	}
	b.q.mu.Lock()
	ok := b.q.waiters.Len() == 0 && b.tryTake(n, true)
	b.q.mu.Unlock()
	if !ok {
		return nil, false
	}
	return newGrant(b, n), true
}
