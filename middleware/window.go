package middleware

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

// window is one consumer's strict sliding window: at most n requests in any
// window of length per. It is kept in a ratelimit.Keyed, which drops it once
// IdleAt says it is back to its initial state, so memory is bounded by the
// consumers active within per.
//
// It is here rather than a ratelimit.Window because the headers need what a
// Window does not expose: how many requests are left and when the oldest
// leaves the window. Its state is computed from the clock when asked; it
// starts no goroutine and never waits.
//
// Requests stamped alike share one entry, so the history never holds more
// than n entries. For n above exactWindow, arrival times are also rounded
// up to a multiple of gran (see granularity), so that it holds at most
// per/gran+1 entries, about a thousand for a window of a second, however
// large n is. Counting a request as later than it came only delays its
// expiry, by under a millisecond, so the limit stays strict.
type window struct {
	n     int
	per   int64 // nanoseconds
	gran  int64 // nanoseconds
	clock ratelimit.Clock
	base  time.Time

	mu      sync.Mutex
	last    int64   // latest offset seen: time never runs backwards here
	entries []entry // oldest first
	used    int     // sum of entries' counts
}

// entry is the requests counted at one (rounded) offset from base.
type entry struct {
	at    int64
	count int
}

// rateResult is what one take reports, for the headers.
type rateResult struct {
	ok        bool
	remaining int           // requests left in the window after this one
	reset     time.Duration // until the oldest counted request leaves
}

// rateCtx carries a rateResult through ratelimit.Keyed.Acquire, which
// passes its context to window.Acquire untouched: Keyed offers no other way
// to get a result back from the limiter of a key.
type rateCtx struct {
	context.Context
	res rateResult
}

// errRate is what window.Acquire returns when the window is full. It never
// leaves the package.
var errRate = errors.New("middleware: rate limit reached")

// newWindow returns an empty window of n requests per per.
func newWindow(n int, per time.Duration, clk ratelimit.Clock) *window {
	gran := int64(1)
	if n > exactWindow {
		gran = granularity(per)
	}
	return &window{n: n, per: int64(per), gran: gran, clock: clk, base: clk.Now()}
}

// exactWindow is the largest n for which a window keeps exact arrival
// times: at most that many entries of 16 bytes.
const exactWindow = 1024

// granularity returns the largest power of ten nanoseconds, at most a
// millisecond, that is no more than per/1000. Being a power of ten it
// divides a second, so arrivals on whole seconds (a fake clock's) are not
// moved at all, and real ones are moved by under a millisecond.
func granularity(per time.Duration) int64 {
	g := int64(time.Millisecond)
	for g > 1 && g > int64(per)/1000 {
		g /= 10
	}
	return g
}

// Acquire implements ratelimit.Limiter, without ever waiting: it counts one
// request now if the window has room and returns errRate if not. n is
// ignored (always 1). If ctx is a *rateCtx, the outcome is stored in it.
func (w *window) Acquire(ctx context.Context, _ int) error {
	res := rateResult{}
	w.take(&res)
	if rc, ok := ctx.(*rateCtx); ok {
		rc.res = res
	}
	if !res.ok {
		return errRate
	}
	return nil
}

// take counts one request now if there is room, and fills res.
func (w *window) take(res *rateResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	w.expire(now)
	if res.ok = w.used < w.n; res.ok {
		w.stamp(now)
	}
	res.remaining = w.n - w.used
	// The window is never empty here unless it refused with n == 0, which
	// newWindow's callers rule out; guard anyway.
	if len(w.entries) > 0 {
		res.reset = time.Duration(w.entries[0].at + w.per - now)
	}
}

// IdleAt reports whether every counted request has left the window at t,
// so that a fresh window would behave the same. ratelimit.Keyed calls it to
// drop idle consumers.
func (w *window) IdleAt(t time.Time) bool {
	off := int64(t.Sub(w.base))
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.entries) == 0 || w.entries[len(w.entries)-1].at+w.per <= off
}

// now returns the clock as an offset from base, never earlier than one
// already seen. Called with mu held.
func (w *window) now() int64 {
	off := int64(w.clock.Now().Sub(w.base))
	w.last = max(w.last, off)
	return w.last
}

// expire forgets the entries that no longer count at now: an entry at t
// counts in windows containing t, so until t+per. Called with mu held.
func (w *window) expire(now int64) {
	i := 0
	for i < len(w.entries) && w.entries[i].at+w.per <= now {
		w.used -= w.entries[i].count
		i++
	}
	if i == len(w.entries) {
		w.entries = w.entries[:0] // reuse the array from the start
		return
	}
	w.entries = w.entries[i:]
}

// stamp counts one request at now, rounded up to gran. Called with mu held.
func (w *window) stamp(now int64) {
	at := (now + w.gran - 1) / w.gran * w.gran
	w.used++
	if k := len(w.entries); k > 0 && w.entries[k-1].at == at {
		w.entries[k-1].count++
		return
	}
	w.entries = append(w.entries, entry{at: at, count: 1})
}
