package throttle

import (
	"fmt"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/semaphore"
)

// newHostSlots builds the per-host concurrency limit: the
// WithHostConcurrencyFor overrides, and WithHostConcurrency for every
// other host. Hosts with neither never reach it (see hostScope).
func newHostSlots(c *config) (*semaphore.Keyed, error) {
	if c.hostConc == 0 && len(c.hostConcFor) == 0 {
		return nil, nil
	}
	def, overrides := int64(c.hostConc), c.hostConcFor
	k, err := semaphore.NewKeyed(func(host string) int64 {
		if n, ok := overrides[host]; ok {
			return int64(n)
		}
		return def
	}, c.semOpts...)
	if err != nil {
		return nil, fmt.Errorf("%w: WithHostConcurrency: %w", ErrInvalidOption, err)
	}
	return k, nil
}

// newHostRate builds the per-host rate limit: strict windows, one per
// host, from the WithRateLimitFor overrides and WithHostRateLimit. Hosts
// with neither never reach it (see hostScope).
func newHostRate(c *config) (*ratelimit.Keyed, error) {
	if c.hostRate.n == 0 && len(c.hostRates) == 0 {
		return nil, nil
	}
	def, overrides, clk := c.hostRate, c.hostRates, c.clock
	k, err := ratelimit.NewKeyed(func(host string) (ratelimit.Limiter, error) {
		spec, ok := overrides[host]
		if !ok {
			spec = def
		}
		return ratelimit.NewWindow(spec.n, guarded(spec.per), ratelimit.WithClock(clk))
	}, ratelimit.WithClock(clk))
	if err != nil {
		return nil, fmt.Errorf("%w: WithHostRateLimit: %w", ErrInvalidOption, err)
	}
	return k, nil
}

// newSessionRate builds the session-wide window and its optional pacing.
func (t *Transport) newSessionRate(c *config) (err error) {
	if c.rate.n == 0 {
		return nil
	}
	if t.rate, err = ratelimit.NewWindow(c.rate.n, guarded(c.rate.per), ratelimit.WithClock(c.clock)); err != nil {
		return fmt.Errorf("%w: WithRateLimit: %w", ErrInvalidOption, err)
	}
	if c.burst > 0 {
		t.pace, err = ratelimit.NewBucket(c.rate.n, c.rate.per, ratelimit.WithBurst(c.burst), ratelimit.WithClock(c.clock))
		if err != nil {
			return fmt.Errorf("%w: WithBurst: %w", ErrInvalidOption, err)
		}
	}
	return nil
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

// hostScope says which hosts a keyed limit applies to: every host when a
// default is set, otherwise only the hosts with an override. Hosts outside
// it skip the keyed limit altogether: no map entry, no grant.
type hostScope[T any] struct {
	all       bool
	overrides map[string]T
}

func (s hostScope[T]) has(host string) bool {
	if s.all {
		return true
	}
	_, ok := s.overrides[host]
	return ok
}

// guarded lengthens a window by a guard of 1% (at most 10 ms), so that
// "at most n in any window of per" holds where the server counts, not
// only where the client writes: the server reads each request some time
// after it was written, and that time varies from request to request (a
// burst of new connections on a busy machine is read up to tens of
// milliseconds late). The guard absorbs that variation at a cost of at
// most 1% of the throughput.
func guarded(per time.Duration) time.Duration {
	return per + min(per/100, windowGuardMax)
}

// windowGuardMax caps the guard of long windows.
const windowGuardMax = 10 * time.Millisecond
