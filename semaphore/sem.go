package semaphore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-throttle/throttle/internal/waitq"
)

// request is what a queued caller asks for: n units, counted against the
// quota of consumer c (nil when not tracked). Its priority is the
// waiter's.
type request struct {
	n int64
	c *consumer
}

// waiter is one blocked Acquire.
type waiter = waitq.Waiter[request]

// sem is the semaphore behind Weighted and Throttler: capacity, the units
// held, the wait queue and, for a Throttler, the quotas. Every method whose
// name does not start with acquire, wait, try or release needs mu held;
// so do Look and Abandon, which waitq.Wait calls.
//
// Invariant, kept by running Serve after every change that could let a
// waiter in (a release, a waiter leaving): at rest, Serve would grant
// nobody. So a newcomer can tell whether it would be served at once by
// looking only at the waiters ahead of it (see admit).
type sem struct {
	mu          sync.Mutex
	size        int64
	cur         int64
	queueLimit  int  // < 0: unbounded
	rejectQuota bool // WithRejectOnQuota
	q           waitq.Queue[request]
	quota       *quotas // nil: no quotas (a Weighted)
	epoch       uint64  // number of the current or last grant pass
}

// verdict is what a grant pass decides for one request.
type verdict uint8

const (
	grant        verdict = iota // it fits: grant it
	skipConsumer                // held back by its own consumer quota: skip it
	stopShare                   // held back by a priority share: stop, see decide
	stopCapacity                // not enough free capacity: stop
)

// decide returns the verdict for a request of n units at priority prio for
// consumer c (nil if untracked) in grant pass epoch, given what is held now.
//
// A waiter that does not fit in the free capacity stops the pass, as in
// x/sync's notifyWaiters: letting smaller ones past would starve it (a
// writer needing all N units would starve behind readers taking one each).
// Capacity is checked first, so this holds whatever its quotas say, and so
// a pass stuck on capacity costs one step, not one per waiter.
//
// A waiter that fits but is held back only by its own consumer quota is
// skipped, so it cannot stall other consumers; its consumer is marked so
// that its later waiters are skipped in this pass too and cannot overtake
// it. A waiter held back by a priority share stops the pass: every waiter
// behind it has its priority or lower and so is bound by the same share,
// and letting the smaller ones past would starve it.
func (s *sem) decide(n int64, prio Priority, c *consumer, epoch uint64) verdict {
	if s.size-s.cur < n {
		return stopCapacity
	}
	if q := s.quota; q != nil {
		if c != nil && (c.blocked == epoch || c.held+n > q.consumerMax) {
			c.blocked = epoch
			return skipConsumer
		}
		if !q.sharesAllow(n, prio) {
			return stopShare
		}
	}
	return grant
}

// admit returns what a newcomer asking for n units at priority prio for
// consumer c meets: grant if it can be served now, or the reason it must
// wait. Thanks to the invariant it need only replay the pass over the
// waiters ahead of it (priority prio or higher): if any of them would stop
// the pass, the newcomer waits behind it. For a Weighted, or whenever the
// first waiter is stuck on capacity, that is one step.
func (s *sem) admit(n int64, prio Priority, c *consumer) verdict {
	s.epoch++
	for w := s.q.Front(); w != nil && Priority(w.Prio()) >= prio; w = w.Next() {
		if s.decide(w.Val.n, Priority(w.Prio()), w.Val.c, s.epoch) != skipConsumer {
			// Capacity or a share stops the pass ahead of us. (A grant
			// here would break the invariant; waiting is the safe
			// answer then too.)
			return stopCapacity
		}
	}
	return s.decide(n, prio, c, s.epoch)
}

// take grants n units at priority prio to consumer c.
func (s *sem) take(n int64, prio Priority, c *consumer) {
	s.cur += n
	s.quota.add(n, prio, c)
}

// giveBack returns n units taken by take. It never takes a count below
// zero, so releasing more than was taken is harmless.
func (s *sem) giveBack(n int64, prio Priority, c *consumer) {
	s.cur = max(0, s.cur-n)
	s.quota.add(-n, prio, c)
	s.quota.tidy(c)
}

// Serve implements waitq.Owner: it grants, in queue order, every waiter
// that can be granted now, and stops at the first that must hold up those
// behind it (see decide).
func (s *sem) Serve() {
	if s.q.Len() == 0 {
		return
	}
	s.epoch++
	s.q.Serve(s.serveOne)
}

// serveOne is Serve's verdict on w; it takes the units of a waiter it
// grants.
func (s *sem) serveOne(w *waiter) waitq.Verdict {
	r, prio := w.Val, Priority(w.Prio())
	switch s.decide(r.n, prio, r.c, s.epoch) {
	case grant:
		if r.c != nil {
			r.c.waiting--
		}
		s.take(r.n, prio, r.c)
		return waitq.Grant
	case skipConsumer:
		return waitq.Skip
	}
	return waitq.Stop
}

// Abandon implements waitq.Owner for a waiter whose context ended: units
// granted meanwhile are given back as if it had never had them; a waiter
// still queued leaves. Either may let in the waiters it was holding up.
func (s *sem) Abandon(w *waiter) {
	r, prio := w.Val, Priority(w.Prio())
	if !s.q.Queued(w) { // granted meanwhile
		s.giveBack(r.n, prio, r.c)
	} else {
		s.q.Remove(w)
		if r.c != nil {
			r.c.waiting--
			s.quota.tidy(r.c)
		}
	}
	s.Serve()
}

// Look implements waitq.Owner. Only a release (or a larger capacity) lets
// a semaphore waiter in, and it serves the queue, so no waiter watches the
// clock; a waiter is woken to look only when the capacity was lowered
// below what it asks for (see setCapacity), and it then fails.
func (s *sem) Look(_ context.Context, w *waiter) (time.Time, bool, error) {
	return time.Time{}, false, s.check(w.Val.n, Priority(w.Prio()), w.Val.c != nil)
}

// check rejects, without blocking, a request that is invalid or could never
// be granted. Called with mu held: the capacity may change.
func (s *sem) check(n int64, prio Priority, named bool) error {
	if n < 0 {
		return invalidf("Acquire(n=%d): n must not be negative", n)
	}
	if m := s.quota.limit(s.size, prio, named); n > m {
		return fmt.Errorf("%w: n=%d, at most %d for priority %v", ErrExceedsCapacity, n, m, prio)
	}
	return nil
}

// acquire is Weighted.Acquire and Throttler.Acquire: it takes n units at
// priority prio for the consumer called name, waiting if need be.
func (s *sem) acquire(ctx context.Context, n int64, prio Priority, name string) error {
	done := ctx.Done()
	s.mu.Lock()
	if err := s.check(n, prio, name != ""); err != nil {
		s.mu.Unlock()
		return err
	}
	select {
	case <-done:
		// As in x/sync: ctx becoming done "happened before" acquiring,
		// whether before the call or while we waited for the mutex, so
		// fail even if the units are free.
		s.mu.Unlock()
		return ctxErr(ctx, n)
	default:
	}
	c := s.quota.consumer(name)
	v := s.admit(n, prio, c)
	if v == grant {
		// The fast path: no allocation.
		s.take(n, prio, c)
		s.mu.Unlock()
		return nil
	}
	w, err := s.queueLocked(v, n, prio, c)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.wait(ctx, w, name)
}

// queueLocked queues a caller that must wait for reason v, or refuses it
// (see refuse). Called with mu held.
func (s *sem) queueLocked(v verdict, n int64, prio Priority, c *consumer) (*waiter, error) {
	if err := s.refuse(v); err != nil {
		s.quota.tidy(c)
		return nil, err
	}
	if c != nil {
		c.waiting++
	}
	return s.q.Push(request{n: n, c: c}, int(prio)), nil
}

// wait blocks until w is granted or ctx ends; in the latter case it leaves
// the semaphore unchanged.
func (s *sem) wait(ctx context.Context, w *waiter, name string) error {
	n, prio := w.Val.n, Priority(w.Prio())
	if err := waitq.Wait(ctx, &s.mu, w, s, nil); err != nil {
		if errors.Is(err, ErrExceedsCapacity) {
			return err // the capacity was lowered below n (see Look)
		}
		return ctxErr(ctx, n)
	}
	// Granted. Check ctx again: one that ended as we were granted fails
	// the call, which then leaves nothing behind (as in x/sync).
	select {
	case <-ctx.Done():
		s.release(n, prio, name)
		return ctxErr(ctx, n)
	default:
		return nil
	}
}

// refuse returns the error of a caller that would have to wait for reason
// v, or nil if it may wait: a caller held back by its own quota fails with
// a *QuotaError under WithRejectOnQuota, and any caller fails with
// ErrQueueFull (naming its quota if that is why it would wait) while the
// queue limit is reached.
func (s *sem) refuse(v verdict) error {
	switch {
	case s.rejectQuota && v == skipConsumer:
		return errConsumerQuota
	case s.rejectQuota && v == stopShare:
		return errPriorityQuota
	case s.queueLimit < 0 || s.q.Len() < s.queueLimit:
		return nil
	case v == skipConsumer:
		return errQueueFullConsumer
	case v == stopShare:
		return errQueueFullPriority
	}
	return ErrQueueFull
}

// try is TryAcquire: it takes n units now if it can, and reports whether
// it did; on false nothing is taken.
func (s *sem) try(n int64, prio Priority, name string) bool {
	s.mu.Lock()
	if s.check(n, prio, name != "") != nil {
		s.mu.Unlock()
		return false
	}
	c := s.quota.consumer(name)
	ok := s.admit(n, prio, c) == grant
	if ok {
		s.take(n, prio, c)
	} else {
		s.quota.tidy(c)
	}
	s.mu.Unlock()
	return ok
}

// release gives back n units taken at priority prio by the consumer called
// name and wakes the waiters that can now go.
func (s *sem) release(n int64, prio Priority, name string) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.giveBack(n, prio, s.quota.lookup(name))
	s.Serve()
}

// waiting returns the number of callers waiting.
func (s *sem) waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.q.Len()
}

// held returns the units held.
func (s *sem) held() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// ctxErr is the error of an Acquire of n units ended by ctx. It wraps
// ctx.Err(), so errors.Is(err, context.Canceled) and the like hold.
func ctxErr(ctx context.Context, n int64) error {
	return fmt.Errorf("semaphore: Acquire(n=%d): %w", n, ctx.Err())
}
