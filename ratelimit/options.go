package ratelimit

import (
	"errors"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
)

// Clock is the time source a limiter reads and waits on. It makes timers
// rather than sleeping, so that every wait is a select that also watches
// ctx.Done(). It has the same method set as throttle's internal clock.Clock,
// whose fake fires its timers as a test advances it.
type Clock interface {
	// Now reports the current time.
	Now() time.Time
	// NewTimer returns a channel that receives once d has passed, and a
	// function that stops the timer, reporting whether it stopped it
	// before it fired.
	NewTimer(d time.Duration) (<-chan time.Time, func() bool)
}

// realClock is the default Clock: the wall clock, with its monotonic reading.
type realClock = clock.Real

// Option configures NewWindow, NewBucket or NewKeyed. The set is closed:
// only the With... functions of this package make Options. An Option that
// does not apply to a constructor is an error there, not silently ignored,
// and so is the zero Option, nil.
type Option interface {
	apply(*config) error
}

// config is what the options set; buildConfig fills in the defaults.
type config struct {
	clock    Clock
	burst    int
	burstSet bool
	gran     time.Duration // 0: exact stamps
}

// optionFunc adapts a function to Option.
type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithClock makes the limiter read and wait on c instead of the wall clock.
// Tests pass a fake clock so that they are deterministic. A nil c is an
// error wrapping ErrInvalid. Left out, the limiter uses the wall clock.
func WithClock(c Clock) Option {
	return optionFunc(func(cfg *config) error {
		if c == nil {
			return invalidf("WithClock(nil)", "clock must not be nil")
		}
		cfg.clock = c
		return nil
	})
}

// WithBurst sets a Bucket's size: how many units it can grant at once after
// being idle, and so its MaxAcquire. Left out, the burst is the n given to
// NewBucket (aiolimiter's semantics: max_rate units per time_period, all at
// once if idle). WithBurst(1) spaces grants evenly, per/n apart. A burst
// below 1 is an error wrapping ErrInvalid, and so is passing WithBurst to
// NewWindow or NewKeyed, whose capacity is fixed by their own arguments.
func WithBurst(n int) Option {
	return optionFunc(func(cfg *config) error {
		if n <= 0 {
			return invalidf(callOp("WithBurst", n), "burst must be positive")
		}
		cfg.burst, cfg.burstSet = n, true
		return nil
	})
}

// WithGranularity makes a Window round the time of each grant up to a
// multiple of d (counted from the Window's creation), so that its ring
// holds at most about per/d+1 entries, however large n is: worth it for a
// large n, where the ring would otherwise hold up to n stamps of 16 bytes.
// The limit stays strict, at most n units in any window of length per:
// counting a unit as used later than it was only delays its expiry, by
// less than d, so a caller may wait up to d longer than with exact stamps.
// d must be positive and at most per. Left out, stamps are exact. NewWindow
// only; the other constructors report it as an error.
func WithGranularity(d time.Duration) Option {
	return optionFunc(func(cfg *config) error {
		if d <= 0 {
			return invalidf("WithGranularity("+d.String()+")", "the granularity must be positive")
		}
		cfg.gran = d
		return nil
	})
}

// since returns the time elapsed on c since t. On the wall clock it is
// time.Since, which reads only the monotonic clock: about half the cost of
// c.Now().Sub(t), which reads the wall clock too (a TryAcquire is mostly
// this read). t must come from c.
func since(c Clock, t time.Time) time.Duration {
	if _, ok := c.(realClock); ok {
		return time.Since(t)
	}
	return c.Now().Sub(t)
}

// buildConfig applies opts over the defaults and reports every bad option
// at once (errors.Is still sees ErrInvalid through errors.Join).
func buildConfig(opts []Option) (config, error) {
	cfg := config{clock: realClock{}}
	var errs []error
	for _, o := range opts {
		if o == nil {
			errs = append(errs, invalidf("Option(nil)", "option must not be nil"))
			continue
		}
		if err := o.apply(&cfg); err != nil {
			errs = append(errs, err)
		}
	}
	return cfg, errors.Join(errs...)
}
