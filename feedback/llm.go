package feedback

import (
	"net/http"
	"time"
)

// Names of the budgets ParseBudgets reports. The metered APIs state
// budgets over several units at once; these are their names, shared by
// every dialect, so that a client charges a request's cost under one name
// whichever API it calls.
const (
	// BudgetRequests counts requests (OpenAI's and Anthropic's
	// "requests", Cerebras's "requests-minute" and "-day").
	BudgetRequests = "requests"
	// BudgetTokens counts tokens, input and output together (OpenAI's
	// "tokens"; Anthropic's "tokens" is the most restrictive of its two
	// token budgets).
	BudgetTokens = "tokens"
	// BudgetInputTokens and BudgetOutputTokens are Anthropic's separate
	// budgets of prompt and completion tokens.
	BudgetInputTokens  = "input-tokens"
	BudgetOutputTokens = "output-tokens"
	// BudgetContentBytes counts the bytes of request content
	// (RateLimit-Policy with qu="content-bytes").
	BudgetContentBytes = "content-bytes"
	// BudgetConcurrentRequests is a limit on requests in flight at once
	// (RateLimit-Policy with qu="concurrent-requests"): a Budget of this
	// name has a Limit and nothing else that matters.
	BudgetConcurrentRequests = "concurrent-requests"
)

// MaxBudgets is the number of budgets a Budgets can hold; further ones in
// a response are ignored.
const MaxBudgets = 8

// Budget is one budget a server states: at most Limit units before
// ResetAt, of which Remaining are left.
//
// Limit is positive in every Budget that ParseBudgets reports; Remaining
// is set only when HasRemaining is, and is never negative. ResetAt is the
// zero time when no reset was stated; otherwise it lies in [now,
// now+MaxDelay]. Window is the budget's period when the server states it
// (RateLimit-Policy's w, or a name such as "tokens-minute"); 0 when it is
// only implied, as OpenAI and Anthropic state per-minute budgets without
// saying so. The zero Budget states nothing.
type Budget struct {
	Name         string
	Limit        int
	HasRemaining bool
	Remaining    int
	ResetAt      time.Time
	Window       time.Duration
}

// Budgets holds the budgets one response states, in a fixed array so that
// parsing does not allocate: List[:N] are set.
type Budgets struct {
	List [MaxBudgets]Budget
	N    int
}

// Get returns the first budget named name, and whether there is one.
func (b *Budgets) Get(name string) (Budget, bool) {
	for _, x := range b.List[:b.N] {
		if x.Name == name {
			return x, true
		}
	}
	return Budget{}, false
}

// add appends x if it has a limit and there is room.
func (b *Budgets) add(x Budget) {
	if x.Limit <= 0 || b.N >= MaxBudgets {
		return
	}
	b.List[b.N] = x
	b.N++
}

// ParseBudgets reads the budgets the metered APIs state in a response's
// header h, received at now:
//
//   - OpenAI's x-ratelimit-{limit,remaining,reset}-{requests,tokens}
//     (also sent by Groq, Azure OpenAI and others), with resets as Go
//     durations ("6m0s", "1.5s", "12ms"), and the same fields with a
//     period suffix (x-ratelimit-limit-tokens-minute, Cerebras), whose
//     resets are seconds;
//   - Anthropic's anthropic-ratelimit-{requests,tokens,input-tokens,
//     output-tokens}-{limit,remaining,reset}, with resets as RFC 3339
//     times;
//   - IETF RateLimit-Policy policies whose unit is not requests
//     (qu="content-bytes", qu="concurrent-requests"), with the remaining
//     count and reset of the RateLimit item of the same name. Policies
//     counted in requests are Parse's (Signal.Policies).
//
// A reset may be a Go duration, an RFC 3339 time, seconds ("30", "1.5")
// or a Unix time; a value that is none of these, and a negative count
// (Azure's -1), is ignored, and a budget without a usable limit is not
// reported. Like Parse it never panics, never reads the clock, and does
// not allocate for durations and numbers (an RFC 3339 time is parsed by
// the time package). h is indexed by canonical key, as in Parse.
func ParseBudgets(h http.Header, now time.Time) Budgets {
	var b Budgets
	if !mayStateBudgets(h) {
		return b
	}
	for _, f := range openAIFields {
		parseBudgetFields(h, f, now, &b)
	}
	for _, f := range anthropicFields {
		parseBudgetFields(h, f, now, &b)
	}
	parseIETFBudgets(h, now, &b)
	return b
}

// mayStateBudgets reports whether h has a field ParseBudgets reads: one
// pass over the keys of a typical response costs less than looking up
// each field the dialects define.
func mayStateBudgets(h http.Header) bool {
	for k := range h {
		if hasPrefix(k, "X-Ratelimit-Limit-") || hasPrefix(k, "Anthropic-Ratelimit-") || k == keyRateLimitPolicy {
			return true
		}
	}
	return false
}

func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

// budgetFields names the three fields of one budget in one dialect.
type budgetFields struct {
	name                    string
	window                  time.Duration
	limit, remaining, reset string
}

// openAIFields are OpenAI's fields, then Cerebras's with a period suffix.
var openAIFields = [...]budgetFields{
	openAI(BudgetRequests, "Requests", "", 0),
	openAI(BudgetTokens, "Tokens", "", 0),
	openAI(BudgetRequests, "Requests", "-Minute", time.Minute),
	openAI(BudgetTokens, "Tokens", "-Minute", time.Minute),
	openAI(BudgetRequests, "Requests", "-Hour", time.Hour),
	openAI(BudgetTokens, "Tokens", "-Hour", time.Hour),
	openAI(BudgetRequests, "Requests", "-Day", 24*time.Hour),
	openAI(BudgetTokens, "Tokens", "-Day", 24*time.Hour),
}

func openAI(name, unit, suffix string, window time.Duration) budgetFields {
	return budgetFields{
		name: name, window: window,
		limit:     "X-Ratelimit-Limit-" + unit + suffix,
		remaining: "X-Ratelimit-Remaining-" + unit + suffix,
		reset:     "X-Ratelimit-Reset-" + unit + suffix,
	}
}

// anthropicFields are Anthropic's fields.
var anthropicFields = [...]budgetFields{
	anthropic(BudgetRequests, "Requests"),
	anthropic(BudgetTokens, "Tokens"),
	anthropic(BudgetInputTokens, "Input-Tokens"),
	anthropic(BudgetOutputTokens, "Output-Tokens"),
}

func anthropic(name, unit string) budgetFields {
	p := "Anthropic-Ratelimit-" + unit
	return budgetFields{name: name, limit: p + "-Limit", remaining: p + "-Remaining", reset: p + "-Reset"}
}

// parseBudgetFields adds the budget f describes, if h states its limit.
func parseBudgetFields(h http.Header, f budgetFields, now time.Time, b *Budgets) {
	lv := h[f.limit]
	if len(lv) == 0 {
		return
	}
	limit, ok := parseCount(trimOWS(lv[0]))
	if !ok {
		return
	}
	x := Budget{Name: f.name, Limit: limit, Window: f.window}
	if rv := h[f.remaining]; len(rv) > 0 {
		x.Remaining, x.HasRemaining = parseCount(trimOWS(rv[0]))
	}
	if tv := h[f.reset]; len(tv) > 0 {
		x.ResetAt, _ = parseReset(tv[0], now)
	}
	b.add(x)
}

// parseReset reads a reset in any of the forms the metered APIs send: an
// RFC 3339 time (Anthropic), a Go duration such as "6m0s" or "12ms"
// (OpenAI), seconds ("30", "1.5") or, above epochThreshold, a Unix time.
// The instant is within [now, now+MaxDelay].
func parseReset(v string, now time.Time) (time.Time, bool) {
	v = trimOWS(v)
	switch {
	case v == "":
		return time.Time{}, false
	case len(v) > 10 && v[4] == '-' && (v[10] == 'T' || v[10] == 't'):
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, false
		}
		return clampTime(t, now), true
	}
	if sec, nsec, ok := parseSeconds(v); ok {
		if sec > epochThreshold {
			return clampTime(time.Unix(sec, nsec), now), true
		}
		return after(now, toDelay(sec, nsec)), true
	}
	d, ok := parseGoDuration(v)
	if !ok {
		return time.Time{}, false
	}
	return after(now, d), true
}

// parseGoDuration parses what time.Duration.String writes ("6m0s",
// "1.5s", "12ms", "1h2m3.5s", "2µs"), without a sign, clamped to MaxDelay.
// Unlike time.ParseDuration it does not allocate when it fails.
func parseGoDuration(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	var total time.Duration
	for s != "" {
		sec, nsec, rest, ok := leadingNumber(s)
		if !ok {
			return 0, false
		}
		unit, rest, ok := leadingUnit(rest)
		if !ok {
			return 0, false
		}
		total = addDelay(total, scaleDelay(sec, nsec, unit))
		s = rest
	}
	return total, true
}

// leadingNumber reads digits, then optionally '.' and digits, at the start
// of s: the integer part (saturating at secCap) and the fraction in units
// of 1e-9.
func leadingNumber(s string) (whole, frac int64, rest string, ok bool) {
	i := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		if whole < secCap {
			whole = whole*10 + int64(s[i]-'0')
		}
	}
	digits := i
	if i < len(s) && s[i] == '.' {
		scale := int64(1e8)
		for i++; i < len(s) && isDigit(s[i]); i++ {
			frac += int64(s[i]-'0') * scale
			scale /= 10
			digits++
		}
	}
	return min(whole, secCap), frac, s[i:], digits > 0
}

// leadingUnit reads a Go duration unit at the start of s.
func leadingUnit(s string) (time.Duration, string, bool) {
	for _, u := range durationUnits {
		if len(s) >= len(u.name) && s[:len(u.name)] == u.name {
			return u.d, s[len(u.name):], true
		}
	}
	return 0, s, false
}

// durationUnits are time.ParseDuration's units, the two-letter ones before
// the one-letter ones that begin them.
var durationUnits = [...]struct {
	name string
	d    time.Duration
}{
	{"ns", time.Nanosecond}, {"us", time.Microsecond}, {"µs", time.Microsecond},
	{"μs", time.Microsecond}, {"ms", time.Millisecond},
	{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour},
}

// scaleDelay is (whole + frac/1e9) units, clamped to MaxDelay.
func scaleDelay(whole, frac int64, unit time.Duration) time.Duration {
	if whole >= int64(MaxDelay/unit) {
		return MaxDelay
	}
	d := time.Duration(whole) * unit
	// frac < 1e9 and unit <= 1h: split the product so it cannot overflow.
	d += time.Duration(frac) * (unit / time.Microsecond) / 1e6
	d += time.Duration(frac) * (unit % time.Microsecond) / 1e9
	return min(d, MaxDelay)
}

// addDelay is a+b clamped to MaxDelay; both are in [0, MaxDelay].
func addDelay(a, b time.Duration) time.Duration {
	return min(a+b, MaxDelay) // 2*MaxDelay does not overflow
}

// parseIETFBudgets adds the RateLimit-Policy policies counted in a unit
// other than requests, each with the remaining count and reset of the
// RateLimit item of the same name.
func parseIETFBudgets(h http.Header, now time.Time, b *Budgets) {
	for _, v := range h[keyRateLimitPolicy] {
		for v != "" {
			var member string
			member, v = nextMember(v)
			p, unit := parsePolicyUnit(member)
			if unit == BudgetContentBytes || unit == BudgetConcurrentRequests {
				x := Budget{Name: unit, Limit: p.Quota, Window: p.Window}
				if p.Name != "" {
					x.HasRemaining, x.Remaining, x.ResetAt = ietfState(h[keyRateLimit], p.Name, now)
				}
				b.add(x)
			}
		}
	}
}

// ietfState returns the remaining count and reset of the RateLimit item
// named name.
func ietfState(values []string, name string, now time.Time) (bool, int, time.Time) {
	for _, v := range values {
		for v != "" {
			var member string
			member, v = nextMember(v)
			item, params := splitMember(member)
			if item == "" || item[0] != '"' || unquote(item) != name {
				continue
			}
			var q quotaState
			for params != "" {
				var key, value string
				key, value, params = nextParam(params)
				q.set(key, value, now)
			}
			return q.hasRemaining, q.remaining, q.reset
		}
	}
	return false, 0, time.Time{}
}
