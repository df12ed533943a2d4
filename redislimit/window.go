package redislimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/semaphore"
)

// A Window grants at most n units in any window of length per, across
// every process that uses the same key on the same Redis: the strict
// sliding window of ratelimit.Window, shared. It implements
// ratelimit.Limiter, so throttle.WithLimiter takes it, and it has Reserve,
// so that throttle holds its units pending until a request's headers are
// written and gives back those of a request never sent.
//
// Each unit is one member of a sorted set on Redis, stamped with Redis's
// clock, and each decision is one Lua script (see windowTake for why the
// limit is strict and what a call costs). A unit counts for per plus a
// small guard (WithWindowGuard) after its stamp, as throttle's own windows
// do, so that the limit holds where a server counts.
//
// Callers of one Window that must wait queue in this process, first in
// first out; only the first of them asks Redis, at the instant the script
// said a unit frees, with a little jitter so that processes do not ask all
// at once. Across processes there is no queue: whoever asks first when a
// unit frees gets it.
//
// A Window is safe for concurrent use. Close it when done: it waits for
// the Redis calls still running.
type Window struct {
	c        *conn
	key      string
	n        int
	per      time.Duration
	span     time.Duration // per plus the guard: how long a unit counts
	hold     time.Duration // how far ahead a pending unit is stamped
	ttl      int64         // the key's TTL, in ms
	failOpen ratelimit.Limiter

	turn    *semaphore.Throttler // the local queue of those who must wait
	waiting atomic.Int32         // callers in the local queue
	pending atomic.Int64         // grants neither committed nor cancelled

	nArg, spanArg, holdArg, ttlArg string // the script's fixed arguments
	keys                           []string
}

// NewWindow returns a Window granting at most n units in any window of
// length per to all the processes that use key on rdb. The options that
// apply are WithTimeout, WithFailOpen, WithLease and WithWindowGuard. rdb
// must not be nil, key not empty, n positive and per at least a
// millisecond; every problem is reported in one error wrapping
// ratelimit.ErrInvalid. NewWindow does not contact Redis.
func NewWindow(rdb redis.UniversalClient, key string, n int, per time.Duration, opts ...Option) (*Window, error) {
	cfg, err := buildConfig(opts)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if rdb == nil || isNilPointer(rdb) {
		errs = append(errs, invalidf("NewWindow(rdb=nil)", "the Redis client must not be nil"))
	}
	if key == "" {
		errs = append(errs, invalidf(`NewWindow(key="")`, "key must not be empty"))
	}
	if n <= 0 {
		errs = append(errs, invalidf("NewWindow(n="+itoa(n)+")", "n must be positive"))
	}
	if per < time.Millisecond {
		errs = append(errs, invalidf("NewWindow(per="+per.String()+")", "per must be at least 1ms"))
	}
	if cfg.failOpenConc != 0 {
		errs = append(errs, invalidf("NewWindow(WithFailOpenConcurrency)", "applies to NewSemaphore only"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	guard := min(per/100, 10*time.Millisecond)
	if cfg.guardSet {
		guard = cfg.guard
	}
	w := &Window{
		c:        newConn(rdb, cfg.timeout),
		key:      key,
		n:        n,
		per:      per,
		span:     per + guard,
		hold:     cfg.lease,
		failOpen: cfg.failOpen,
	}
	w.turn, _ = semaphore.NewThrottler(1)
	w.ttl = millis(w.span+w.hold) + 1000
	w.keys = []string{tag(key, "window")}
	w.nArg = strconv.Itoa(n)
	w.spanArg = strconv.FormatInt(micros(w.span), 10)
	w.holdArg = strconv.FormatInt(micros(w.hold), 10)
	w.ttlArg = strconv.FormatInt(w.ttl, 10)
	return w, nil
}

// Limit reports the Window's n and per.
func (w *Window) Limit() (n int, per time.Duration) { return w.n, w.per }

// MaxAcquire reports the largest n Acquire can ever grant: the Window's n.
func (w *Window) MaxAcquire() int { return w.n }

// Acquire blocks until n units are granted, counting from now on Redis's
// clock, or ctx ends (an error wrapping ctx.Err(); nothing is taken). It
// fails at once for a nil ctx, an n below 1 (ratelimit.ErrInvalid) or
// above the Window's n (ratelimit.ErrExceedsLimit), and with an error
// wrapping context.DeadlineExceeded, without waiting, when the script
// says the units cannot be granted before ctx's deadline. When Redis is
// unreachable it returns an error wrapping ErrUnavailable at once, or
// acquires from the WithFailOpen limiter.
func (w *Window) Acquire(ctx context.Context, n int) error {
	if err := w.check(ctx, "Window.Acquire", n); err != nil {
		return err
	}
	_, local, err := w.take(ctx, "Window.Acquire", n, false)
	if local {
		return w.failOpen.Acquire(ctx, n)
	}
	return err
}

// Reserve is Acquire, but the units are pending: they occupy capacity,
// without expiring, until the Grant is committed (they count from the
// commit, on Redis's clock) or cancelled (they are given back on Redis).
// The caller must do one or the other; if its process dies first, Redis
// frees them WithLease plus per after the grant. Commit, Restamp and
// Cancel each make one Redis call, bounded by WithTimeout; Commit and
// Restamp return at once and make it in the background (Close waits for
// it). A call that fails leaves the units counted until WithLease plus
// per after the grant, which errs on the safe side. With
// Redis unreachable and WithFailOpen set, the Grant is the local
// limiter's (see ratelimit.Reserve).
func (w *Window) Reserve(ctx context.Context, n int) (*ratelimit.Grant, error) {
	if err := w.check(ctx, "Window.Reserve", n); err != nil {
		return nil, err
	}
	base, local, err := w.take(ctx, "Window.Reserve", n, true)
	if local {
		return ratelimit.Reserve(ctx, w.failOpen, n)
	}
	if err != nil {
		return nil, err
	}
	return ratelimit.NewPendingGrant(n, &pendingUnits{w: w, base: base, n: strconv.Itoa(n)}), nil
}

func (w *Window) check(ctx context.Context, op string, n int) error {
	if err := checkCtx(ctx, op); err != nil {
		return err
	}
	if n <= 0 {
		return invalidf(op+"(n="+itoa(n)+")", "n must be positive")
	}
	if n > w.n {
		return fmt.Errorf("redislimit: %s(n=%d): %w (max %d)", op, n, ratelimit.ErrExceedsLimit, w.n)
	}
	return nil
}

// take gets n units from Redis, pending or stamped now, and returns the
// grant's base name; local reports that Redis is unreachable and the
// caller should use the fail-open limiter instead.
func (w *Window) take(ctx context.Context, op string, n int, pending bool) (base string, local bool, err error) {
	base = processIDs.new()
	if w.waiting.Load() == 0 {
		// Nobody queued here: ask at once.
		ok, wait, err := w.try(ctx, op, base, n, pending)
		if ok || err != nil {
			return w.outcome(base, ok, err)
		}
		if err := w.canWait(ctx, op, n, wait); err != nil {
			return "", false, err
		}
	}
	w.waiting.Add(1)
	defer w.waiting.Add(-1)
	p, err := w.turn.Acquire(ctx, 1)
	if err != nil {
		return "", false, fmt.Errorf("redislimit: %s(n=%d): %w", op, n, err)
	}
	defer p.Release()
	for {
		ok, wait, err := w.try(ctx, op, base, n, pending)
		if ok || err != nil {
			return w.outcome(base, ok, err)
		}
		if err := w.canWait(ctx, op, n, wait); err != nil {
			return "", false, err
		}
		if err := w.c.sleep(ctx, op, wait+jitter(wait)); err != nil {
			return "", false, err
		}
	}
}

// outcome is take's result for a try that granted (ok) or failed (err).
func (w *Window) outcome(base string, _ bool, err error) (string, bool, error) {
	if err != nil {
		return "", unavailable(err) && w.failOpen != nil, err
	}
	return base, false, nil
}

// canWait fails at once, with an error wrapping
// context.DeadlineExceeded, when ctx's deadline comes before wait.
func (w *Window) canWait(ctx context.Context, op string, n int, wait time.Duration) error {
	if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
		return fmt.Errorf("redislimit: %s(n=%d): a wait of at least %v would pass the context deadline: %w",
			op, n, wait, context.DeadlineExceeded)
	}
	return nil
}

// try runs the script once: granted, or how long to wait.
func (w *Window) try(ctx context.Context, op, base string, n int, pending bool) (bool, time.Duration, error) {
	p := "0"
	if pending {
		p = "1"
	}
	args := []any{w.nArg, w.spanArg, strconv.Itoa(n), p, w.holdArg, base, w.ttlArg}
	late := func(v any) {
		// The caller is gone: give back what the script granted.
		if r, err := toInts(v, 2); err == nil && r[0] == 1 {
			w.c.run(context.Background(), op+" late", windowCancel, w.keys, []any{base, strconv.Itoa(n)}, nil)
		}
	}
	v, err := w.c.run(ctx, op, windowTake, w.keys, args, late)
	if err != nil {
		return false, 0, err
	}
	r, err := toInts(v, 2)
	if err != nil {
		return false, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if r[0] == 1 {
		if pending {
			w.pending.Add(1)
		}
		return true, 0, nil
	}
	return false, time.Duration(r[1]) * time.Microsecond, nil
}

// jitter is a little random extra wait, so that the processes told the
// same instant do not all ask at once: up to a tenth of d, at least up
// to a millisecond, at most 10 ms.
func jitter(d time.Duration) time.Duration {
	j := min(max(d/10, time.Millisecond), 10*time.Millisecond)
	return rand.N(j)
}

// IdleAt reports whether the Window holds nothing in this process: no
// grant pending and nobody waiting (its history lives on Redis). throttle
// uses it to drop the Window of a host gone quiet.
func (w *Window) IdleAt(time.Time) bool { return w.pending.Load() == 0 && w.waiting.Load() == 0 }

// Close ends the waits (they return an error wrapping ErrClosed), makes
// later calls fail with ErrClosed, and waits for the Redis calls still
// running, which WithTimeout bounds when the client honours contexts
// (ContextTimeoutEnabled) and its own read and write timeouts bound
// otherwise. Pending grants are left to expire on Redis. It is safe to
// call more than once; it returns nil.
func (w *Window) Close() error {
	w.c.close()
	w.c.wait()
	return nil
}

// pendingUnits is a Window grant's Pending: its units on Redis.
type pendingUnits struct {
	w    *Window
	base string
	n    string
}

// Commit stamps the units on Redis in the background: the request's
// write goes on at once, and the stamp, taken when the script runs, is
// later than the write, which only makes the units count longer. (Made
// while the headers are written, a stamp that waited for its reply
// would hold the request back by a round trip, and a stamp taken a
// scheduling delay before the server reads the request can let the
// server count more than n in a window.)
func (p *pendingUnits) Commit() {
	w := p.w
	w.pending.Add(-1)
	w.c.spawn(windowCommit, w.keys, []any{p.base, p.n, w.ttlArg})
}

func (p *pendingUnits) Cancel() {
	w := p.w
	w.pending.Add(-1)
	w.c.run(context.Background(), "Grant.Cancel", windowCancel, w.keys, []any{p.base, p.n}, nil)
}

// Restamp moves the units to now in the background, as Commit stamps
// them. Should it run before the Commit's script, it finds the units
// pending and leaves them, and the Commit then stamps them later still.
func (p *pendingUnits) Restamp() {
	w := p.w
	w.c.spawn(windowRestamp, w.keys, []any{p.base, p.n, w.spanArg})
}
