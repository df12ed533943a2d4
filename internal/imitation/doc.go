// Package imitation holds loopback imitations of the rate limiters that
// real APIs and proxies run, and a harness that measures how politely a
// client treats them (issue 9).
//
// Each imitation is a Handler built around one rule: a fixed window, an
// in-flight cap, Shopify's leaky bucket, Discord's per-route buckets, the
// headers of GitHub and of two IETF drafts, nginx's limit_req and
// limit_conn, and HAProxy's http_req_rate sliding estimate. A rule is a
// pure function of the instant it is given, so its unit tests need no
// clock; the Handler reads the wall clock once per request and serves an
// accepted request for a small service time, so that in-flight caps bite.
//
// Every Handler knows its Ideal: the least time in which n requests fired
// at once can all be accepted under its rule, by a client that knows the
// rule exactly and has no network latency. It is derived from the rule,
// not assumed, and the catalogue (Imitations) scales each rule so that
// 300 requests have an Ideal of about 2 s.
//
// Measure fires n GET requests at once at a Target (an imitation, or a
// real nginx or HAProxy started by package real) and reports what the
// server counted and what the client saw.
package imitation
