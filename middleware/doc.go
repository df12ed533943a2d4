// Package middleware throttles an http.Handler on the server side, after
// Python's aio-throttle: a capacity (requests in the handler at once), a
// queue limit, per-consumer and per-priority quotas, and a per-consumer rate
// limit, with a 429 and a reason for whatever is turned away.
//
// # The pipeline
//
// Throttler.Wrap checks each request in this order:
//
//  1. Exempt paths (WithExempt) go straight to the handler, uncounted.
//  2. Rate (WithRateLimit): the consumer's strict sliding window counts the
//     request; if it is full the request is rejected with reason "rate".
//     Every request of a rate-limited consumer is counted, rejected ones
//     included, and every response to it carries the RateLimit fields
//     (see below), set before the handler runs.
//  3. Capacity (WithCapacity), through semaphore.Throttler: a request that
//     fits in the free capacity and in its quotas goes in at once. One that
//     fits in the capacity but not in its consumer's share
//     (WithConsumerShare) or its priority's share (WithPriorityShare) is
//     rejected at once with reason "consumer quota" or "priority quota",
//     as aio-throttle does, so that the client backs off instead of
//     holding a place in the queue. One that finds no free capacity waits,
//     by priority and then in arrival order, unless WithQueueLimit requests
//     already wait: then it is rejected with reason "queue full". (A
//     request that starts waiting for capacity and then finds its quota is
//     what holds it back keeps waiting; the semaphore serves it when its
//     quota has room.)
//  4. The handler runs, holding its unit of capacity until it returns.
//
// The RateLimit fields are those of draft-ietf-httpapi-ratelimit-headers
// (-09/-10), with t the seconds until the oldest counted request leaves the
// window, rounded up:
//
//	RateLimit-Policy: "default";q=<n>;w=<per in seconds, rounded up>
//	RateLimit: "default";r=<remaining>;t=<seconds>
//
// # Responses the middleware writes
//
// A rejected request gets 429 Too Many Requests with a short text body,
// X-Throttled-Reason set to the reason (see Reason) and Retry-After in whole
// seconds, at least 1: for "rate" the time until the consumer's window has
// room, rounded up; for the others 1, since capacity frees as soon as any
// request finishes. The handler is not called.
//
// A request whose client goes away (its context is cancelled) while it
// waits for capacity leaves the queue at once, without ever reaching the
// handler, and gets StatusClientClosedRequest (499), which only logs see.
//
// # Consumers and priorities
//
// By default the consumer is the X-Service-Name header ("" is anonymous)
// and the priority the X-Request-Priority header ("high", "normal", "low",
// any case). Clients can set headers freely: use WithConsumerFunc and
// WithPriorityFunc to take them from authentication when the quotas must
// hold against hostile clients. Anonymous requests share one rate window
// and are not subject to consumer shares.
//
// # Guarantees
//
// A Throttler is safe for concurrent use and starts no goroutine. Memory is
// bounded: rate windows live in a ratelimit.Keyed that drops a consumer's
// window once it is empty, and each window keeps at most n entries of 16
// bytes, and for n above 1024 at most about one per millisecond of its
// length. Stats reports the counters.
package middleware
