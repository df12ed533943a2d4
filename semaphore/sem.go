package semaphore

import (
	"context"
	"fmt"
	"github.com/go-throttle/throttle/internal/admit"
	"sync"
)

// sem is the semaphore behind Weighted and Throttler: capacity, the units
// held, the wait queue and, for a Throttler, the quotas. Every method whose
// name does not start with acquire, try or release needs mu held.
//
// Invariant, kept by running pass after every change that could let a
// waiter in (a release, a waiter leaving): at rest, pass would grant
// nobody. So a newcomer can tell whether it would be served at once by
// looking only at the waiters ahead of it (see admit).
type sem struct {
	mu         sync.Mutex
	size       int64
	cur        int64
	queueLimit int // < 0: unbounded
	q          waitQueue
	quota      *quotas // nil: no quotas (a Weighted)
	epoch      uint64  // number of the current or last grant pass
}

// verdict is what a grant pass decides for one waiter.
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
	for i := range s.q.levels {
		l := &s.q.levels[i]
		if l.prio < prio {
			break
		}
		for w := l.head; w != nil; w = w.next {
			if s.decide(w.n, w.prio, w.c, s.epoch) != skipConsumer {
				// Capacity or a share stops the pass ahead of us. (A
				// grant here would break the invariant; waiting is the
				// safe answer then too.)
				return stopCapacity
			}
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

// pass grants, in queue order, every waiter that can be granted now, and
// stops at the first that must hold up those behind it (see decide).
func (s *sem) pass() {
	if s.q.len == 0 {
		return
	}
	s.epoch++
	unlinked := false
	defer func() {
		if unlinked {
			s.q.compact()
		}
	}()
	for i := range s.q.levels {
		for w := s.q.levels[i].head; w != nil; {
			next := w.next
			switch s.decide(w.n, w.prio, w.c, s.epoch) {
			case grant:
				s.q.unlink(w)
				unlinked = true
				if w.c != nil {
					w.c.waiting--
				}
				s.take(w.n, w.prio, w.c)
				close(w.ready)
			case stopShare, stopCapacity:
				return
			}
			w = next
		}
	}
}

// check rejects, without blocking, a request that is invalid or could never
// be granted.
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
	if err := s.check(n, prio, name != ""); err != nil {
		return err
	}
	done := ctx.Done()
	s.mu.Lock()
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
		// The fast path: no allocation. ctx cannot have become done
		// "before" this point (see x/sync), so granting is right.
		s.take(n, prio, c)
		s.mu.Unlock()
		return nil
	}
	if s.queueLimit >= 0 && s.q.len >= s.queueLimit {
		s.quota.tidy(c)
		s.mu.Unlock()
		switch v {
		case skipConsumer:
			return errQueueFullConsumer
		case stopShare:
			return errQueueFullPriority
		}
		return ErrQueueFull
	}
	// The queue shared with other limiters, if ctx carries one (see
	// internal/admit): it counts only callers that really wait.
	shared, err := admit.Enter(ctx)
	if err != nil {
		s.quota.tidy(c)
		s.mu.Unlock()
		return err
	}
	defer shared.Leave()
	w := &waiter{n: n, prio: prio, c: c, ready: make(chan struct{})}
	s.q.push(w)
	if c != nil {
		c.waiting++
	}
	s.mu.Unlock()

	select {
	case <-done:
		s.mu.Lock()
		select {
		case <-w.ready:
			// Granted after ctx ended: give the units back as if we had
			// never had them, and let the next waiters in.
			s.giveBack(n, prio, c)
		default:
			// Still queued: leave. If we were holding up the waiters
			// behind us, they may go now; pass stops at once otherwise.
			s.q.remove(w)
			if c != nil {
				c.waiting--
				s.quota.tidy(c)
			}
		}
		s.pass()
		s.mu.Unlock()
		return ctxErr(ctx, n)
	case <-w.ready:
		// Granted. Check done again: a ctx that ended as we were granted
		// fails the call, which then leaves nothing behind. We check the
		// channel because we have it and ctx.Err is O(nesting depth).
		select {
		case <-done:
			s.release(n, prio, name)
			return ctxErr(ctx, n)
		default:
		}
		return nil
	}
}

// try is TryAcquire: it takes n units now or returns why it could not:
// ErrInvalid or ErrExceedsCapacity as acquire; ErrQuota if the caller's own
// quota holds it back; ErrQueueFull if it would have to wait for capacity
// (a try never waits, as with WithQueueLimit(0)).
func (s *sem) try(n int64, prio Priority, name string) error {
	if err := s.check(n, prio, name != ""); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.quota.consumer(name)
	switch s.admit(n, prio, c) {
	case grant:
		s.take(n, prio, c)
		return nil
	case skipConsumer:
		s.quota.tidy(c)
		return ErrConsumerQuota
	case stopShare:
		s.quota.tidy(c)
		return ErrPriorityQuota
	default:
		s.quota.tidy(c)
		return ErrQueueFull
	}
}

// release gives back n units taken at priority prio by the consumer called
// name and wakes the waiters that can now go.
func (s *sem) release(n int64, prio Priority, name string) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	s.giveBack(n, prio, s.quota.lookup(name))
	s.pass()
	s.mu.Unlock()
}

// waiting returns the number of callers waiting.
func (s *sem) waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.q.len
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
