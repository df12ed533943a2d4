package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/semaphore"
)

// Throttler is the admission policy that Wrap applies to a handler: an
// optional per-consumer rate limit, then an optional capacity with a queue,
// consumer shares and priority shares. See the package documentation for
// the order of the checks and what a rejected request gets.
//
// A Throttler may wrap several handlers; they then share its limits. It is
// safe for concurrent use, starts no goroutine, and its memory is bounded
// by the consumers active within a rate window and the requests waiting.
// Create one with New; the zero value is not usable.
type Throttler struct {
	sem           *semaphore.Throttler // nil: no capacity limit
	rate          *ratelimit.Keyed     // nil: no rate limit
	rateN         int
	ratePer       time.Duration
	policy        []string // the RateLimit-Policy value, shared
	consumerShare bool
	consumerFunc  func(*http.Request) string
	priorityFunc  func(*http.Request) semaphore.Priority
	exact         map[string]bool
	prefixes      []string

	accepted  atomic.Uint64
	rejected  [numReasons]atomic.Uint64
	cancelled atomic.Uint64
	inHandler atomic.Int64
}

// New returns a Throttler configured by opts. Every bad option is reported
// at once (errors.Join), each wrapping ErrInvalidOption and naming the
// option and its value. With no options it admits every request.
func New(opts ...Option) (*Throttler, error) {
	c, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	t := &Throttler{
		rateN: c.rateN, ratePer: c.ratePer, consumerShare: c.consumerShare != 0,
		consumerFunc: c.consumerFunc, priorityFunc: c.priorityFunc,
		exact: c.exact, prefixes: c.prefixes,
	}
	if err := t.initSemaphore(c); err != nil {
		return nil, err
	}
	if err := t.initRate(c); err != nil {
		return nil, err
	}
	return t, nil
}

// initSemaphore builds the capacity limit, if one was asked for.
func (t *Throttler) initSemaphore(c config) error {
	if c.capacity == 0 {
		return nil
	}
	opts := []semaphore.Option{semaphore.WithRejectOnQuota()}
	if c.queueLimit >= 0 {
		opts = append(opts, semaphore.WithQueueLimit(c.queueLimit))
	}
	if c.consumerShare != 0 {
		opts = append(opts, semaphore.WithConsumerShare(c.consumerShare))
	}
	for p, f := range c.shares {
		opts = append(opts, semaphore.WithPriorityShare(p, f))
	}
	s, err := semaphore.NewThrottler(int64(c.capacity), opts...)
	if err != nil {
		return fmt.Errorf("middleware: capacity limit: %w", err)
	}
	t.sem = s
	return nil
}

// initRate builds the per-consumer rate limit, if one was asked for.
func (t *Throttler) initRate(c config) error {
	if c.rateN == 0 {
		return nil
	}
	clk := c.clock
	if clk == nil {
		clk = clock.Real{}
	}
	opts := []ratelimit.Option{ratelimit.WithClock(clk)}
	if c.rateN > exactWindow {
		opts = append(opts, ratelimit.WithGranularity(granularity(c.ratePer)))
	}
	k, err := ratelimit.NewKeyed(func(string) (ratelimit.Limiter, error) {
		return ratelimit.NewWindow(c.rateN, c.ratePer, opts...)
	}, ratelimit.WithClock(clk))
	if err != nil {
		return fmt.Errorf("middleware: rate limit: %w", err)
	}
	t.rate = k
	t.policy = []string{policyValue(c.rateN, c.ratePer)}
	return nil
}

// Wrap returns a handler that applies t to every request before passing it
// to next, unchanged. A rejected request gets a 429 and next is not called
// for it; a request whose client goes away while it waits for capacity
// gets StatusClientClosedRequest and next is not called for it either. A
// request admitted to next holds its capacity until next returns (or
// panics).
func (t *Throttler) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.serve(w, r, next)
	})
}

// serve is the pipeline of one request: exemption, rate, capacity, handler.
// The rate comes first so that a consumer over its rate never takes a
// place in the queue; it counts every request that reaches it, including
// those the capacity check then rejects, as the client did send them.
func (t *Throttler) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if t.exempt(r.URL.Path) {
		next.ServeHTTP(w, r)
		return
	}
	consumer := t.consumerFunc(r)
	if t.rate != nil && !t.checkRate(w, consumer) {
		return
	}
	if t.sem == nil {
		t.run(w, r, next)
		return
	}
	prio := t.priorityFunc(r)
	permit, ok := t.admit(w, r, consumer, prio)
	if !ok {
		return
	}
	defer permit.Release()
	t.run(w, r, next)
}

// run calls next, counting it as accepted and in the handler.
func (t *Throttler) run(w http.ResponseWriter, r *http.Request, next http.Handler) {
	t.accepted.Add(1)
	t.inHandler.Add(1)
	defer t.inHandler.Add(-1)
	next.ServeHTTP(w, r)
}

// exempt reports whether path bypasses throttling (WithExempt).
func (t *Throttler) exempt(path string) bool {
	if t.exact[path] {
		return true
	}
	for _, p := range t.prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// exactWindow is the largest n for which a consumer's window keeps exact
// arrival times: at most that many entries of 16 bytes. Above it the
// window rounds them up (ratelimit.WithGranularity).
const exactWindow = 1024

// granularity returns the largest power of ten nanoseconds, at most a
// millisecond, that is no more than per/1000, so that a window holds at
// most about a thousand entries. Being a power of ten it divides a second,
// so arrivals on whole seconds (a fake clock's) are not moved at all, and
// real ones are moved by under a millisecond.
func granularity(per time.Duration) time.Duration {
	g := time.Millisecond
	for g > 1 && g > per/1000 {
		g /= 10
	}
	return g
}

// checkRate counts the request against consumer's window and sets the
// RateLimit headers from what the window holds after it. If the window is
// full it writes the 429, with a Retry-After of the time until the window
// has room, and returns false.
func (t *Throttler) checkRate(w http.ResponseWriter, consumer string) bool {
	ok := t.rate.TryAcquire(consumer, 1)
	remaining, reset, _ := t.rate.State(consumer)
	setRateHeaders(w.Header(), t.policy, remaining, reset)
	if !ok {
		t.reject(w, ReasonRate, reset)
		return false
	}
	return true
}

// admit takes one unit of capacity for the request, as the package
// documentation describes: at once if it fits, rejected if its own quota
// holds it back, else queued within the queue limit. If it fails it has
// written the response and returns false.
func (t *Throttler) admit(w http.ResponseWriter, r *http.Request, consumer string, prio semaphore.Priority) (semaphore.Permit, bool) {
	ctx := r.Context()
	if t.consumerShare && consumer != "" {
		ctx = semaphore.WithConsumer(ctx, consumer)
	}
	if prio != semaphore.PriorityNormal {
		ctx = semaphore.WithPriority(ctx, prio)
	}
	// The semaphore rejects a request held back by its own quota at once
	// (WithRejectOnQuota) and queues one short of capacity.
	p, err := t.sem.Acquire(ctx, 1)
	switch {
	case err == nil:
		return p, true
	case errors.Is(err, semaphore.ErrQuota):
		t.reject(w, quotaReason(err), time.Second)
	case errors.Is(err, semaphore.ErrQueueFull):
		t.reject(w, ReasonQueueFull, time.Second)
	case ctx.Err() != nil:
		t.cancelled.Add(1)
		w.WriteHeader(StatusClientClosedRequest)
	default:
		// ErrExceedsCapacity cannot happen for one unit (every limit is at
		// least 1); answer like a full queue rather than fail open.
		t.reject(w, ReasonQueueFull, time.Second)
	}
	return semaphore.Permit{}, false
}

// quotaReason names the quota that refused a request: the semaphore's
// error says which. (A function of its own, so that the *QuotaError that
// errors.As needs escapes to the heap only on this path.)
func quotaReason(err error) Reason {
	var qe *semaphore.QuotaError
	if errors.As(err, &qe) && qe.Consumer {
		return ReasonConsumerQuota
	}
	return ReasonPriorityQuota
}

// Stats is a snapshot of a Throttler's counters, plain data (the zero
// Stats is all counts zero, with a nil Rejected map). The counts are since New;
// InHandler and Waiting are at the time of the call. Exempt requests are
// not counted anywhere.
type Stats struct {
	Accepted  uint64            // requests passed to the handler
	Rejected  map[Reason]uint64 // 429s, by reason; every Reason is present
	Cancelled uint64            // requests whose client went away while waiting
	InHandler int64             // requests in the handler now
	Waiting   int64             // requests waiting for capacity now
}

// Stats returns a snapshot of t's counters. The fields are read one by
// one, so under load they may not add up exactly.
func (t *Throttler) Stats() Stats {
	s := Stats{
		Accepted:  t.accepted.Load(),
		Rejected:  make(map[Reason]uint64, numReasons-1),
		Cancelled: t.cancelled.Load(),
		InHandler: t.inHandler.Load(),
	}
	for r := ReasonQueueFull; r < numReasons; r++ {
		s.Rejected[r] = t.rejected[r].Load()
	}
	if t.sem != nil {
		s.Waiting = int64(t.sem.Waiting())
	}
	return s
}
