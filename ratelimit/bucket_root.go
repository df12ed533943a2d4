package ratelimit

// TryReserveInto is Reserve without waiting: it takes n tokens as a
// pending Grant held in g if they are there now and nobody waits, and
// reports whether it did. g must be a zero Grant that the caller owns, so
// that taking the tokens allocates nothing; it must not be copied.
// Cancelling the Grant gives the tokens back, so a caller that tries
// several limits in turn can give back what it took when a later one would
// make it wait. It fails for any n Acquire would reject.
func (b *Bucket) TryReserveInto(g *Grant, n int) bool {
	return n > 0 && n <= b.MaxAcquire() && tryReserveInto(&b.q, b, b, g, n)
}
