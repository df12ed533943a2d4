package throttle

import (
	"time"

	"github.com/go-throttle/throttle/semaphore"
)

// defaultMaxPause caps every pause a server can impose on a host.
const defaultMaxPause = 10 * time.Minute

// WithServerFeedback turns listening to the server on or off; it is on by
// default. While on, what a response says about its host applies to every
// caller of that host:
//
//   - Retry-After on a 429, a 503 or a 403 (delta seconds, decimal seconds
//     such as "2.0", or an HTTP date) pauses the host until then, and takes
//     precedence over every other field: a reset stated beside it is
//     ignored, as the IETF draft says, so the host resumes when
//     Retry-After says;
//   - a stated remaining count (IETF RateLimit r=;t=, RateLimit-Remaining,
//     X-RateLimit-Remaining with its reset) is a budget: no more attempts
//     than that start before the reset, and at 0 the host pauses until it;
//   - RateLimit-Policy quotas (q per w seconds) become strict windows on
//     the host, on top of any limit of yours, so a server can only tighten
//     your limits, never loosen them;
//   - first contact: until a host has answered once, its first request goes
//     alone and the others wait for its response headers, for at most 2 s
//     (a first request to a slow endpoint must not hold the host back).
//
// A 403 with a usable Retry-After or a remaining count of 0 (GitHub's
// secondary and primary rate limits) is throttling, like a 429: it pauses
// the host, counts in Stats.Throttled, and is retried as a 429 is (see
// DefaultRetryPolicy). A 403 with neither is a plain refusal.
//
// Malformed fields are ignored, and every pause is capped by WithMaxPause.
// With or without feedback, a retry the server delays with Retry-After
// waits at most WithMaxPause too (see RetryPolicy).
func WithServerFeedback(on bool) Option {
	return option(func(c *config) error {
		c.noFeedback = !on
		return nil
	})
}

// WithMaxPause caps every wait a server can direct (default 10 minutes),
// so that a hostile or broken server cannot stall the client: the pause of
// a host (Retry-After, a spent budget's reset), the window of a learned
// policy, and the wait before a retry that the server delays with
// Retry-After, which RetryPolicy.MaxWait does not bound (MaxWait bounds
// only the backoff the client chooses itself). A server-directed wait
// never runs past the caller's context deadline either: a caller whose
// deadline falls before the capped wait ends fails at once, with an error
// wrapping context.DeadlineExceeded.
func WithMaxPause(d time.Duration) Option {
	return option(func(c *config) error {
		if d <= 0 {
			return invalidOption("WithMaxPause", d, "pause cap must be positive")
		}
		c.maxPause = d
		return nil
	})
}

// WithQueueLimit lets at most n callers wait at once, for a slot, a token
// or a host's pause; one more fails at once with an error wrapping
// ErrQueueFull. Callers that do not have to wait are not counted. Without
// it, the queue is unbounded. n = 0 means nobody may wait.
func WithQueueLimit(n int) Option {
	return option(func(c *config) error {
		if n < 0 {
			return invalidOption("WithQueueLimit", n, "n must not be negative")
		}
		c.queueLimit = n
		c.hasQueueLimit = true
		return nil
	})
}

// WithConsumerShare lets no consumer (named by WithConsumer on the
// request's context) hold more than fraction f of any concurrency limit's
// slots, as aio-throttle's MaxFractionCapacityQuota does. 0 < f <= 1.
// Callers with no consumer name are not bound by it.
func WithConsumerShare(f float64) Option {
	return option(func(c *config) error {
		if !(f > 0 && f <= 1) {
			return invalidOption("WithConsumerShare", f, "f must be in (0, 1]")
		}
		c.semOpts = append(c.semOpts, semaphore.WithConsumerShare(f))
		return nil
	})
}

// WithPriorityShare lets callers of priority p and lower together hold at
// most fraction f of any concurrency limit's slots, so that a reserve
// stays free for higher priorities. 0 < f <= 1.
func WithPriorityShare(p Priority, f float64) Option {
	return option(func(c *config) error {
		if !(f > 0 && f <= 1) {
			return invalidOption("WithPriorityShare", f, "f must be in (0, 1]")
		}
		c.semOpts = append(c.semOpts, semaphore.WithPriorityShare(p, f))
		return nil
	})
}
