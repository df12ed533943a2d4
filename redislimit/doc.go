// Package redislimit holds limits that many processes share through Redis:
// a strict sliding-window rate limit (Window) and a concurrency limit whose
// slots are leases (Semaphore). Ten replicas of a service that each call
// an API under one key then send what the key allows, not ten times that.
//
// Both work on any redis.UniversalClient of github.com/redis/go-redis/v9
// (a single node, Sentinel or Cluster): every key of one limit carries the
// same hash tag, "{key}", so it lives on one slot, and every decision is
// one Lua script, atomic on the server.
//
// Guarantees:
//
//   - A Window grants at most n units in any window of length per, across
//     every process using its key, timed by Redis's own clock (TIME), so
//     processes with skewed clocks still agree. A unit taken with Reserve
//     is pending until its Grant is committed (it then counts from the
//     commit, on Redis's clock) or cancelled (it is given back): the limit
//     holds where requests are sent, not where they were queued.
//   - A Semaphore lets at most n holders hold a slot at once. Each holding
//     is a lease that expires unless renewed, so a process that dies gives
//     its slots back within the lease; the holder renews its leases while
//     it holds them and gives a lease up if renewal fails.
//   - Every Redis call is bounded by WithTimeout, enforced here whatever
//     the client's own settings: a frozen Redis never holds a caller past
//     it. When Redis is unreachable, calls fail at once with an error
//     wrapping ErrUnavailable, or carry on under a local limit
//     (WithFailOpen, WithFailOpenConcurrency); the shared limit takes over
//     again by itself once Redis answers.
//   - A denied caller learns from the script how long to wait, sleeps that
//     long with a little jitter, and honours its context throughout; keys
//     expire once the limit is idle.
//
// With throttle, give a Window to throttle.WithLimiter (or per host, to
// throttle.WithHostLimiter) and a Semaphore to
// throttle.WithSharedConcurrency (or throttle.WithHostConcurrencyLimiter).
package redislimit
