package throttle

import (
	"fmt"
	"math"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

// newSessionRate builds the session-wide window and its optional pacing.
func (t *Transport) newSessionRate(c *config) (err error) {
	if c.rate.n == 0 {
		return nil
	}
	rate, err := ratelimit.NewWindow(c.rate.n, c.guard.window(c.rate.per), ratelimit.WithClock(c.clock))
	if err != nil {
		return fmt.Errorf("%w: WithRateLimit: %w", ErrInvalidOption, err)
	}
	t.rate.Store(rate)
	if c.burst > 0 {
		t.pace, err = ratelimit.NewBucket(c.rate.n, c.rate.per, ratelimit.WithBurst(c.burst), ratelimit.WithClock(c.clock))
		if err != nil {
			return fmt.Errorf("%w: WithBurst: %w", ErrInvalidOption, err)
		}
	}
	return nil
}

// newBodyLimit is newByteBucket's bucket as the one limiter of a body's
// ratelimit.Reader: a slice made once, so that wrapping a body allocates
// none per attempt; nil if bytesPerSecond is 0.
func newBodyLimit(option string, bytesPerSecond int64, clk ratelimit.Clock) ([]ratelimit.Limiter, error) {
	b, err := newByteBucket(option, bytesPerSecond, clk)
	if b == nil {
		return nil, err
	}
	return []ratelimit.Limiter{b}, nil
}

// newByteBucket returns the token bucket of a byte limit of
// bytesPerSecond, nil when the rate is 0. A nil clk means the wall clock.
//
// A token bucket of rate r and burst b lets through at most b + r bytes
// in any window of 1 s, the first one included (it starts full). So that
// every such window holds at most bytesPerSecond plus one chunk, the burst
// is one chunk (byteChunk) and the rate is bytesPerSecond; except that a
// reader must be able to take more than a chunk when it wakes: a timer
// fires about a millisecond late, and at 200 MiB/s a 64 KiB burst is a
// third of a millisecond, which would cap a 200 MiB/s body near 60 MiB/s.
// So the burst is at least byteSlack of transfer, and whatever it holds
// beyond a chunk is taken off the rate (at most 1%, and nothing at or
// below 6.25 MiB/s): rate + burst stays bytesPerSecond + one chunk.
func newByteBucket(option string, bytesPerSecond int64, clk ratelimit.Clock) (*ratelimit.Bucket, error) {
	if bytesPerSecond == 0 {
		return nil, nil
	}
	burst := byteBurst(bytesPerSecond)
	rate := bytesPerSecond - (burst - byteChunk(bytesPerSecond))
	opts := []ratelimit.Option{ratelimit.WithBurst(int(burst))}
	if clk != nil {
		opts = append(opts, ratelimit.WithClock(clk))
	}
	b, err := ratelimit.NewBucket(int(rate), time.Second, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s(%d): %w", ErrInvalidOption, option, bytesPerSecond, err)
	}
	return b, nil
}

// byteChunk is what a byte limit may let through beyond its rate in any
// 1 s window: 100 ms of transfer, at least 4 KiB (at most the rate) and at
// most 64 KiB, so that bodies flow smoothly and concurrent bodies
// interleave.
func byteChunk(bytesPerSecond int64) int64 {
	return min(max(bytesPerSecond/10, 4<<10), 64<<10, bytesPerSecond)
}

// byteBurst is the burst of a byte limit's bucket: one chunk, or byteSlack
// of transfer if that is more (see newByteBucket).
func byteBurst(bytesPerSecond int64) int64 {
	return max(byteChunk(bytesPerSecond), bytesPerSecond/int64(time.Second/byteSlack))
}

// byteSlack is how late a reader of a byte-limited body may come back for
// its next chunk without losing throughput: timers on a busy machine fire
// a millisecond or more late.
const byteSlack = 10 * time.Millisecond

// windowGuard is how much longer than its per a window counts each
// attempt, so that "at most n in any window of per" holds where the
// server counts, not only where the client writes.
//
// Why it is sound. An attempt's slot is occupied from its grant until its
// stamp plus per plus the guard (it is pending until the stamp, see
// hold.commit). If the server reads every request no later than stamp +
// guard, then the arrivals in any server window [s, s+per] all hold their
// slots at the last of those arrivals, and the client never lets more than
// n slots be occupied at once. So the guard must cover the delay between
// the stamp and the server's read:
//
//   - An attempt is stamped when its headers are written. On a connection
//     the server is reading, it reads them after the network's delay and
//     its own queue's, which vary by a few milliseconds: the guard is 1%
//     of per, at most windowGuardMax, by default, and WithWindowGuard sets
//     it for servers further away.
//   - The server reads a request on a new plain-TCP connection only once
//     its accept loop gets to the connection, and a server busy accepting
//     new connections reads even its established ones late: tens of
//     milliseconds under a burst. The client cannot see when, but it knows
//     the server has read the request by the time its response arrives.
//     So an attempt that opened a plain connection, or that was in flight
//     while other attempts to its host opened connections, is stamped
//     again when its response headers arrive (hold.readLate): it then
//     counts until per plus the guard after its response. That costs the
//     response's latency, once per new connection and during bursts of
//     them only. A TLS connection's handshake shows that the server has
//     accepted it. A response that comes after the window has ended is
//     too late to count again from: its slot may have been granted anew.
//
// The zero value is the default guard. A guard set to 0 turns both off:
// windows are exactly per long and count from the write on every
// connection, so the limit holds where the client writes.
type windowGuard struct {
	d   time.Duration
	set bool // WithWindowGuard was given
}

// window is per lengthened by the guard, without overflow: a window as
// long as a time.Duration can be stays that long.
func (g windowGuard) window(per time.Duration) time.Duration {
	d := min(per/100, windowGuardMax)
	if g.set {
		d = g.d
	}
	if per > math.MaxInt64-d {
		return math.MaxInt64
	}
	return per + d
}

// off reports whether the guard was set to 0: attempts count from their
// write on every connection.
func (g windowGuard) off() bool { return g.set && g.d == 0 }

// guarded is per lengthened by the default guard.
func guarded(per time.Duration) time.Duration { return windowGuard{}.window(per) }

// windowGuardMax caps the default guard of long windows.
const windowGuardMax = 10 * time.Millisecond
