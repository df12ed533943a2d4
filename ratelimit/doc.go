// Package ratelimit provides the rate limiters that throttle composes: a
// strict sliding window, a token bucket, a per-key table of either, and an
// io.Reader and io.Writer that charge bytes against any of them.
//
// # Which limiter
//
// A [Window] promises that at most n units are granted in any window of
// length per, wherever that window is placed. It is the limiter to use
// against a published quota ("50 requests per second") that the server
// enforces with a sliding window: nothing the caller does can make it
// overshoot. A [Window] grant made with Reserve occupies capacity from the
// moment it is granted until [Grant.Commit] stamps the real send time, so the
// promise holds for what reaches the wire, not for what was queued.
//
// A [Bucket] is a token bucket (golang.org/x/time/rate underneath) with
// aiolimiter's semantics: a rate of n units per period, a burst of n by
// default, refilled continuously. It is cheaper and smoother than a window
// but allows up to twice its burst in a window of length per (a full bucket
// spent just before the window, refilled and spent again within it).
//
// [Keyed] keeps one limiter per key (a host, an API key) and drops the
// entries whose limiter is back to its initial state, so memory is bounded by
// the keys active within a window. [Reader] and [Writer] limit byte rates.
//
// # Shared rules
//
// Every limiter here is safe for concurrent use and starts no goroutine: its
// state is computed from its [Clock] when someone asks, as x/time/rate does.
// Waiting is a select on a clock timer and ctx.Done(). Waiters are served
// by priority (the context's, set with semaphore.WithPriority, whose
// semaphores order their waiters the same way), then first in, first out,
// so a large request is never starved by a stream of small ones of its
// priority; TryAcquire fails while anyone is queued. A wait that ends
// because of its context returns an error wrapping ctx.Err() and leaves the
// limiter as if it had never been called. A wait that cannot end before the
// context's deadline fails at once, without sleeping, with an error wrapping
// context.DeadlineExceeded. A request larger than MaxAcquire fails at once
// with [ErrExceedsLimit]. Bad arguments get an error wrapping [ErrInvalid],
// never a panic; a nil context is one, reported with [ErrNilContext] (as
// net/http reports "nil Context") by every call that takes a context.
package ratelimit
