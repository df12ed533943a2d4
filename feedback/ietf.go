package feedback

import (
	"strings"
	"time"
)

// Canonical keys of the IETF fields (net/http canonicalizes "RateLimit" to
// "Ratelimit"); the header map is indexed directly so that no key is
// canonicalized, and nothing allocated, per call.
const (
	keyRateLimit          = "Ratelimit"
	keyRateLimitPolicy    = "Ratelimit-Policy"
	keyRateLimitLimit     = "Ratelimit-Limit"
	keyRateLimitRemaining = "Ratelimit-Remaining"
	keyRateLimitReset     = "Ratelimit-Reset"
)

// quotaState is one statement of a remaining count and its reset.
type quotaState struct {
	hasRemaining bool
	remaining    int
	reset        time.Time // zero: unknown
	limit        int       // 0: unknown
}

// set reads one key of a RateLimit item (r, t) or dictionary (remaining,
// reset, limit); other keys and malformed values are ignored.
func (q *quotaState) set(key, value string, now time.Time) {
	switch {
	case isKey(key, "r") || isKey(key, "remaining"):
		if n, ok := parseCount(value); ok {
			q.hasRemaining, q.remaining = true, n
		}
	case isKey(key, "t") || isKey(key, "reset"):
		if d, ok := parseDelay(value); ok {
			q.reset = after(now, d)
		}
	case isKey(key, "limit"):
		q.limit, _ = parseCount(value)
	}
}

// report passes the statement to s if it includes a remaining count.
func (q *quotaState) report(s *Signal) {
	if q.hasRemaining {
		s.observe(q.remaining, q.reset, q.limit)
	}
}

// parseIETF reads every form of draft-ietf-httpapi-ratelimit-headers.
func parseIETF(h map[string][]string, now time.Time, s *Signal) {
	var other otherUnits
	other.collect(h[keyRateLimitPolicy])
	// The policies first, so that a RateLimit item finds the quota of the
	// policy it names.
	for _, v := range h[keyRateLimitPolicy] {
		parsePolicies(v, s)
	}
	for _, v := range h[keyRateLimitLimit] {
		parsePolicies(v, s) // -06: "100, 100;w=60"; only members with w count
	}
	parseRateLimit(h[keyRateLimit], now, &other, s)
	parseSeparate(h, now, s)
}

// otherUnits are the names of the policies a RateLimit-Policy field counts
// in a unit other than requests (qu="content-bytes", say): their items in
// the RateLimit field are budgets (see ParseBudgets), not remaining
// request counts. Substrings of the field, so that collecting them does
// not allocate.
type otherUnits struct {
	names [MaxPolicies]string
	n     int
}

func (o *otherUnits) collect(values []string) {
	for _, v := range values {
		for v != "" && o.n < len(o.names) {
			var member string
			member, v = nextMember(v)
			if p, unit := parsePolicyUnit(member); p.Name != "" && !requestUnit(unit) {
				o.names[o.n] = p.Name
				o.n++
			}
		}
	}
}

// has reports whether item, a RateLimit list item, names such a policy.
func (o *otherUnits) has(item string) bool {
	if o.n == 0 || item == "" || item[0] != '"' {
		return false
	}
	name := unquote(item)
	for _, x := range o.names[:o.n] {
		if x == name {
			return true
		}
	}
	return false
}

// requestUnit reports whether a policy's qu counts requests: absent, or
// "requests".
func requestUnit(unit string) bool { return unit == "" || unit == BudgetRequests }

// parseRateLimit reads the RateLimit field in its -08 to -10 list form
// (`"default";r=0;t=30, ...`, each item reported on its own so that the
// most restrictive wins) and its -07 dictionary form (`limit=100,
// remaining=50, reset=5`, one statement for the whole field). Items of the
// policies in other units are skipped.
func parseRateLimit(values []string, now time.Time, other *otherUnits, s *Signal) {
	var dict quotaState
	for _, v := range values {
		for v != "" {
			var member string
			member, v = nextMember(v)
			item, params := splitMember(member)
			if key, value, ok := dictMember(item); ok {
				dict.set(key, value, now)
				continue
			}
			if other.has(item) {
				continue
			}
			q := quotaState{limit: s.quotaOf(unquote(item))}
			for params != "" {
				var key, value string
				key, value, params = nextParam(params)
				q.set(key, value, now)
			}
			q.report(s)
		}
	}
	dict.report(s)
}

// dictMember splits a dictionary member "key=value"; a list item (a
// string, token or number) is not one.
func dictMember(item string) (key, value string, ok bool) {
	if item == "" || item[0] == '"' {
		return "", "", false
	}
	key, value, ok = strings.Cut(item, "=")
	return trimOWS(key), trimOWS(value), ok
}

// parsePolicies adds each policy of a RateLimit-Policy (or -06
// RateLimit-Limit) field value to s, but those counted in a unit other
// than requests, which are budgets (see ParseBudgets).
func parsePolicies(list string, s *Signal) {
	for list != "" && s.NPolicies < MaxPolicies {
		var member string
		member, list = nextMember(list)
		if p, unit := parsePolicyUnit(member); requestUnit(unit) {
			s.addPolicy(p)
		}
	}
}

// parsePolicyUnit reads one policy: `"name";q=100;w=60` (-08 to -10, with
// pk ignored) or `100;w=60` (older drafts, the quota as the item), and the
// unit its qu names ("" when absent). The result may be invalid (no quota
// or no window); addPolicy drops it.
func parsePolicyUnit(member string) (p Policy, unit string) {
	item, params := splitMember(member)
	if n, ok := parseCount(item); ok {
		p.Quota = n
	} else {
		p.Name = unquote(item)
	}
	for params != "" {
		var key, value string
		key, value, params = nextParam(params)
		switch {
		case isKey(key, "q"):
			p.Quota, _ = parseCount(value)
		case isKey(key, "w"):
			p.Window, _ = parseDelay(value)
		case isKey(key, "qu"):
			unit = unquote(value)
		}
	}
	return p, unit
}

// parseSeparate reads the -06 RateLimit-Remaining and RateLimit-Reset
// fields (reset in delta seconds), with the limit RateLimit-Limit states
// first ("100, 100;w=60").
func parseSeparate(h map[string][]string, now time.Time, s *Signal) {
	var q quotaState
	q.limit, _ = parseCount(firstItem(h[keyRateLimitLimit]))
	q.set("r", firstItem(h[keyRateLimitRemaining]), now)
	q.set("t", firstItem(h[keyRateLimitReset]), now)
	q.report(s)
}

// firstItem returns the bare item of a field's first member, or "".
func firstItem(values []string) string {
	if len(values) == 0 {
		return ""
	}
	member, _ := nextMember(values[0])
	item, _ := splitMember(member)
	return item
}
