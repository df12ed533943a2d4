package ratelimit

import "time"

// Waiters reports how many callers are queued in a *Window or *Bucket, so
// tests can know a goroutine has started waiting before they move the clock.
func Waiters(l any) int {
	var q *fifo
	switch l := l.(type) {
	case *Window:
		q = &l.q
	case *Bucket:
		q = &l.q
	default:
		panic("Waiters: not a Window or Bucket")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.waiters.Len()
}

// SetStampHook makes w call f, with its lock held, for every stamp: units
// counted from at (an offset from w's creation). The randomized test checks
// the stamps against a brute-force sliding window.
func SetStampHook(w *Window, f func(at time.Duration, units int)) {
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	w.onStamp = func(at int64, units int) { f(time.Duration(at), units) }
}

// RingLen reports how many stamps w holds, so tests can check that
// WithGranularity bounds its history.
func RingLen(w *Window) int {
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	return w.recent.size
}
