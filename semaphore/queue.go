package semaphore

import "slices"

// waiter is one blocked Acquire. Its fields other than prev and next never
// change while it is queued.
type waiter struct {
	n     int64
	prio  Priority
	c     *consumer     // its consumer's quota state; nil when not tracked
	ready chan struct{} // closed when granted, under the semaphore's mutex
	prev  *waiter
	next  *waiter
}

// level is the FIFO list of the waiters of one priority.
type level struct {
	prio Priority
	head *waiter
	tail *waiter
}

// waitQueue holds the waiters in grant order: by priority, highest first,
// and by arrival within a priority. It is the one queue behind Weighted,
// Throttler and Keyed. It is not safe for concurrent use: the semaphore's
// mutex guards it.
//
// Each priority in use has a level; there are only ever as many levels as
// distinct priorities waiting (usually one to three), so the linear scans
// below are cheap, and a level is dropped once its last waiter leaves so
// that unusual priority values cannot make the slice grow without bound.
type waitQueue struct {
	levels []level // sorted by prio, descending; compacted, see compact
	len    int     // waiters in all levels
}

// find returns the index of the level of priority p, or where it would be
// inserted.
func (q *waitQueue) find(p Priority) int {
	for i := range q.levels {
		if q.levels[i].prio <= p {
			return i
		}
	}
	return len(q.levels)
}

// push appends w behind every waiter of its priority or higher, and before
// every waiter of lower priority.
func (q *waitQueue) push(w *waiter) {
	i := q.find(w.prio)
	if i == len(q.levels) || q.levels[i].prio != w.prio {
		q.levels = slices.Insert(q.levels, i, level{prio: w.prio})
	}
	l := &q.levels[i]
	w.prev, w.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	q.len++
}

// unlink takes w out of its level but leaves the level in place even if it
// is now empty, so that a caller walking the levels by index can go on.
// Call compact afterwards.
func (q *waitQueue) unlink(w *waiter) {
	l := &q.levels[q.find(w.prio)]
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next = nil, nil
	q.len--
}

// compact drops the levels that unlink left empty.
func (q *waitQueue) compact() {
	q.levels = slices.DeleteFunc(q.levels, func(l level) bool { return l.head == nil })
}

// remove takes w out of the queue.
func (q *waitQueue) remove(w *waiter) {
	q.unlink(w)
	q.compact()
}
