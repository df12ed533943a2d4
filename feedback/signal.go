package feedback

import "time"

// MaxDelay is the longest delay a Signal ever states: any pause or reset
// further than MaxDelay after now is clamped to now+MaxDelay. It is a safety
// bound against overflow, not a sensible wait; callers apply their own cap.
const MaxDelay = 100 * 365 * 24 * time.Hour

// MaxPolicies is the number of policies a Signal can hold; further policies
// in a response are ignored.
const MaxPolicies = 4

// Policy is one quota the server states: at most Quota units per Window.
//
// A Policy stored in a Signal always has Quota > 0 and Window > 0. Name is
// the policy's identifier from RateLimit-Policy, or "" for forms that carry
// none (the -06 RateLimit-Limit form). A window stated beyond MaxDelay is
// clamped to MaxDelay; a quota beyond math.MaxInt32 is clamped to it. The
// zero Policy states nothing and is never stored in a Signal.
type Policy struct {
	Name   string
	Quota  int
	Window time.Duration
}

// Signal is what one response says about its host.
//
// The zero Signal means "nothing known": no pause, no remaining count, no
// policies. Every instant in a Signal is either the zero time or within
// [now, now+MaxDelay], where now is the instant passed to Parse.
type Signal struct {
	// Until: no request to the host should start before this instant (zero:
	// no pause). It is set by Retry-After on a 429, 503, 529 or 403 response
	// (delta seconds, decimal seconds such as Shopify's "2.0", or an
	// HTTP-date; see RetryAfter); if there is no usable Retry-After, by a
	// remaining count of 0 that has a known reset (Until = ResetAt), which
	// covers IETF "RateLimit: r=0;t=N". A Retry-After of 0 or a past
	// HTTP-date gives Until == now.
	//
	// Retry-After takes precedence over every other field, even when it
	// names an earlier instant: the IETF draft says a reset stated beside
	// it SHOULD be ignored. So a remaining count stated beside a usable
	// Retry-After has ResetAt == Until, and every reader of the Signal sees
	// the pause end at the same instant.
	Until time.Time

	// HasRemaining reports whether the response stated a remaining count.
	// When it is true, the server allows Remaining more requests before
	// ResetAt (ResetAt is zero if no reset was stated). When several
	// fields or list items state one, the most restrictive wins: the lowest
	// Remaining, and among equal counts the latest ResetAt. Counts larger
	// than math.MaxInt32 are clamped to it. When HasRemaining is false,
	// Remaining is 0 and ResetAt is zero: a reset stated without a
	// remaining count is ignored.
	HasRemaining bool
	Remaining    int
	ResetAt      time.Time

	// Limit is the quota that Remaining counts down from, when the fields
	// that stated the winning remaining count state it too:
	// X-RateLimit-Limit (and X-Rate-Limit-Limit) beside their remaining
	// count, the -06 RateLimit-Limit's first item, the -07 limit=, or the
	// quota of the RateLimit-Policy that a RateLimit item names. It is 0
	// when unknown, and always 0 when HasRemaining is false. A Limit is
	// not a Policy: without its window it says nothing of a rate, but it
	// tells a client how many requests the server counted before the one
	// whose response stated Remaining (Limit - Remaining).
	Limit int

	// Policies holds the quota policies the response states, in order of
	// appearance, duplicates removed; NPolicies says how many entries are
	// set (at most MaxPolicies). They come from RateLimit-Policy (IETF -08
	// to -10, `"burst";q=100;w=60`, and the older `100;w=60` form) and from
	// RateLimit-Limit members that carry a window (-06, `100;w=60`). A
	// limit stated without a window (RateLimit-Limit: 100, the -07
	// limit=100, X-RateLimit-Limit) gives no policy, because a quota is
	// meaningless without its window. A policy without a positive quota
	// and a positive window is ignored. The array is fixed-size so that
	// parsing does not allocate.
	Policies  [MaxPolicies]Policy
	NPolicies int

	// BucketFill and BucketSize state a leaky bucket (Shopify's
	// X-Shopify-Shop-Api-Call-Limit: 32/40): it holds BucketFill requests,
	// the one answered included, of the BucketSize it can hold, and it
	// leaks at a rate the server does not state. A request that finds it
	// full is refused. BucketSize is 0 when none is stated; otherwise
	// 0 <= BucketFill <= BucketSize.
	BucketFill, BucketSize int

	// Bucket names the bucket that the remaining count and its reset
	// apply to, when the server keeps one per route rather than one per
	// host (Discord's X-RateLimit-Bucket, an opaque id that the routes
	// sharing a bucket all name); "" when none is named. Global reports a
	// refusal of the limit on all of the client's requests instead
	// (Discord's X-RateLimit-Global: true, or X-RateLimit-Scope: global),
	// which its Retry-After is about.
	Bucket string
	Global bool

	// Throttled reports whether the response refused its request because
	// of a rate limit: a 429 (Too Many Requests), a 529 (StatusOverloaded) or a 503 (Service
	// Unavailable), or a 403 (Forbidden) with a usable Retry-After or a
	// remaining count of 0, as GitHub sends for its rate limits. A 403
	// with neither is a plain refusal, not throttling.
	Throttled bool
}

// retryAfter applies a usable Retry-After instant, which takes precedence
// over every other field: the reset of a remaining count stated beside it
// is ignored, as the IETF draft says, so that the count runs out at the
// same instant as the pause instead of holding the host past it.
func (s *Signal) retryAfter(until time.Time) {
	s.Until = until
	if s.HasRemaining {
		s.ResetAt = until
	}
}

// observe records a remaining count, its reset (zero if unknown) and the
// limit it counts down from (0 if unknown), keeping the most restrictive:
// the lowest count, then the latest reset.
func (s *Signal) observe(remaining int, reset time.Time, limit int) {
	if s.HasRemaining && (remaining > s.Remaining ||
		remaining == s.Remaining && !reset.After(s.ResetAt)) {
		return
	}
	s.HasRemaining, s.Remaining, s.ResetAt, s.Limit = true, remaining, reset, limit
}

// quotaOf is the quota of the stated policy called name, or 0.
func (s *Signal) quotaOf(name string) int {
	for _, p := range s.Policies[:s.NPolicies] {
		if p.Name == name {
			return p.Quota
		}
	}
	return 0
}

// addPolicy appends p unless it is invalid, a duplicate, or there is no room.
func (s *Signal) addPolicy(p Policy) {
	if p.Quota <= 0 || p.Window <= 0 || s.NPolicies >= MaxPolicies {
		return
	}
	for _, q := range s.Policies[:s.NPolicies] {
		if q == p {
			return
		}
	}
	s.Policies[s.NPolicies] = p
	s.NPolicies++
}

// after returns now+d, with d clamped to [0, MaxDelay].
func after(now time.Time, d time.Duration) time.Time {
	return now.Add(min(max(d, 0), MaxDelay))
}

// clampTime returns t moved into [now, now+MaxDelay], in now's location.
func clampTime(t, now time.Time) time.Time {
	if t.Before(now) {
		return now
	}
	if limit := now.Add(MaxDelay); t.After(limit) {
		return limit
	}
	return t.In(now.Location())
}
