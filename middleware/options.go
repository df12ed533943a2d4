package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/semaphore"
)

// ErrInvalidOption is wrapped by every error New returns for a bad option.
// The message names the option and the value, e.g.
// "middleware: WithCapacity(n=0): n must be positive".
var ErrInvalidOption = errors.New("middleware: invalid option")

// optionError is an ErrInvalidOption whose message names the option and its
// value exactly, without ErrInvalidOption's own text appended.
type optionError struct{ msg string }

func (e *optionError) Error() string { return e.msg }

// Unwrap makes errors.Is(err, ErrInvalidOption) true.
func (e *optionError) Unwrap() error { return ErrInvalidOption }

// invalidf returns an error wrapping ErrInvalidOption whose message is
// "middleware: " followed by the formatted text.
func invalidf(format string, args ...any) error {
	return &optionError{msg: "middleware: " + fmt.Sprintf(format, args...)}
}

// Option configures New. The set is closed: the With... functions of this
// package are the only options. Each checks its own arguments, and New
// reports every bad option at once (errors.Join), each wrapping
// ErrInvalidOption. The zero Option, nil, is such an error.
type Option interface {
	apply(*config) error
}

// config is what the options set; buildConfig fills in the defaults.
type config struct {
	capacity      int // 0: no capacity limit
	queueLimit    int // < 0: unbounded
	rateN         int // 0: no rate limit
	ratePer       time.Duration
	consumerShare float64
	shares        map[semaphore.Priority]float64
	consumerFunc  func(*http.Request) string
	priorityFunc  func(*http.Request) semaphore.Priority
	exact         map[string]bool // exempt paths
	prefixes      []string        // exempt prefixes, each ending in "/"
	clock         ratelimit.Clock // nil: the wall clock
}

// optionFunc adapts a function to Option.
type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithCapacity lets at most n requests run in the wrapped handler at once;
// the others wait in a queue (see WithQueueLimit), by priority and then in
// arrival order. n must be positive. Leaving it out means no limit on
// concurrency, and then WithQueueLimit and the share options are errors.
func WithCapacity(n int) Option {
	return optionFunc(func(c *config) error {
		if n <= 0 {
			return invalidf("WithCapacity(n=%d): n must be positive", n)
		}
		c.capacity = n
		return nil
	})
}

// WithQueueLimit lets at most n requests wait for capacity at once; a
// request that would wait beyond that is rejected at once with 429 and
// reason "queue full". n = 0 means no request waits. n must not be
// negative, and WithCapacity must be given too. Leaving it out means the
// queue is unbounded (each waiting request still ends when its client
// goes away).
func WithQueueLimit(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 0 {
			return invalidf("WithQueueLimit(n=%d): n must not be negative", n)
		}
		c.queueLimit = n
		return nil
	})
}

// WithRateLimit gives each consumer (see WithConsumerFunc) its own strict
// sliding window: at most n requests in any window of length per. A
// request beyond that is rejected at once with 429 and reason "rate", and
// every response to a rate-limited consumer carries the RateLimit and
// RateLimit-Policy headers. All anonymous requests (consumer "") share one
// window. n and per must be positive. Leaving it out means no rate limit.
func WithRateLimit(n int, per time.Duration) Option {
	return optionFunc(func(c *config) error {
		if n <= 0 || per <= 0 {
			return invalidf("WithRateLimit(n=%d, per=%v): n and per must be positive", n, per)
		}
		c.rateN, c.ratePer = n, per
		return nil
	})
}

// WithConsumerShare caps every named consumer at f of the capacity (rounded
// down, at least 1 request) in the handler at once; anonymous requests are
// not capped. A request that would fit in the free capacity but not in its
// consumer's share is rejected with reason "consumer quota". 0 < f <= 1,
// and WithCapacity must be given too. Leaving it out means no cap.
func WithConsumerShare(f float64) Option {
	return optionFunc(func(c *config) error {
		if !(f > 0 && f <= 1) {
			return invalidf("WithConsumerShare(f=%v): f must be in (0, 1]", f)
		}
		c.consumerShare = f
		return nil
	})
}

// WithPriorityShare caps requests of priority p and every lower priority
// together at f of the capacity (rounded down, at least 1) in the handler at
// once, keeping the rest for higher priorities. A request that would fit in
// the free capacity but not in such a share is rejected with reason
// "priority quota". It may be given once per priority; the last one for a
// priority wins. 0 < f <= 1, and WithCapacity must be given too. Leaving it
// out means no reserve.
func WithPriorityShare(p semaphore.Priority, f float64) Option {
	return optionFunc(func(c *config) error {
		if !(f > 0 && f <= 1) {
			return invalidf("WithPriorityShare(p=%v, f=%v): f must be in (0, 1]", p, f)
		}
		if c.shares == nil {
			c.shares = make(map[semaphore.Priority]float64)
		}
		c.shares[p] = f
		return nil
	})
}

// WithConsumerFunc names the consumer of each request, for rate limits and
// consumer shares; "" means anonymous. It is called once per throttled
// request and must be safe for concurrent use. The default reads the
// X-Service-Name header, which any client can set: derive the name from
// authentication when quotas must hold against hostile clients. f must not
// be nil.
func WithConsumerFunc(f func(*http.Request) string) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return invalidf("WithConsumerFunc(nil): f must not be nil")
		}
		c.consumerFunc = f
		return nil
	})
}

// WithPriorityFunc gives the priority of each request. It is called once
// per throttled request and must be safe for concurrent use. The default
// reads the X-Request-Priority header: "high", "normal" or "low", in any
// case; anything else is normal. f must not be nil.
func WithPriorityFunc(f func(*http.Request) semaphore.Priority) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return invalidf("WithPriorityFunc(nil): f must not be nil")
		}
		c.priorityFunc = f
		return nil
	})
}

// WithExempt lets requests for the given paths bypass throttling entirely
// (health checks, metrics): a path ending in "/" exempts every path under
// it, any other exempts exactly itself. The request's URL.Path is matched,
// unescaped and as received. Each path must start with "/". The option may
// be given more than once; the paths add up.
func WithExempt(paths ...string) Option {
	return optionFunc(func(c *config) error {
		var errs []error
		for _, p := range paths {
			if !strings.HasPrefix(p, "/") {
				errs = append(errs, invalidf("WithExempt(%q): path must start with \"/\"", p))
				continue
			}
			if strings.HasSuffix(p, "/") {
				c.prefixes = append(c.prefixes, p)
			} else {
				c.exact[p] = true
			}
		}
		return errors.Join(errs...)
	})
}

// WithClock makes the rate limits read and wait on clk instead of the wall
// clock; tests pass a fake clock. clk must not be nil.
func WithClock(clk ratelimit.Clock) Option {
	return optionFunc(func(c *config) error {
		if clk == nil {
			return invalidf("WithClock(nil): clock must not be nil")
		}
		c.clock = clk
		return nil
	})
}

// buildConfig applies opts over the defaults and reports every bad option,
// and every option that needs one left out, at once.
func buildConfig(opts []Option) (config, error) {
	c := config{
		queueLimit:   -1,
		consumerFunc: defaultConsumer,
		priorityFunc: defaultPriority,
		exact:        make(map[string]bool),
	}
	var errs []error
	for _, o := range opts {
		if o == nil {
			errs = append(errs, invalidf("Option(nil): option must not be nil"))
			continue
		}
		if err := o.apply(&c); err != nil {
			errs = append(errs, err)
		}
	}
	if c.capacity == 0 {
		if c.queueLimit >= 0 {
			errs = append(errs, invalidf("WithQueueLimit(n=%d): needs WithCapacity", c.queueLimit))
		}
		if c.consumerShare != 0 {
			errs = append(errs, invalidf("WithConsumerShare(f=%v): needs WithCapacity", c.consumerShare))
		}
		for p, f := range c.shares {
			errs = append(errs, invalidf("WithPriorityShare(p=%v, f=%v): needs WithCapacity", p, f))
		}
	}
	return c, errors.Join(errs...)
}
