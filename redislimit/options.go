package redislimit

import (
	"errors"
	"reflect"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

// Option configures NewWindow or NewSemaphore. An Option that does not
// apply to the constructor it is given to is an error there, and so is a
// nil Option.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// Defaults.
const (
	// DefaultTimeout bounds each Redis call (WithTimeout).
	DefaultTimeout = 250 * time.Millisecond
	// DefaultLease is a Semaphore's lease, and how long a Window's pending
	// grant is held before Redis forgets it (WithLease).
	DefaultLease = 10 * time.Second
)

type config struct {
	timeout      time.Duration
	lease        time.Duration
	failOpen     ratelimit.Limiter
	failOpenConc int
	guard        time.Duration
	guardSet     bool
}

func buildConfig(opts []Option) (config, error) {
	cfg := config{timeout: DefaultTimeout, lease: DefaultLease}
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

// WithTimeout bounds every Redis call the limiter makes (default 250 ms).
// It is enforced by the limiter itself, not left to the client's
// ReadTimeout or ContextTimeoutEnabled: a call that has not answered
// within d is abandoned (its goroutine finishes in the background, and
// Close waits for it), the caller gets an error wrapping ErrUnavailable
// or its fail-open limit, and Redis counts as down for a short while, so
// that the callers after it do not wait d each. Whatever a call that
// answers late was granted is given back. d must be positive.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return invalidf("WithTimeout("+d.String()+")", "timeout must be positive")
		}
		c.timeout = d
		return nil
	})
}

// WithFailOpen makes a Window fall back to local while Redis is
// unreachable, instead of failing with ErrUnavailable: for example a
// ratelimit.Window of the shared limit divided by the number of replicas.
// The shared limit takes over again once Redis answers. Window only.
func WithFailOpen(local ratelimit.Limiter) Option {
	return optionFunc(func(c *config) error {
		if local == nil || isNilPointer(local) {
			return invalidf("WithFailOpen(nil)", "the local limiter must not be nil")
		}
		c.failOpen = local
		return nil
	})
}

// WithFailOpenConcurrency makes a Semaphore hold at most n slots of this
// process locally while Redis is unreachable, instead of failing with
// ErrUnavailable; the shared limit takes over again once Redis answers.
// Slots held locally are not seen by the other processes. n must be
// positive. Semaphore only.
func WithFailOpenConcurrency(n int) Option {
	return optionFunc(func(c *config) error {
		if n <= 0 {
			return invalidf("WithFailOpenConcurrency(n="+itoa(n)+")", "n must be positive")
		}
		c.failOpenConc = n
		return nil
	})
}

// WithLease sets a Semaphore's lease (default 10 s): a slot held by a
// process that stops renewing it (it died, or lost Redis) is free again
// at most d after its last renewal. The holder renews every d/3. For a
// Window it is how long a pending grant (Reserve) may stay uncommitted
// before Redis counts it as used then (it counts until d plus per after
// the grant, so a process that dies between grant and send frees it
// then). d must be at least 30 ms and a multiple of a millisecond would
// be exact; it is rounded down to one.
func WithLease(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 30*time.Millisecond {
			return invalidf("WithLease("+d.String()+")", "lease must be at least 30ms")
		}
		c.lease = d.Truncate(time.Millisecond)
		return nil
	})
}

// WithWindowGuard sets how much longer than per a Window counts each unit,
// so that "at most n in any window of per" holds where a server counts
// requests that reach it a little after they were stamped. The default is
// throttle's: 1% of per, at most 10 ms. d must not be negative. Window
// only.
func WithWindowGuard(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return invalidf("WithWindowGuard("+d.String()+")", "guard must not be negative")
		}
		c.guard, c.guardSet = d, true
		return nil
	})
}

// isNilPointer reports whether v holds a nil pointer, map, func or chan.
func isNilPointer(v any) bool {
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
