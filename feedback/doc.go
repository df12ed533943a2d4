// Package feedback turns what a server says about its rate limits, in
// response headers, into a [Signal] the client acts on.
//
// [Parse] reads, in one pass over a response's header:
//
//   - Retry-After on a 429, 503, 529 or 403 response (GitHub's secondary rate
//     limits answer 403), as delta seconds ("120"), decimal seconds ("2.0",
//     as Shopify sends) or an HTTP-date; it takes precedence over every
//     other field;
//   - the IETF RateLimit and RateLimit-Policy structured fields of
//     draft-ietf-httpapi-ratelimit-headers -08 to -10;
//   - the older forms of the same draft: the -07 RateLimit dictionary
//     (limit=, remaining=, reset=) and the -06 separate fields
//     RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset;
//   - the de facto X-RateLimit-Limit, X-RateLimit-Remaining and
//     X-RateLimit-Reset fields (GitHub, Discord and many others), the
//     X-Rate-Limit-* spelling used by X (Twitter), and Discord's
//     X-RateLimit-Reset-After, X-RateLimit-Bucket (the route bucket the
//     counts apply to) and X-RateLimit-Global or -Scope;
//   - Shopify's X-Shopify-Shop-Api-Call-Limit ("32/40"), a leaky bucket's
//     fill and size.
//
// [ParseBudgets] reads the budgets the metered APIs state beyond requests
// (OpenAI's and Anthropic's token budgets, IETF policies counted in bytes
// or in requests in flight), under shared names such as [BudgetTokens];
// [ShouldRetry] reads x-should-retry. A 529 (Anthropic's overloaded_error)
// is a rejection like a 503, and retry-after-ms is read before
// Retry-After.
//
// The package is pure: it does no I/O, starts no goroutines and never reads
// the clock (the current instant is an argument). It never panics and never
// returns an error: a malformed field, or a malformed part of a field, is
// ignored and its well-formed siblings are still used. Parsing the common
// forms does not allocate.
//
// Absurd values cannot overflow time arithmetic: every delay is clamped to
// [MaxDelay] from now, and no instant in a Signal is ever before now. The
// client is expected to apply its own, much smaller, cap.
package feedback
