package semaphore

import (
	"errors"
	"math"
)

// Option configures a Weighted, Throttler or Keyed. The set is closed: the
// With... functions below are the only options. Each checks its own
// arguments when the constructor applies it, and the constructor reports
// every bad option at once (errors.Join), each wrapping ErrInvalid. The
// zero Option, nil, is such an error.
type Option interface {
	apply(*config) error
}

// config is what the options set. Its zero value is the default: no queue
// limit and no quotas.
type config struct {
	queueLimit    int // < 0: unbounded
	rejectQuota   bool
	consumerShare float64
	shares        map[Priority]float64
}

// buildConfig applies opts over the defaults. forThrottler says whether
// quota options are allowed.
func buildConfig(opts []Option, forThrottler bool) (config, error) {
	c := config{queueLimit: -1}
	var errs []error
	for _, o := range opts {
		if o == nil {
			errs = append(errs, invalidf("nil Option"))
			continue
		}
		if err := o.apply(&c); err != nil {
			errs = append(errs, err)
		}
	}
	if !forThrottler && (c.consumerShare != 0 || len(c.shares) != 0 || c.rejectQuota) {
		errs = append(errs, invalidf("WithConsumerShare, WithPriorityShare and WithRejectOnQuota apply to Throttler and Keyed only, not Weighted"))
	}
	return c, errors.Join(errs...)
}

// queueLimitOption is WithQueueLimit's argument.
type queueLimitOption int

// WithQueueLimit lets at most n callers wait at once, counted across all
// priorities. A caller that would have to wait while n callers already
// wait fails at once with ErrQueueFull. n = 0 means nobody may wait: a
// caller is served at once or rejected. Leaving the option out means the
// queue is unbounded. n must not be negative.
func WithQueueLimit(n int) Option { return queueLimitOption(n) }

func (o queueLimitOption) apply(c *config) error {
	if o < 0 {
		return invalidf("WithQueueLimit(n=%d): n must not be negative", int(o))
	}
	c.queueLimit = int(o)
	return nil
}

// consumerShareOption is WithConsumerShare's argument.
type consumerShareOption float64

// WithConsumerShare caps every consumer (named with WithConsumer) at
// f*capacity units held at once, rounded down but at least 1, so that one
// consumer cannot take the whole capacity. Callers whose context names no
// consumer are not subject to it. 0 < f <= 1. Throttler and Keyed only;
// leaving it out means no per-consumer cap.
func WithConsumerShare(f float64) Option { return consumerShareOption(f) }

func (o consumerShareOption) apply(c *config) error {
	if !validShare(float64(o)) {
		return invalidf("WithConsumerShare(f=%v): f must be in (0, 1]", float64(o))
	}
	c.consumerShare = float64(o)
	return nil
}

// priorityShareOption is WithPriorityShare's arguments.
type priorityShareOption struct {
	p Priority
	f float64
}

// WithPriorityShare caps the callers of priority p and every lower priority
// together at f*capacity units held at once, rounded down but at least 1,
// so that the rest stays free for higher priorities. It may be given once
// per priority (the last one for a priority wins); a caller is bound by
// every share at or above its priority. 0 < f <= 1. Throttler and Keyed
// only; leaving it out means no reserve.
func WithPriorityShare(p Priority, f float64) Option { return priorityShareOption{p, f} }

func (o priorityShareOption) apply(c *config) error {
	if !validShare(o.f) {
		return invalidf("WithPriorityShare(p=%v, f=%v): f must be in (0, 1]", o.p, o.f)
	}
	if c.shares == nil {
		c.shares = make(map[Priority]float64)
	}
	c.shares[o.p] = o.f
	return nil
}

// rejectOnQuotaOption is WithRejectOnQuota.
type rejectOnQuotaOption struct{}

// WithRejectOnQuota makes a caller that would fit in the free capacity but
// is held back by its own quota (its consumer share or a priority share)
// fail at once, with a *QuotaError wrapping ErrQuota, instead of waiting
// until its quota has room: aio-throttle's policy, which the middleware
// package uses so that a client over its quota backs off rather than
// holding a place in the queue. A caller that must wait for capacity still
// waits (within WithQueueLimit), and once waiting it is served when its
// quota has room. Throttler and Keyed only; left out, such callers wait.
func WithRejectOnQuota() Option { return rejectOnQuotaOption{} }

func (rejectOnQuotaOption) apply(c *config) error {
	c.rejectQuota = true
	return nil
}

// validShare reports whether f is in (0, 1]; NaN is not.
func validShare(f float64) bool { return f > 0 && f <= 1 }

// shareOf returns f*capacity rounded down, but at least 1.
func shareOf(f float64, capacity int64) int64 {
	return max(1, int64(math.Floor(f*float64(capacity))))
}
