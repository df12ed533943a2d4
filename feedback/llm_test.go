package feedback_test

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-throttle/throttle/feedback"
)

type budgetCase struct {
	name string
	h    http.Header
	want []feedback.Budget
}

func runBudgetCases(t *testing.T, cases []budgetCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := feedback.ParseBudgets(tc.h, now)
			if got.N != len(tc.want) {
				t.Fatalf("got %d budgets %+v, want %d", got.N, got.List[:got.N], len(tc.want))
			}
			for i, w := range tc.want {
				g := got.List[i]
				if !g.ResetAt.Equal(w.ResetAt) {
					t.Errorf("budget %d (%s): ResetAt = %v, want %v", i, w.Name, g.ResetAt, w.ResetAt)
				}
				g.ResetAt, w.ResetAt = time.Time{}, time.Time{}
				if g != w {
					t.Errorf("budget %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// TestParseBudgetsOpenAI uses the capture of OpenAI's rate-limit guide
// (platform.openai.com/docs/guides/rate-limits, "Rate limits in headers")
// and the forms Groq, Azure OpenAI and Cerebras send.
func TestParseBudgetsOpenAI(t *testing.T) {
	runBudgetCases(t, []budgetCase{
		{"openai-docs", hdr(
			"x-ratelimit-limit-requests", "60",
			"x-ratelimit-limit-tokens", "150000",
			"x-ratelimit-remaining-requests", "59",
			"x-ratelimit-remaining-tokens", "149984",
			"x-ratelimit-reset-requests", "1s",
			"x-ratelimit-reset-tokens", "6m0s"), []feedback.Budget{
			{Name: "requests", Limit: 60, HasRemaining: true, Remaining: 59, ResetAt: in(time.Second)},
			{Name: "tokens", Limit: 150000, HasRemaining: true, Remaining: 149984, ResetAt: in(6 * time.Minute)},
		}},
		{"sub-second-resets", hdr(
			"x-ratelimit-limit-requests", "10000",
			"x-ratelimit-remaining-requests", "9999",
			"x-ratelimit-reset-requests", "6ms",
			"x-ratelimit-limit-tokens", "30000000",
			"x-ratelimit-remaining-tokens", "29999980",
			"x-ratelimit-reset-tokens", "0s"), []feedback.Budget{
			{Name: "requests", Limit: 10000, HasRemaining: true, Remaining: 9999, ResetAt: in(6 * time.Millisecond)},
			{Name: "tokens", Limit: 30000000, HasRemaining: true, Remaining: 29999980, ResetAt: now},
		}},
		{"groq-fractional", hdr(
			"x-ratelimit-limit-requests", "14400",
			"x-ratelimit-remaining-requests", "14370",
			"x-ratelimit-reset-requests", "2m59.56s",
			"x-ratelimit-limit-tokens", "18000",
			"x-ratelimit-remaining-tokens", "17997",
			"x-ratelimit-reset-tokens", "7.66s"), []feedback.Budget{
			{Name: "requests", Limit: 14400, HasRemaining: true, Remaining: 14370, ResetAt: in(2*time.Minute + 59560*time.Millisecond)},
			{Name: "tokens", Limit: 18000, HasRemaining: true, Remaining: 17997, ResetAt: in(7660 * time.Millisecond)},
		}},
		{"hours-and-micros", hdr(
			"x-ratelimit-limit-tokens", "1000", "x-ratelimit-reset-tokens", "1h2m3.5s",
			"x-ratelimit-limit-requests", "5", "x-ratelimit-reset-requests", "250µs"), []feedback.Budget{
			{Name: "requests", Limit: 5, ResetAt: in(250 * time.Microsecond)},
			{Name: "tokens", Limit: 1000, ResetAt: in(time.Hour + 2*time.Minute + 3500*time.Millisecond)},
		}},
		{"azure-minus-one-ignored", hdr(
			"x-ratelimit-limit-tokens", "-1",
			"x-ratelimit-remaining-tokens", "-1",
			"x-ratelimit-limit-requests", "100",
			"x-ratelimit-remaining-requests", "-1"), []feedback.Budget{
			{Name: "requests", Limit: 100},
		}},
		{"bad-reset-ignored", hdr(
			"x-ratelimit-limit-tokens", "100", "x-ratelimit-remaining-tokens", "7",
			"x-ratelimit-reset-tokens", "soon"), []feedback.Budget{
			{Name: "tokens", Limit: 100, HasRemaining: true, Remaining: 7},
		}},
		{"no-limit-no-budget", hdr("x-ratelimit-remaining-tokens", "7", "x-ratelimit-reset-tokens", "1s"), nil},
		{"cerebras-periods", hdr(
			"x-ratelimit-limit-requests-day", "14400",
			"x-ratelimit-remaining-requests-day", "14399",
			"x-ratelimit-reset-requests-day", "33011.38",
			"x-ratelimit-limit-tokens-minute", "60000",
			"x-ratelimit-remaining-tokens-minute", "59000",
			"x-ratelimit-reset-tokens-minute", "11.38"), []feedback.Budget{
			{Name: "tokens", Limit: 60000, HasRemaining: true, Remaining: 59000, ResetAt: in(11380 * time.Millisecond), Window: time.Minute},
			{Name: "requests", Limit: 14400, HasRemaining: true, Remaining: 14399, ResetAt: in(33011380 * time.Millisecond), Window: 24 * time.Hour},
		}},
		{"epoch-reset", hdr("x-ratelimit-limit-tokens", "10", "x-ratelimit-reset-tokens", epoch(time.Hour)), []feedback.Budget{
			{Name: "tokens", Limit: 10, ResetAt: in(time.Hour)},
		}},
		{"huge-clamped", hdr("x-ratelimit-limit-tokens", strings.Repeat("9", 40), "x-ratelimit-reset-tokens", strings.Repeat("9", 30)+"h"), []feedback.Budget{
			{Name: "tokens", Limit: math.MaxInt32, ResetAt: farthest},
		}},
	})
}

// TestParseBudgetsAnthropic uses the fields of Anthropic's rate-limit
// guide (docs.anthropic.com, "Response headers"): resets are RFC 3339.
func TestParseBudgetsAnthropic(t *testing.T) {
	reset := now.Add(20 * time.Second)
	runBudgetCases(t, []budgetCase{
		{"anthropic-docs", hdr(
			"anthropic-ratelimit-requests-limit", "50",
			"anthropic-ratelimit-requests-remaining", "49",
			"anthropic-ratelimit-requests-reset", "2025-06-01T12:00:01Z",
			"anthropic-ratelimit-tokens-limit", "20000",
			"anthropic-ratelimit-tokens-remaining", "19000",
			"anthropic-ratelimit-tokens-reset", "2025-06-01T12:00:03Z",
			"anthropic-ratelimit-input-tokens-limit", "40000",
			"anthropic-ratelimit-input-tokens-remaining", "39000",
			"anthropic-ratelimit-input-tokens-reset", "2025-06-01T12:00:02Z",
			"anthropic-ratelimit-output-tokens-limit", "8000",
			"anthropic-ratelimit-output-tokens-remaining", "7000",
			"anthropic-ratelimit-output-tokens-reset", reset.Format(time.RFC3339),
			"retry-after", "20"), []feedback.Budget{
			{Name: "requests", Limit: 50, HasRemaining: true, Remaining: 49, ResetAt: in(time.Second)},
			{Name: "tokens", Limit: 20000, HasRemaining: true, Remaining: 19000, ResetAt: in(3 * time.Second)},
			{Name: "input-tokens", Limit: 40000, HasRemaining: true, Remaining: 39000, ResetAt: in(2 * time.Second)},
			{Name: "output-tokens", Limit: 8000, HasRemaining: true, Remaining: 7000, ResetAt: reset},
		}},
		{"fractional-and-offset", hdr(
			"anthropic-ratelimit-output-tokens-limit", "8000",
			"anthropic-ratelimit-output-tokens-remaining", "0",
			"anthropic-ratelimit-output-tokens-reset", "2025-06-01T14:00:00.250+02:00"), []feedback.Budget{
			{Name: "output-tokens", Limit: 8000, HasRemaining: true, ResetAt: in(250 * time.Millisecond)},
		}},
		{"past-reset-is-now", hdr(
			"anthropic-ratelimit-input-tokens-limit", "100",
			"anthropic-ratelimit-input-tokens-reset", "2020-01-01T00:00:00Z"), []feedback.Budget{
			{Name: "input-tokens", Limit: 100, ResetAt: now},
		}},
		{"malformed-date-ignored", hdr(
			"anthropic-ratelimit-input-tokens-limit", "100",
			"anthropic-ratelimit-input-tokens-reset", "2025-13-01T00:00:00Z"), []feedback.Budget{
			{Name: "input-tokens", Limit: 100},
		}},
	})
}

// TestParseBudgetsIETF covers RateLimit-Policy's qu (draft -09 and -10,
// section "Quota Units").
func TestParseBudgetsIETF(t *testing.T) {
	runBudgetCases(t, []budgetCase{
		{"content-bytes", hdr(
			"RateLimit-Policy", `"peruser";q=100;w=60, "bytes";q=65536;qu="content-bytes";w=10`,
			"RateLimit", `"peruser";r=99;t=60, "bytes";r=1024;t=4`), []feedback.Budget{
			{Name: "content-bytes", Limit: 65536, HasRemaining: true, Remaining: 1024, ResetAt: in(4 * time.Second), Window: 10 * time.Second},
		}},
		{"concurrent-requests", hdr("RateLimit-Policy", `"inflight";q=4;qu="concurrent-requests"`), []feedback.Budget{
			{Name: "concurrent-requests", Limit: 4},
		}},
		{"requests-unit-is-not-a-budget", hdr("RateLimit-Policy", `"r";q=10;qu="requests";w=1`), nil},
		{"unknown-unit-ignored", hdr("RateLimit-Policy", `"x";q=10;qu="widgets";w=1`), nil},
	})
}

// TestParseSkipsOtherUnits: a policy counted in bytes is no request
// policy, and its RateLimit item is no remaining request count.
func TestParseSkipsOtherUnits(t *testing.T) {
	runParseCases(t, []parseCase{
		{"bytes-policy-and-item", hdr(
			"RateLimit-Policy", `"peruser";q=100;w=60, "bytes";q=65536;qu="content-bytes";w=10`,
			"RateLimit", `"peruser";r=99;t=60, "bytes";r=0;t=4`), 200,
			withPolicies(feedback.Signal{HasRemaining: true, Remaining: 99, ResetAt: in(time.Minute), Limit: 100},
				feedback.Policy{Name: "peruser", Quota: 100, Window: time.Minute})},
	})
}

// TestParseLLMRejections: Anthropic's 529, retry-after-ms before
// Retry-After.
func TestParseLLMRejections(t *testing.T) {
	runParseCases(t, []parseCase{
		{"anthropic-529", hdr("Retry-After", "3", "x-should-retry", "true"), 529,
			feedback.Signal{Until: in(3 * time.Second), Throttled: true}},
		{"529-bare", hdr("Content-Type", "application/json"), 529, feedback.Signal{Throttled: true}},
		{"retry-after-ms-first", hdr("Retry-After", "2", "retry-after-ms", "1500"), 429,
			feedback.Signal{Until: in(1500 * time.Millisecond), Throttled: true}},
		{"retry-after-ms-decimal", hdr("retry-after-ms", "20.5"), 429,
			feedback.Signal{Until: in(20500 * time.Microsecond), Throttled: true}},
		{"bad-ms-falls-back", hdr("Retry-After", "2", "retry-after-ms", "-1"), 429,
			feedback.Signal{Until: in(2 * time.Second), Throttled: true}},
		{"ms-ignored-on-200", hdr("retry-after-ms", "1500"), 200, feedback.Signal{}},
	})
}

func TestShouldRetry(t *testing.T) {
	for _, tc := range []struct {
		v             string
		retry, stated bool
	}{{"true", true, true}, {"false", false, true}, {" true ", true, true}, {"maybe", false, false}, {"", false, false}} {
		h := hdr("x-should-retry", tc.v)
		if r, s := feedback.ShouldRetry(h); r != tc.retry || s != tc.stated {
			t.Errorf("ShouldRetry(%q) = %v, %v; want %v, %v", tc.v, r, s, tc.retry, tc.stated)
		}
	}
	if _, s := feedback.ShouldRetry(http.Header{}); s {
		t.Error("ShouldRetry of an empty header states something")
	}
}

// TestParseBudgetsAllocs: the forms of OpenAI, Cerebras and IETF do not
// allocate; nor does a response that states no budget.
func TestParseBudgetsAllocs(t *testing.T) {
	cases := map[string]http.Header{
		"openai": hdr("x-ratelimit-limit-requests", "60", "x-ratelimit-limit-tokens", "150000",
			"x-ratelimit-remaining-requests", "59", "x-ratelimit-remaining-tokens", "149984",
			"x-ratelimit-reset-requests", "1s", "x-ratelimit-reset-tokens", "6m0s"),
		"cerebras": hdr("x-ratelimit-limit-tokens-minute", "60000", "x-ratelimit-reset-tokens-minute", "11.38"),
		"ietf":     hdr("RateLimit-Policy", `"b";q=65536;qu="content-bytes";w=10`, "RateLimit", `"b";r=1024;t=4`),
		"none":     hdr("Content-Type", "text/html"),
		"bad":      hdr("x-ratelimit-limit-tokens", "10", "x-ratelimit-reset-tokens", "6x0s"),
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			var sink feedback.Budgets
			if a := testing.AllocsPerRun(100, func() { sink = feedback.ParseBudgets(h, now) }); a != 0 {
				t.Errorf("ParseBudgets allocates %v times per call, want 0", a)
			}
			_ = sink
		})
	}
}

// FuzzParseBudgets checks ParseBudgets's guarantees for arbitrary values:
// no panic, limits positive, counts not negative, instants in range.
func FuzzParseBudgets(f *testing.F) {
	f.Add("150000", "149984", "6m0s", "2025-06-01T12:00:01Z", `"b";q=10;qu="content-bytes";w=1`, `"b";r=0;t=1`)
	f.Add("-1", "-1", "1h2m3.5s", "2025-06-01T14:00:00.250+02:00", `"c";q=4;qu="concurrent-requests"`, `"c";r=1`)
	f.Fuzz(func(t *testing.T, limit, remaining, reset, date, policy, rateLimit string) {
		h := http.Header{
			"X-Ratelimit-Limit-Tokens":                {limit},
			"X-Ratelimit-Remaining-Tokens":            {remaining},
			"X-Ratelimit-Reset-Tokens":                {reset},
			"X-Ratelimit-Limit-Requests-Minute":       {limit},
			"X-Ratelimit-Reset-Requests-Minute":       {date},
			"Anthropic-Ratelimit-Input-Tokens-Limit":  {limit},
			"Anthropic-Ratelimit-Input-Tokens-Reset":  {date},
			"Anthropic-Ratelimit-Output-Tokens-Limit": {remaining},
			"Anthropic-Ratelimit-Output-Tokens-Reset": {reset},
			"Ratelimit-Policy":                        {policy},
			"Ratelimit":                               {rateLimit},
		}
		b := feedback.ParseBudgets(h, now)
		if b.N < 0 || b.N > feedback.MaxBudgets {
			t.Fatalf("N = %d", b.N)
		}
		for _, x := range b.List[:b.N] {
			if x.Limit <= 0 || x.Remaining < 0 || !x.HasRemaining && x.Remaining != 0 || x.Window < 0 || x.Window > feedback.MaxDelay {
				t.Fatalf("budget %+v", x)
			}
			checkInstant(t, "ResetAt", x.ResetAt)
		}
		s := feedback.Parse(h, 429, now)
		checkInstant(t, "Until", s.Until)
	})
}
