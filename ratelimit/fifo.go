package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle/internal/admit"
	"github.com/go-throttle/throttle/internal/waitq"
)

// engine is the capacity model of a limiter (Window or Bucket), as the FIFO
// queue sees it. Its methods are called with fifo.mu held, and compute the
// present lazily from the clock.
type engine interface {
	// tryTake takes k units now if they fit, ignoring the queue. If hold
	// is set the units are taken pending, as for a Grant.
	tryTake(k int, hold bool) bool
	// waitFor reports the instant on the clock at which the front waiter
	// should look again for need units, or false if no passage of time
	// alone can make them fit (only a Grant's Commit or Cancel can, and it
	// wakes the front waiter). An instant rather than a duration: the
	// clock may move between reading it and arming the timer (a fake
	// clock advanced by a test, say), and a duration would then fire late.
	waitFor(need int) (time.Time, bool)
	// estimate reports how long a waiter for k units at w (nil: not
	// queued yet, so behind everyone) must wait at the least if everyone
	// ahead of it is served as soon as they can be and every pending grant
	// is committed now. It is what the deadline check compares with the
	// context's deadline.
	estimate(w *waiter, k int) time.Duration
}

// request is what a queued caller asks for: n units, pending for a Grant
// if hold is set, for the call named in errors.
type request struct {
	n    int
	hold bool
	call string
}

// waiter is one caller queued in a fifo.
type waiter = waitq.Waiter[request]

// fifo is the waiting machinery Window and Bucket share: a mutex that also
// guards the limiter's state, and the waiter queue (internal/waitq), by
// priority and then in arrival order. Only the front waiter watches the
// clock, and it takes its units itself when it looks again and they fit;
// the others sleep until they become the front. So no goroutine runs for
// the limiter, and a wait costs one timer at a time per limiter.
//
// A waiter never holds capacity while it waits: units are taken only by
// the waiter itself, as its wait ends, so a cancelled wait has nothing to
// give back in whatever order waiters are cancelled, and simply leaves the
// queue.
type fifo struct {
	mu      sync.Mutex
	clock   Clock
	e       engine
	waiters waitq.Queue[request]
	// max is the limiter's MaxAcquire, read without mu by the checks that
	// fail a request at once; it is stored with mu held, so under mu it
	// is the limit (see setMax).
	max atomic.Int64
}

// setMax changes the limiter's MaxAcquire to n and wakes the front
// waiter, which looks again under the new limits: it takes its units if
// they now fit, fails with ErrExceedsLimit if it asks for more than n,
// or sets its timer afresh. Called with mu held, once the engine's limits
// have changed. Waiters behind the front look as they reach it.
func (q *fifo) setMax(n int) {
	q.max.Store(int64(n))
	q.waiters.WakeFront()
}

// acquire is the body of every Acquire and Reserve: the checks, a fast
// path when no one is queued and the units fit, else the wait. call names
// the caller's method for errors; max is its MaxAcquire. With hold the
// units are left pending for the caller's Grant.
func (q *fifo) acquire(ctx context.Context, call string, k int, hold bool) error {
	if ctx == nil {
		return nilCtxError(callOp(call, k))
	}
	if err := checkN(call, k, int(q.max.Load())); err != nil {
		return err
	}
	// A done context fails even if the units are free: the cancellation
	// happened before the call, as in x/sync/semaphore.
	if err := ctx.Err(); err != nil {
		return ctxError(call, k, err)
	}
	w, err := q.enter(ctx, request{n: k, hold: hold, call: call})
	if w == nil {
		return err // taken (nil) or too late
	}
	if err := waitq.Wait(ctx, &q.mu, w, q, q.clock); err != nil {
		if _, late := err.(*opError); late {
			return err
		}
		return ctxError(call, k, err)
	}
	return nil
}

// enter is the part of acquire that runs under mu: it takes the units at
// once if no one is queued and they fit (nil, nil), fails if the wait
// cannot end before ctx's deadline, or queues the caller and returns its
// waiter.
func (q *fifo) enter(ctx context.Context, r request) (*waiter, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := checkN(r.call, r.n, int(q.max.Load())); err != nil {
		return nil, err // the limit was lowered since acquire's check
	}
	if q.waiters.Len() == 0 && q.e.tryTake(r.n, r.hold) {
		return nil, nil
	}
	// Fail at once if the wait cannot end before the deadline: everyone
	// already queued takes their units before this caller does.
	if d, late := q.tooLate(ctx, nil, r.n); late {
		return nil, deadlineError(r.call, r.n, d)
	}
	w := q.waiters.Push(r, admit.Priority(ctx))
	if q.waiters.Front() == w {
		// Our turn at once (a higher priority may overtake the front):
		// look, and set a timer.
		q.waiters.WakeFront()
	}
	return w, nil
}

// tooLate reports whether ctx's deadline comes before the estimated wait
// of a waiter for k units at w, and that wait. It costs nothing without
// a deadline. Called with mu held.
func (q *fifo) tooLate(ctx context.Context, w *waiter, k int) (time.Duration, bool) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 0, false
	}
	d := q.e.estimate(w, k)
	return d, d > 0 && deadline.Sub(q.clock.Now()) < d
}

// Look implements waitq.Owner. The front waiter takes its units if they
// fit, and then wakes the next; otherwise it gives up if its wait cannot
// end before its deadline, or sleeps until its units may fit. A waiter
// that is not the front sleeps until it is.
func (q *fifo) Look(ctx context.Context, w *waiter) (time.Time, bool, error) {
	if q.waiters.Front() != w {
		return time.Time{}, false, nil
	}
	if err := checkN(w.Val.call, w.Val.n, int(q.max.Load())); err != nil {
		return time.Time{}, false, err // the limit was lowered below the request
	}
	if q.e.tryTake(w.Val.n, w.Val.hold) {
		q.waiters.Grant(w)
		q.waiters.WakeFront()
		return time.Time{}, false, nil
	}
	if d, late := q.tooLate(ctx, w, w.Val.n); late {
		return time.Time{}, false, deadlineError(w.Val.call, w.Val.n, d)
	}
	at, ok := q.e.waitFor(w.Val.n)
	return at, ok, nil
}

// Abandon implements waitq.Owner: nothing was taken, so leaving the queue
// restores the limiter; if w was the front, the next waiter takes its
// turn.
func (q *fifo) Abandon(w *waiter) {
	front := q.waiters.Front() == w
	q.waiters.Remove(w)
	if front {
		q.waiters.WakeFront()
	}
}
