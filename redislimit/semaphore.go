package redislimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go-throttle/throttle/semaphore"
)

// A Semaphore lets at most n holders, across every process that uses the
// same key on the same Redis, hold a slot at once. Each holding is a lease
// on Redis that expires unless renewed: this process renews its leases
// every third of WithLease while it holds them, so a process that dies
// gives its slots back within the lease. A lease whose renewal fails until
// it may have expired (or that Redis says has expired) is given up: it is
// dropped here, its Lease's Done channel is closed, and its release does
// nothing more, rather than the slot being held past what Redis grants.
//
// Waiters of one Semaphore queue in this process, first in first out; only
// the first asks Redis, after a wait that starts at a millisecond and
// doubles to at most 50 ms (never past the oldest lease's expiry), with
// jitter, until a slot frees. A slot given back elsewhere is therefore
// noticed within 50 ms. It implements throttle.ConcurrencyLimiter.
//
// One goroutine renews the leases while any is held; none runs while none
// is, and none outlives Close.
type Semaphore struct {
	c     *conn
	key   string
	keys  []string
	n     int
	lease time.Duration
	ttl   string // the key's TTL, in ms
	args  [2]string
	local chan struct{} // WithFailOpenConcurrency's slots; nil if fail closed

	turn    *semaphore.Throttler
	waiting atomic.Int32

	mu      sync.Mutex
	held    map[string]*Lease // leases held on Redis, renewed
	loop    chan struct{}     // closed when the renewal goroutine ends; nil if none runs
	stop    chan struct{}     // closed by Close
	closing bool
}

// A Lease is one slot held from a Semaphore.
type Lease struct {
	s      *Semaphore
	id     string // "" for a slot held locally (fail open)
	done   chan struct{}
	once   sync.Once
	lastOK time.Time // the last time Redis renewed or granted it; guarded by s.mu
}

// NewSemaphore returns a Semaphore of n slots shared by all the processes
// that use key on rdb. The options that apply are WithTimeout, WithLease
// and WithFailOpenConcurrency. rdb must not be nil, key not empty and n
// positive; every problem is reported in one error wrapping
// ratelimit.ErrInvalid. NewSemaphore does not contact Redis.
func NewSemaphore(rdb redis.UniversalClient, key string, n int, opts ...Option) (*Semaphore, error) {
	cfg, err := buildConfig(opts)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if rdb == nil || isNilPointer(rdb) {
		errs = append(errs, invalidf("NewSemaphore(rdb=nil)", "the Redis client must not be nil"))
	}
	if key == "" {
		errs = append(errs, invalidf(`NewSemaphore(key="")`, "key must not be empty"))
	}
	if n <= 0 {
		errs = append(errs, invalidf("NewSemaphore(n="+itoa(n)+")", "n must be positive"))
	}
	if cfg.failOpen != nil {
		errs = append(errs, invalidf("NewSemaphore(WithFailOpen)", "applies to NewWindow only; use WithFailOpenConcurrency"))
	}
	if cfg.guardSet {
		errs = append(errs, invalidf("NewSemaphore(WithWindowGuard)", "applies to NewWindow only"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Semaphore{
		c:     newConn(rdb, cfg.timeout),
		key:   key,
		keys:  []string{tag(key, "semaphore")},
		n:     n,
		lease: cfg.lease,
		ttl:   strconv.FormatInt(millis(2*cfg.lease)+1000, 10),
		held:  make(map[string]*Lease),
		stop:  make(chan struct{}),
	}
	s.args = [2]string{strconv.Itoa(n), strconv.FormatInt(micros(cfg.lease), 10)}
	if cfg.failOpenConc > 0 {
		s.local = make(chan struct{}, cfg.failOpenConc)
	}
	s.turn, _ = semaphore.NewThrottler(1)
	return s, nil
}

// Acquire blocks until it holds a slot, or ctx ends (an error wrapping
// ctx.Err(); nothing is held). release gives the slot back; it is safe to
// call more than once, and makes one Redis call bounded by WithTimeout
// (if it fails, the lease expires by itself). When Redis is unreachable,
// Acquire fails at once with an error wrapping ErrUnavailable, or holds
// one of WithFailOpenConcurrency's local slots.
func (s *Semaphore) Acquire(ctx context.Context) (release func(), err error) {
	l, err := s.AcquireLease(ctx)
	if err != nil {
		return nil, err
	}
	return l.Release, nil
}

// AcquireLease is Acquire, returning the Lease itself, whose Done channel
// tells when it was given up.
func (s *Semaphore) AcquireLease(ctx context.Context) (*Lease, error) {
	const op = "Semaphore.Acquire"
	if err := checkCtx(ctx, op); err != nil {
		return nil, err
	}
	id := processIDs.new()
	if s.waiting.Load() == 0 {
		if l, _, err := s.try(ctx, id); l != nil || err != nil {
			return s.outcome(ctx, l, err)
		}
	}
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	p, err := s.turn.Acquire(ctx, 1)
	if err != nil {
		return nil, fmt.Errorf("redislimit: %s: %w", op, err)
	}
	defer p.Release()
	backoff := time.Millisecond
	for {
		l, wait, err := s.try(ctx, id)
		if l != nil || err != nil {
			return s.outcome(ctx, l, err)
		}
		d := min(backoff, wait)
		if err := s.c.sleep(ctx, op, d+jitter(d)); err != nil {
			return nil, err
		}
		backoff = min(2*backoff, maxSemaphoreBackoff)
	}
}

// maxSemaphoreBackoff caps the wait between a waiter's tries.
const maxSemaphoreBackoff = 50 * time.Millisecond

// outcome is AcquireLease's result for a try that got l or failed.
func (s *Semaphore) outcome(ctx context.Context, l *Lease, err error) (*Lease, error) {
	if err == nil {
		return l, nil
	}
	if !unavailable(err) || s.local == nil {
		return nil, err
	}
	select {
	case s.local <- struct{}{}:
		return &Lease{s: s, done: make(chan struct{})}, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("redislimit: Semaphore.Acquire (fail open): %w", ctx.Err())
	case <-s.c.done:
		return nil, fmt.Errorf("redislimit: Semaphore.Acquire (fail open): %w", ErrClosed)
	}
}

// try runs the script once: a Lease, or how long the oldest lease has.
func (s *Semaphore) try(ctx context.Context, id string) (*Lease, time.Duration, error) {
	args := []any{s.args[0], s.args[1], id, s.ttl}
	late := func(v any) {
		if r, err := toInts(v, 2); err == nil && r[0] == 1 {
			s.c.run(context.Background(), "Semaphore.Acquire late", semRelease, s.keys, []any{id}, nil)
		}
	}
	granted := time.Now()
	v, err := s.c.run(ctx, "Semaphore.Acquire", semAcquire, s.keys, args, late)
	if err != nil {
		return nil, 0, err
	}
	r, err := toInts(v, 2)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if r[0] == 0 {
		return nil, time.Duration(r[1]) * time.Microsecond, nil
	}
	l := &Lease{s: s, id: id, done: make(chan struct{}), lastOK: granted}
	if !s.hold(l) {
		// Closed while the script ran: give it back.
		s.c.run(context.Background(), "Semaphore.Acquire", semRelease, s.keys, []any{id}, nil)
		return nil, 0, fmt.Errorf("redislimit: Semaphore.Acquire: %w", ErrClosed)
	}
	return l, 0, nil
}

// hold adds l to the leases renewed, starting the renewal goroutine if
// none runs. It reports false after Close.
func (s *Semaphore) hold(l *Lease) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.held[l.id] = l
	if s.loop == nil {
		s.loop = make(chan struct{})
		go s.renew(s.loop)
	}
	return true
}

// renew renews the held leases every third of the lease, in one call,
// until none is held or Close. A lease Redis no longer has, or whose
// renewals have failed for so long that it may have expired before the
// next one, is given up.
func (s *Semaphore) renew(done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(s.lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		s.mu.Lock()
		if len(s.held) == 0 {
			s.loop = nil
			s.mu.Unlock()
			return
		}
		ids := make([]any, 0, 2+len(s.held))
		ids = append(ids, s.args[1], s.ttl)
		for id := range s.held {
			ids = append(ids, id)
		}
		s.mu.Unlock()
		start := time.Now()
		v, err := s.c.run(context.Background(), "Semaphore renew", semRenew, s.keys, ids, nil)
		r, _ := toInts(v, len(ids)-2)
		s.mu.Lock()
		var lost []*Lease
		for i, id := range ids[2:] {
			l := s.held[id.(string)]
			if l == nil {
				continue // released meanwhile
			}
			switch {
			case err == nil && r != nil && r[i] == 1:
				l.lastOK = start
			case err == nil && r != nil, time.Since(l.lastOK) > s.lease*2/3:
				// Redis says it is gone, or it may expire before the next
				// renewal: give it up rather than hold past it.
				delete(s.held, l.id)
				lost = append(lost, l)
			}
		}
		s.mu.Unlock()
		for _, l := range lost {
			l.once.Do(func() { close(l.done) })
		}
	}
}

// Release gives the slot back. It is safe to call more than once; only
// the first call does anything.
func (l *Lease) Release() {
	if l.id == "" {
		l.once.Do(func() {
			close(l.done)
			<-l.s.local
		})
		return
	}
	s := l.s
	s.mu.Lock()
	_, mine := s.held[l.id]
	delete(s.held, l.id)
	s.mu.Unlock()
	l.once.Do(func() { close(l.done) })
	if mine {
		s.c.run(context.Background(), "Lease.Release", semRelease, s.keys, []any{l.id}, nil)
	}
}

// Done is closed once the lease is released, given up or ended by Close.
// A holder that must not outlive its slot (a long job, say) stops when it
// is closed.
func (l *Lease) Done() <-chan struct{} { return l.done }

// IdleAt reports whether the Semaphore holds nothing in this process: no
// lease and nobody waiting. throttle uses it to drop the Semaphore of a
// host gone quiet.
func (s *Semaphore) IdleAt(time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held) == 0 && s.waiting.Load() == 0 && (s.local == nil || len(s.local) == 0)
}

// Close gives back every lease this process holds on Redis (one call,
// bounded by WithTimeout; if it fails the leases expire by themselves) and
// closes their Done channels, ends the waits (with an error wrapping
// ErrClosed), stops the renewal goroutine, and waits for the Redis calls
// still running (see Window.Close). It is safe to call more than once;
// later calls do nothing and return nil. It returns an error wrapping
// ErrUnavailable if the leases could not be given back.
func (s *Semaphore) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	close(s.stop)
	loop := s.loop
	ids := make([]any, 0, len(s.held))
	leases := make([]*Lease, 0, len(s.held))
	for id, l := range s.held {
		ids = append(ids, id)
		leases = append(leases, l)
	}
	clear(s.held)
	s.mu.Unlock()
	if loop != nil {
		<-loop
	}
	var err error
	if len(ids) > 0 {
		_, err = s.c.run(context.Background(), "Semaphore.Close", semRelease, s.keys, ids, nil)
	}
	for _, l := range leases {
		l.once.Do(func() { close(l.done) })
	}
	s.c.close()
	s.c.wait()
	return err
}
