package redislimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go-throttle/throttle/ratelimit"
)

// downFor is how long Redis counts as down after a call failed: calls in
// that time fail at once (or fall back) instead of waiting for a timeout
// each; the first call after it probes Redis again.
const downFor = 500 * time.Millisecond

// conn makes a limiter's Redis calls, each bounded by its timeout, and
// remembers when Redis was last found down. It tracks the goroutines its
// calls run on, so that Close can wait for them.
type conn struct {
	rdb     redis.UniversalClient
	timeout time.Duration
	base    time.Time // downUntil is an offset from it (monotonic)

	downUntil atomic.Int64 // Redis counts as down before this offset
	probing   atomic.Bool  // one caller is finding out whether it is back

	mu     sync.Mutex
	calls  int           // goroutines running a call
	closed bool          // no call starts after close
	idle   chan struct{} // closed when calls reaches 0 after close
	done   chan struct{} // closed by close: waits end
}

func newConn(rdb redis.UniversalClient, timeout time.Duration) *conn {
	return &conn{rdb: rdb, timeout: timeout, base: time.Now(), idle: make(chan struct{}), done: make(chan struct{})}
}

// result is what a call's goroutine hands back.
type result struct {
	v   any
	err error
}

// run runs script s on keys and args, bounded by the timeout. It returns
// an error wrapping ErrUnavailable if Redis is down, fails or does not
// answer in time, one wrapping ctx's error if ctx ends first, and
// ErrClosed after close. A call abandoned (timed out, or its caller gone)
// that succeeds later is handed to late, on the call's goroutine, so that
// what it took can be given back; late may be nil.
func (c *conn) run(ctx context.Context, op string, s *redis.Script, keys []string, args []any, late func(any)) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redislimit: %s: %w", op, err)
	}
	probe := false
	if now := c.now(); now < c.downUntil.Load() {
		return nil, fmt.Errorf("redislimit: %s: %w (a call failed less than %v ago)", op, ErrUnavailable, downFor)
	} else if c.downUntil.Load() != 0 {
		// Down until a moment ago: one caller probes, the others fail at
		// once until it knows.
		if !c.probing.CompareAndSwap(false, true) {
			return nil, fmt.Errorf("redislimit: %s: %w (being probed)", op, ErrUnavailable)
		}
		probe = true
		defer c.probing.Store(false)
	}
	if !c.begin() {
		return nil, fmt.Errorf("redislimit: %s: %w", op, ErrClosed)
	}
	ch := make(chan result, 1)
	var state atomic.Int32 // 0 running, 1 answered, 2 abandoned
	go func() {
		defer c.end()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		v, err := s.Run(cctx, c.rdb, keys, args...).Result()
		cancel()
		if state.CompareAndSwap(0, 1) {
			ch <- result{v, err}
			return
		}
		if err == nil && late != nil {
			late(v)
		}
	}()
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	var r result
	select {
	case r = <-ch:
	case <-timer.C:
		if !state.CompareAndSwap(0, 2) {
			r = <-ch
			break
		}
		c.markDown()
		return nil, fmt.Errorf("redislimit: %s: %w: no answer within %v", op, ErrUnavailable, c.timeout)
	case <-ctx.Done():
		if !state.CompareAndSwap(0, 2) {
			r = <-ch
			break
		}
		if probe {
			// Nothing was learnt: let the next caller probe at once.
			c.downUntil.Store(c.now())
		}
		return nil, fmt.Errorf("redislimit: %s: %w", op, ctx.Err())
	}
	if r.err != nil {
		c.markDown()
		return nil, fmt.Errorf("redislimit: %s: %w: %w", op, ErrUnavailable, r.err)
	}
	if c.downUntil.Load() != 0 {
		c.downUntil.Store(0)
	}
	return r.v, nil
}

// spawn runs script s in the background, bounded by the timeout, for a
// caller that need not wait for it (a commit, a restamp). It does nothing
// while Redis counts as down or after close; a failure marks Redis down.
// Close waits for it, as for every call.
func (c *conn) spawn(s *redis.Script, keys []string, args []any) {
	if c.down() || !c.begin() {
		return
	}
	go func() {
		defer c.end()
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		if err := s.Run(ctx, c.rdb, keys, args...).Err(); err != nil {
			c.markDown()
		}
	}()
}

func (c *conn) now() int64 { return int64(time.Since(c.base)) + 1 } // never 0: 0 means up

// markDown makes Redis count as down for downFor.
func (c *conn) markDown() { c.downUntil.Store(c.now() + int64(downFor)) }

// down reports whether Redis counts as down now.
func (c *conn) down() bool { return c.now() < c.downUntil.Load() }

func (c *conn) begin() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.calls++
	return true
}

func (c *conn) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls--; c.calls == 0 && c.closed {
		close(c.idle)
	}
}

// close ends the waits and refuses new calls. Then wait returns once
// the calls still running have ended: they are bounded by the timeout
// when the client honours contexts (ContextTimeoutEnabled), otherwise by
// the client's own read and write timeouts.
func (c *conn) close() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.closed = true
	close(c.done)
	if c.calls == 0 {
		close(c.idle)
	}
	return true
}

func (c *conn) wait() { <-c.idle }

func (c *conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// sleep waits d, or until ctx ends or the limiter closes.
func (c *conn) sleep(ctx context.Context, op string, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("redislimit: %s: %w", op, ctx.Err())
	case <-c.done:
		return fmt.Errorf("redislimit: %s: %w", op, ErrClosed)
	}
}

// checkCtx refuses a nil context as the local limiters do.
func checkCtx(ctx context.Context, op string) error {
	if ctx == nil {
		return fmt.Errorf("redislimit: %s: %w", op, ratelimit.ErrNilContext)
	}
	return nil
}

// unavailable reports whether err says Redis could not be used (as
// opposed to the caller's context ending or the limiter closing).
func unavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// ids makes the members a process adds: a random prefix per process (so
// that processes never collide) and a counter.
type ids struct {
	prefix string
	next   atomic.Uint64
}

var processIDs = newIDs()

func newIDs() *ids {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return &ids{prefix: hex.EncodeToString(b[:]) + ":"}
}

func (i *ids) new() string { return i.prefix + strconv.FormatUint(i.next.Add(1), 36) }

func itoa(n int) string { return strconv.Itoa(n) }

// tag returns the key of one limit under its hash tag: every key of the
// limit starts with "{key}", so on a Cluster they share a slot whatever
// key holds (its first "}" ends the tag for every suffix alike).
func tag(key, suffix string) string { return "{" + key + "}:" + suffix }

// toInts reads a script's array of integers.
func toInts(v any, want int) ([]int64, error) {
	a, ok := v.([]any)
	if !ok || len(a) < want {
		return nil, fmt.Errorf("redislimit: unexpected script reply %v", v)
	}
	out := make([]int64, len(a))
	for i, x := range a {
		n, ok := x.(int64)
		if !ok {
			return nil, fmt.Errorf("redislimit: unexpected script reply %v", v)
		}
		out[i] = n
	}
	return out, nil
}

// millis rounds d up to whole milliseconds, for PEXPIRE.
func millis(d time.Duration) int64 { return int64((d + time.Millisecond - 1) / time.Millisecond) }

// micros is d in whole microseconds, Redis TIME's unit.
func micros(d time.Duration) int64 { return int64(d / time.Microsecond) }
