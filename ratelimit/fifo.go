package ratelimit

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/go-throttle/throttle/internal/admit"
	"github.com/go-throttle/throttle/internal/clock"
)

// engine is the capacity model of a limiter (Window or Bucket), as the FIFO
// queue sees it. Both methods are called with fifo.mu held, and compute the
// present lazily from the clock.
type engine interface {
	// tryTake takes k units now if they fit, ignoring the queue. If hold is
	// set the units are taken as a pending Grant.
	tryTake(k int, hold bool) bool
	// waitFor reports the instant on the clock at which the front waiter
	// should look again for need units, or false if no passage of time
	// alone can make them fit (only a Grant's Commit or Cancel can, and it
	// wakes the front waiter). An instant rather than a duration: the
	// clock may move between reading it and arming the timer (a fake
	// clock advanced by a test, say), and a duration would then fire late.
	waitFor(need int) (time.Time, bool)
	// estimate reports how long a waiter for k units at elem (nil: not
	// queued yet, so behind everyone) must wait at the least if everyone
	// ahead of it is served as soon as they can be and every pending grant
	// is committed now. It is what the deadline check compares with the
	// context's deadline.
	estimate(elem *list.Element, k int) time.Duration
}

// waiter is one caller queued in a fifo.
type waiter struct {
	n    int
	prio int // higher is served first; FIFO within a priority
	// wake receives a token whenever the waiter should look again: it has
	// become the front of the queue, or a Grant was committed or
	// cancelled. It is buffered so that waking never blocks and a wake
	// that arrives while the waiter is not selecting is not lost.
	wake chan struct{}
}

// fifo is the waiting machinery Window and Bucket share: a mutex that also
// guards the limiter's state, and a queue of waiters served in arrival
// order. Only the front waiter watches the clock; the others sleep on their
// wake channel until they reach the front. So no goroutine runs for the
// limiter, and a wait costs one timer at a time per limiter.
type fifo struct {
	mu      sync.Mutex
	clock   Clock
	waiters list.List // of *waiter; the zero List is ready to use
}

// wakeFront tells the front waiter, if any, to look again. Called with mu
// held after anything that may let it proceed sooner.
func (q *fifo) wakeFront() {
	if e := q.waiters.Front(); e != nil {
		select {
		case e.Value.(*waiter).wake <- struct{}{}:
		default: // a wake is already due
		}
	}
}

// push queues w behind every waiter of its priority or higher, so that
// higher priorities go first and each priority is FIFO. A waiter that
// becomes the front this way simply takes its turn; the one it displaced
// goes back to sleep on its wake channel when its timer fires. Called
// with mu held.
func (q *fifo) push(w *waiter) *list.Element {
	e := q.waiters.Back()
	for e != nil && e.Value.(*waiter).prio < w.prio {
		e = e.Prev()
	}
	if e == nil {
		return q.waiters.PushFront(w)
	}
	return q.waiters.InsertAfter(w, e)
}

// leave removes elem from the queue; if it was the front, the new front
// takes its turn. Called with mu held.
func (q *fifo) leave(elem *list.Element) {
	front := q.waiters.Front() == elem
	q.waiters.Remove(elem)
	if front {
		q.wakeFront()
	}
}

// tooLate reports whether ctx's deadline comes before the estimated wait
// of a waiter for k units at elem, and that wait. It costs nothing without
// a deadline. Called with mu held.
func (q *fifo) tooLate(ctx context.Context, e engine, elem *list.Element, k int) (time.Duration, bool) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 0, false
	}
	d := e.estimate(elem, k)
	return d, d > 0 && deadline.Sub(q.clock.Now()) < d
}

// wait queues a caller for k units and blocks until it has taken them, or
// ctx ends, or the deadline of ctx cannot be met. It is called with mu held
// (after the fast path failed) and returns with mu released. call names
// the caller's method for errors.
//
// It never holds capacity while it waits: units are taken only at the
// moment wait returns nil, so a cancelled wait has nothing to give back in
// whatever order waiters are cancelled, and simply leaves the queue.
func (q *fifo) wait(ctx context.Context, e engine, call string, k int, hold bool) error {
	// Fail at once if the wait cannot end before the deadline: everyone
	// already queued takes their units before this caller does.
	if d, late := q.tooLate(ctx, e, nil, k); late {
		q.mu.Unlock()
		return deadlineError(call, k, d)
	}
	shared, err := admit.Enter(ctx)
	if err != nil {
		q.mu.Unlock()
		return ctxError(call, k, err)
	}
	defer shared.Leave()
	w := &waiter{n: k, prio: admit.Priority(ctx), wake: make(chan struct{}, 1)}
	elem := q.push(w)
	for {
		var fire <-chan time.Time
		stop := func() bool { return false }
		if q.waiters.Front() == elem {
			// Our turn: take the units if they fit; otherwise work
			// out when they will, and sleep until then unless that
			// is past the deadline.
			if e.tryTake(k, hold) {
				q.leave(elem)
				q.mu.Unlock()
				return nil
			}
			if d, late := q.tooLate(ctx, e, elem, k); late {
				q.leave(elem)
				q.mu.Unlock()
				return deadlineError(call, k, d)
			}
			if at, ok := e.waitFor(k); ok {
				fire, stop = clock.NewTimerAt(q.clock, at)
			}
			// Otherwise only a Commit or Cancel can help, and it
			// wakes us.
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			stop()
			q.mu.Lock()
			// Nothing was taken, so leaving the queue restores the
			// limiter; if we were the front, the next waiter may be
			// able to proceed now.
			q.leave(elem)
			q.mu.Unlock()
			return ctxError(call, k, ctx.Err())
		case <-fire:
		case <-w.wake:
			stop()
		}
		q.mu.Lock()
	}
}
