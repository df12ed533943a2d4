// Package waitq is the one waiter queue of throttle's limiters: the
// ratelimit package's Window and Bucket and the semaphore package's
// Weighted and Throttler queue their callers here, so they share one
// order and one way of waiting and of giving up.
//
// Order: waiters are served by priority, highest first, and first in,
// first out within a priority. The limiter grants waiters in that order
// with Queue.Serve, whose decide function says for each waiter whether it
// is granted, skipped (it waits on without holding up those behind it) or
// stops the pass (nobody behind it may overtake it).
//
// Waiting: Wait blocks a queued caller until it is granted or its context
// ends; a caller whose context ends takes itself out of the queue, or gives
// back what it was granted meanwhile, through its limiter's Abandon, so a
// cancelled wait leaves the limiter as if it had never been called. Two
// ways of granting share the queue: a semaphore's release grants the
// waiters that fit (Serve), while a rate limiter, whose capacity comes
// back with time, has its front waiter watch the clock and take its units
// itself when it looks again (Owner.Look). Nothing here starts a
// goroutine, and no function returns with a lock its caller took: each one
// that locks the limiter's mutex unlocks it before it returns.
package waitq

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
)

// Verdict is what a Serve pass decides for one waiter.
type Verdict uint8

const (
	// Grant: the request fits. The decide function has taken the units
	// for the waiter; Serve takes it out of the queue and wakes it.
	Grant Verdict = iota
	// Skip: the waiter waits on, but does not hold up those behind it.
	Skip
	// Stop: the waiter waits on, and so does everyone behind it, so that
	// a large request is never starved by a stream of small ones.
	Stop
)

// Waiter is one queued caller. Val is the limiter's record of the request;
// it and the priority never change while the waiter is queued.
type Waiter[T any] struct {
	Val        T
	prio       int
	prev, next *Waiter[T]
	// sig is closed when the waiter is granted, and receives a token when
	// it should look again (it became the front, or what it waits for
	// changed). It is buffered, so that a wake never blocks and is not
	// lost while the waiter is not selecting. Only a queued waiter is
	// woken and a granted one is no longer queued, so nothing sends on it
	// once it is closed.
	sig chan struct{}
}

// Prio returns the priority the waiter was queued at.
func (w *Waiter[T]) Prio() int { return w.prio }

// Next returns the waiter after w in queue order, nil at the end.
func (w *Waiter[T]) Next() *Waiter[T] { return w.next }

// wake sends w a token unless one is already due.
func (w *Waiter[T]) wake() {
	select {
	case w.sig <- struct{}{}:
	default:
	}
}

// level is the part of the queue holding one priority: its last waiter and
// how many there are.
type level[T any] struct {
	prio int
	tail *Waiter[T]
	n    int
}

// Queue holds the waiters of one limiter in grant order: one linked list,
// by priority and then by arrival. It is not safe for concurrent use: the
// limiter's mutex guards it, and every method must be called with it
// held. The zero Queue is empty and ready to use.
//
// Each priority in the queue has a level that points at its last waiter,
// so a push costs one step per distinct priority waiting (usually one to
// three), and a level is dropped with its last waiter, so unusual priority
// values cannot make the queue grow.
type Queue[T any] struct {
	head   *Waiter[T]
	levels []level[T] // highest priority first
	n      int
}

// Len returns the number of waiters.
func (q *Queue[T]) Len() int { return q.n }

// Queued reports whether w is in the queue. A waiter that was pushed and
// is no longer queued has been granted, or has left through Remove.
func (q *Queue[T]) Queued(w *Waiter[T]) bool {
	return w.prev != nil || w.next != nil || q.head == w
}

// Front returns the first waiter in grant order, nil if the queue is empty.
func (q *Queue[T]) Front() *Waiter[T] { return q.head }

// find returns the index of the level of priority p, or where it would
// be inserted.
func (q *Queue[T]) find(p int) int {
	for i := range q.levels {
		if q.levels[i].prio <= p {
			return i
		}
	}
	return len(q.levels)
}

// Push queues a waiter for val at priority prio, behind every waiter of
// its priority or higher and ahead of every waiter of lower priority, and
// returns it. It allocates the waiter, so a limiter calls it only once its
// fast path has failed.
func (q *Queue[T]) Push(val T, prio int) *Waiter[T] {
	w := &Waiter[T]{Val: val, prio: prio, sig: make(chan struct{}, 1)}
	i := q.find(prio)
	if i == len(q.levels) || q.levels[i].prio != prio {
		q.levels = slices.Insert(q.levels, i, level[T]{prio: prio})
	}
	var after *Waiter[T] // the waiter w goes behind, nil for the head
	if q.levels[i].tail != nil {
		after = q.levels[i].tail
	} else if i > 0 {
		after = q.levels[i-1].tail
	}
	q.link(w, after)
	q.levels[i].tail = w
	q.levels[i].n++
	q.n++
	return w
}

// link inserts w behind after, or at the head if after is nil.
func (q *Queue[T]) link(w, after *Waiter[T]) {
	w.prev = after
	l := q.linkTo(w)
	w.next, *l = *l, w
	if w.next != nil {
		w.next.prev = w
	}
}

// Remove takes w, which must be queued, out of the queue.
func (q *Queue[T]) Remove(w *Waiter[T]) {
	i := q.find(w.prio)
	l := &q.levels[i]
	if l.n--; l.n == 0 {
		q.levels = slices.Delete(q.levels, i, i+1)
	} else if l.tail == w {
		l.tail = w.prev
	}
	*q.linkTo(w) = w.next
	if w.next != nil {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
	q.n--
}

// linkTo returns the link that points at w: its predecessor's next, or
// the head.
func (q *Queue[T]) linkTo(w *Waiter[T]) **Waiter[T] {
	if w.prev != nil {
		return &w.prev.next
	}
	return &q.head
}

// Grant takes w, which must be queued, out of the queue as granted, and
// wakes it. The owner has taken the units for it.
func (q *Queue[T]) Grant(w *Waiter[T]) {
	q.Remove(w)
	close(w.sig)
}

// Serve walks the queue in grant order and asks decide about each waiter:
// it grants the ones decide grants, passes over the skipped ones, and
// stops at the first that decide stops at. It returns how many it granted.
func (q *Queue[T]) Serve(decide func(*Waiter[T]) Verdict) int {
	granted := 0
	for w := q.head; w != nil; {
		next := w.next
		switch decide(w) {
		case Grant:
			q.Grant(w)
			granted++
		case Stop:
			return granted
		}
		w = next
	}
	return granted
}

// WakeFront tells the front waiter, if any, to look again: a limiter whose
// front waiter watches the clock calls it when the front changed or when
// what the front waits for did.
func (q *Queue[T]) WakeFront() {
	if q.head != nil {
		q.head.wake()
	}
}

// Wake tells w, which must be queued, to look again: a limiter whose
// waiters are granted by Serve calls it when what w waits for changed in
// a way only w's own Look can act on (its request can no longer be met).
func (q *Queue[T]) Wake(w *Waiter[T]) { w.wake() }

// Owner is the limiter a queue belongs to, as Wait sees it. Wait calls its
// methods with the limiter's mutex held.
type Owner[T any] interface {
	// Look is a woken waiter's turn: w was told to look again (it became
	// the front, or what it waits for changed). The owner may grant it
	// (Queue.Grant, having taken its units); if w is still waiting it
	// says at what instant on its clock the passage of time alone may let
	// it in, or ok false if only a release can (which wakes or grants it). A non-nil
	// err makes w give up at once (say, its context's deadline cannot be
	// met): Wait abandons it and returns err. An owner whose waiters are
	// only ever granted by a release never wakes them, and is not asked.
	Look(ctx context.Context, w *Waiter[T]) (at time.Time, ok bool, err error)
	// Abandon undoes w, whose caller gives up: it takes w out of the
	// queue or, if w was granted meanwhile, takes its grant back; then it
	// lets in, or wakes, whoever that lets in.
	Abandon(w *Waiter[T])
}

// Wait blocks until w, which the caller pushed onto q (with mu held, and
// released since), is granted, or ctx ends, or the owner gives w up.
//
// It returns nil once w is granted; ctx.Err() if ctx ends first, after
// Abandon has left the limiter as if the call had never been made; or the
// error Look returned. It is called without mu held, and takes mu only to
// look again when woken and to give up. clk, which the front waiter's
// timers are armed on, may be nil for an owner whose Look never asks for
// one.
func Wait[T any](ctx context.Context, mu *sync.Mutex, w *Waiter[T], o Owner[T], clk clock.Clock) error {
	done := ctx.Done()
	var fire <-chan time.Time
	stop := noStop
	for {
		select {
		case <-done:
			stop()
			abandon(mu, o, w)
			return ctx.Err()
		case _, woken := <-w.sig:
			if !woken { // closed: granted
				stop()
				return nil
			}
		case <-fire:
		}
		stop()
		var granted bool
		var err error
		if fire, stop, granted, err = look(ctx, mu, w, o, clk); granted || err != nil {
			// Granted by its own Look: its owner took the units for it,
			// so it is done, whatever ctx has become meanwhile.
			return err
		}
	}
}

// noStop is the stop function of no timer.
func noStop() bool { return false }

// abandon calls o.Abandon(w) with mu held.
func abandon[T any](mu *sync.Mutex, o Owner[T], w *Waiter[T]) {
	mu.Lock()
	defer mu.Unlock()
	o.Abandon(w)
}

// look is a woken waiter's turn with mu held: its owner may grant it (then
// look reports granted), and if it is still waiting, look starts the timer
// the owner asks for.
func look[T any](ctx context.Context, mu *sync.Mutex, w *Waiter[T], o Owner[T], clk clock.Clock) (fire <-chan time.Time, stop func() bool, granted bool, err error) {
	mu.Lock()
	defer mu.Unlock()
	at, ok, err := o.Look(ctx, w)
	if err != nil {
		o.Abandon(w)
		return nil, noStop, false, err
	}
	select {
	case _, woken := <-w.sig:
		if !woken {
			return nil, noStop, true, nil
		}
		// A wake sent before this look: it has been acted on. Look may
		// have granted w all the same, closing sig behind that token, and
		// a granted waiter must not go back to a select that could pick
		// ctx.Done() and abandon what it was granted: look once more.
		// Nobody can send while mu is held, so this does not block.
		select {
		case _, woken := <-w.sig:
			if !woken {
				return nil, noStop, true, nil
			}
		default:
		}
	default:
	}
	if !ok {
		return nil, noStop, false, nil
	}
	fire, stop = clock.NewTimerAt(clk, at)
	return fire, stop, false, nil
}
