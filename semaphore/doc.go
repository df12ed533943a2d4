// Package semaphore provides weighted semaphores that bound how much of a
// resource (connections, request slots, bytes in flight) is in use at once.
//
// Weighted is the model of golang.org/x/sync/semaphore with three additions:
// priorities, a queue limit, and errors instead of panics or endless waits.
// Throttler adds per-consumer and per-priority quotas on top of the same
// queue, after Python's aio-throttle. Keyed holds one Throttler per key (per
// host), created on first use and dropped as soon as nobody uses it.
//
// Every type here shares one waiter queue and so one set of promises:
//
//   - Order: waiters are served by priority (taken from the context with
//     WithPriority), highest first, and first come first served within a
//     priority.
//   - No starvation of large requests: the first waiter that does not fit in
//     the free capacity stops the granting, so a stream of small requests
//     cannot keep overtaking a large one of the same or higher priority.
//   - Quotas never stall others: a Throttler waiter that would fit in the
//     free capacity but is held back only by its own consumer quota is
//     skipped, and the waiters behind it are served. With
//     WithRejectOnQuota a caller held back by its own quota does not wait
//     at all: it fails at once with a *QuotaError (ErrQuota), which says
//     which quota refused.
//   - Bounded waiting: a request that can never be granted (n above the
//     capacity or above the caller's quota) fails at once with
//     ErrExceedsCapacity, and with WithQueueLimit a caller that would wait
//     behind a full queue fails at once with ErrQueueFull.
//   - Cancellation: a blocked Acquire returns an error wrapping ctx.Err()
//     when its context ends, and leaves the semaphore as if it had never
//     been called; the waiters behind it are woken if it was holding them.
//
// Nothing here starts a goroutine, and bad input gets an error wrapping
// ErrInvalid, never a panic: a nil context too, reported with
// ErrNilContext (net/http's "nil Context") by every call that takes one. The package does not depend on net/http.
package semaphore
