package feedback_test

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-throttle/throttle/feedback"
)

type parseCase struct {
	name   string
	h      http.Header
	status int
	want   feedback.Signal
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertSignal(t, tc.want, feedback.Parse(tc.h, tc.status, now))
		})
	}
}

func TestParseRetryAfterForms(t *testing.T) {
	future := now.Add(time.Hour)
	runParseCases(t, []parseCase{
		{"delta-429", hdr("Retry-After", "120"), 429,
			feedback.Signal{Until: in(120 * time.Second), Throttled: true}},
		{"delta-503", hdr("Retry-After", "5"), 503,
			feedback.Signal{Until: in(5 * time.Second), Throttled: true}},
		{"shopify-decimal", hdr("Retry-After", "2.0"), 429,
			feedback.Signal{Until: in(2 * time.Second), Throttled: true}},
		{"half-second", hdr("Retry-After", "0.5"), 429,
			feedback.Signal{Until: in(500 * time.Millisecond), Throttled: true}},
		{"zero", hdr("Retry-After", "0"), 429,
			feedback.Signal{Until: now, Throttled: true}},
		{"http-date-future", hdr("Retry-After", future.Format(http.TimeFormat)), 503,
			feedback.Signal{Until: future, Throttled: true}},
		{"http-date-past", hdr("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"), 503,
			feedback.Signal{Until: now, Throttled: true}},
		{"rfc850-date", hdr("Retry-After", future.Format(time.RFC850)), 429,
			feedback.Signal{Until: future, Throttled: true}},
		{"ansic-date", hdr("Retry-After", future.Format(time.ANSIC)), 429,
			feedback.Signal{Until: future, Throttled: true}},
		{"ignored-on-200", hdr("Retry-After", "120"), 200, feedback.Signal{}},
		{"ignored-on-301", hdr("Retry-After", "120"), 301, feedback.Signal{}},
		{"negative", hdr("Retry-After", "-5"), 429, feedback.Signal{Throttled: true}},
		{"garbage", hdr("Retry-After", "soon"), 429, feedback.Signal{Throttled: true}},
		{"exponent", hdr("Retry-After", "1e400"), 429, feedback.Signal{Throttled: true}},
		{"inf", hdr("Retry-After", "inf"), 429, feedback.Signal{Throttled: true}},
		{"nan", hdr("Retry-After", "NaN"), 429, feedback.Signal{Throttled: true}},
		{"400-digits-clamped", hdr("Retry-After", strings.Repeat("9", 400)), 429,
			feedback.Signal{Until: farthest, Throttled: true}},
		{"year-9999-clamped", hdr("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"), 429,
			feedback.Signal{Until: farthest, Throttled: true}},
		// Issue 7: GitHub's secondary rate limits answer 403 with Retry-After.
		{"github-secondary-403", hdr("Retry-After", "60"), 403,
			feedback.Signal{Until: in(time.Minute), Throttled: true}},
		{"403-bad-retry-after", hdr("Retry-After", "soon"), 403, feedback.Signal{}},
		{"plain-403", hdr("Content-Type", "text/plain"), 403, feedback.Signal{}},
		{"403-with-remaining-left", hdr("X-RateLimit-Remaining", "12", "X-RateLimit-Reset", "60"), 403,
			feedback.Signal{HasRemaining: true, Remaining: 12, ResetAt: in(time.Minute)}},
		{"403-remaining-0-without-reset", hdr("X-RateLimit-Remaining", "0"), 403,
			feedback.Signal{HasRemaining: true, Throttled: true}},
		{"429-without-fields", hdr("Content-Type", "text/plain"), 429,
			feedback.Signal{Throttled: true}},
	})
}

func TestParseIETFList(t *testing.T) {
	runParseCases(t, []parseCase{
		{"r0-pauses", hdr("RateLimit", `"default";r=0;t=30`), 200,
			feedback.Signal{Until: in(30 * time.Second), HasRemaining: true, ResetAt: in(30 * time.Second)}},
		{"cloudflare-style-remaining", hdr("RateLimit", `"default";r=50;t=30`), 200,
			feedback.Signal{HasRemaining: true, Remaining: 50, ResetAt: in(30 * time.Second)}},
		{"token-name", hdr("RateLimit", `default;r=7;t=1`), 200,
			feedback.Signal{HasRemaining: true, Remaining: 7, ResetAt: in(time.Second)}},
		{"whitespace", hdr("RateLimit", ` "default" ; r=0 ;	t=30 `), 200,
			feedback.Signal{Until: in(30 * time.Second), HasRemaining: true, ResetAt: in(30 * time.Second)}},
		{"pk-param-ignored", hdr("RateLimit", `"peruser";r=0;t=10;pk=:cHJvY2VzcyBvbmU=:`), 200,
			feedback.Signal{Until: in(10 * time.Second), HasRemaining: true, ResetAt: in(10 * time.Second)}},
		{"lowest-remaining-wins", hdr("RateLimit", `"burst";r=5;t=10, "daily";r=0;t=3600`), 200,
			feedback.Signal{Until: in(time.Hour), HasRemaining: true, ResetAt: in(time.Hour)}},
		{"longest-pause-wins", hdr("RateLimit", `"a";r=0;t=60, "b";r=0;t=10`), 200,
			feedback.Signal{Until: in(time.Minute), HasRemaining: true, ResetAt: in(time.Minute)}},
		{"tie-latest-reset", hdr("RateLimit", `"a";r=3;t=10, "b";r=3;t=60`), 200,
			feedback.Signal{HasRemaining: true, Remaining: 3, ResetAt: in(time.Minute)}},
		{"two-field-lines", hdr("RateLimit", `"a";r=9;t=1`, "RateLimit", `"b";r=2;t=5`), 200,
			feedback.Signal{HasRemaining: true, Remaining: 2, ResetAt: in(5 * time.Second)}},
		{"comma-in-quoted-name", hdr("RateLimit", `"a,b;c";r=0;t=5`), 200,
			feedback.Signal{Until: in(5 * time.Second), HasRemaining: true, ResetAt: in(5 * time.Second)}},
		{"bad-sibling-ignored", hdr("RateLimit", `"bad";r=x;t=5, "good";r=1;t=7`), 200,
			feedback.Signal{HasRemaining: true, Remaining: 1, ResetAt: in(7 * time.Second)}},
		{"r-without-t", hdr("RateLimit", `"default";r=0`), 200,
			feedback.Signal{HasRemaining: true}},
		{"t-without-r-ignored", hdr("RateLimit", `"default";t=30`), 200, feedback.Signal{}},
		{"decimal-t", hdr("RateLimit", `"d";r=0;t=1.5`), 200,
			feedback.Signal{Until: in(1500 * time.Millisecond), HasRemaining: true, ResetAt: in(1500 * time.Millisecond)}},
		{"bad-t-keeps-r", hdr("RateLimit", `"d";r=0;t=1e400`), 200,
			feedback.Signal{HasRemaining: true}},
		{"negative-r", hdr("RateLimit", `"d";r=-1;t=5`), 200, feedback.Signal{}},
		{"huge-r-clamped", hdr("RateLimit", `"d";r=`+strings.Repeat("9", 400)+`;t=5`), 200,
			feedback.Signal{HasRemaining: true, Remaining: math.MaxInt32, ResetAt: in(5 * time.Second)}},
		{"huge-t-clamped", hdr("RateLimit", `"d";r=0;t=`+strings.Repeat("9", 400)), 200,
			feedback.Signal{Until: farthest, HasRemaining: true, ResetAt: farthest}},
		{"inner-list-name-tolerated", hdr("RateLimit", `("a" "b");r=0;t=1`), 200,
			feedback.Signal{Until: in(time.Second), HasRemaining: true, ResetAt: in(time.Second)}},
		{"unterminated-string", hdr("RateLimit", `"d;r=0;t=5`), 200, feedback.Signal{}},
	})
}

func TestParsePolicy(t *testing.T) {
	burst := feedback.Policy{Name: "burst", Quota: 100, Window: time.Minute}
	daily := feedback.Policy{Name: "daily", Quota: 1000, Window: 24 * time.Hour}
	runParseCases(t, []parseCase{
		{"ietf-two", hdr("RateLimit-Policy", `"burst";q=100;w=60, "daily";q=1000;w=86400`), 200,
			withPolicies(feedback.Signal{}, burst, daily)},
		{"qu-and-pk-ignored", hdr("RateLimit-Policy", `"burst";q=100;qu="requests";w=60;pk=:cHsdsRa894==:`), 200,
			withPolicies(feedback.Signal{}, burst)},
		{"token-name", hdr("RateLimit-Policy", `burst;q=100;w=60`), 200,
			withPolicies(feedback.Signal{}, burst)},
		{"escaped-name", hdr("RateLimit-Policy", `"a\"b";q=1;w=1`), 200,
			withPolicies(feedback.Signal{}, feedback.Policy{Name: `a"b`, Quota: 1, Window: time.Second})},
		{"old-integer-form", hdr("RateLimit-Policy", `100;w=60`), 200,
			withPolicies(feedback.Signal{}, feedback.Policy{Quota: 100, Window: time.Minute})},
		{"duplicates-removed", hdr("RateLimit-Policy", `"burst";q=100;w=60`, "RateLimit-Policy", `"burst";q=100;w=60`), 200,
			withPolicies(feedback.Signal{}, burst)},
		{"invalid-dropped-siblings-kept", hdr("RateLimit-Policy", `"a";q=100, "b";q=0;w=5, "c";q=-1;w=5, "d";q=5;w=0, "e";q=x;w=1, "burst";q=100;w=60`), 200,
			withPolicies(feedback.Signal{}, burst)},
		{"at-most-four", hdr("RateLimit-Policy", `"a";q=1;w=1, "b";q=2;w=1, "c";q=3;w=1, "d";q=4;w=1, "e";q=5;w=1`), 200,
			withPolicies(feedback.Signal{},
				feedback.Policy{Name: "a", Quota: 1, Window: time.Second}, feedback.Policy{Name: "b", Quota: 2, Window: time.Second},
				feedback.Policy{Name: "c", Quota: 3, Window: time.Second}, feedback.Policy{Name: "d", Quota: 4, Window: time.Second})},
		{"with-ratelimit", hdr("RateLimit-Policy", `"burst";q=100;w=60`, "RateLimit", `"burst";r=0;t=12`), 429,
			withPolicies(feedback.Signal{Until: in(12 * time.Second), HasRemaining: true, ResetAt: in(12 * time.Second), Limit: 100, Throttled: true}, burst)},
		{"huge-window-clamped", hdr("RateLimit-Policy", `"x";q=1;w=`+strings.Repeat("9", 50)), 200,
			withPolicies(feedback.Signal{}, feedback.Policy{Name: "x", Quota: 1, Window: feedback.MaxDelay})},
	})
}

func TestParseDraft06And07(t *testing.T) {
	runParseCases(t, []parseCase{
		{"06-separate", hdr("RateLimit-Limit", "100", "RateLimit-Remaining", "0", "RateLimit-Reset", "5"), 200,
			feedback.Signal{Until: in(5 * time.Second), HasRemaining: true, ResetAt: in(5 * time.Second), Limit: 100}},
		{"06-remaining-only", hdr("RateLimit-Remaining", "42"), 200,
			feedback.Signal{HasRemaining: true, Remaining: 42}},
		{"06-limit-with-policy", hdr("RateLimit-Limit", "100, 100;w=60", "RateLimit-Remaining", "99", "RateLimit-Reset", "50"), 200,
			withPolicies(feedback.Signal{HasRemaining: true, Remaining: 99, ResetAt: in(50 * time.Second), Limit: 100},
				feedback.Policy{Quota: 100, Window: time.Minute})},
		{"06-draft-example", hdr("RateLimit-Limit", `10, 10;w=1, 50;w=60;comment="fifty"`), 200,
			withPolicies(feedback.Signal{},
				feedback.Policy{Quota: 10, Window: time.Second}, feedback.Policy{Quota: 50, Window: time.Minute})},
		{"06-bad-reset", hdr("RateLimit-Remaining", "0", "RateLimit-Reset", "-5"), 200,
			feedback.Signal{HasRemaining: true}},
		{"07-dictionary", hdr("RateLimit", "limit=100, remaining=50, reset=5"), 200,
			feedback.Signal{HasRemaining: true, Remaining: 50, ResetAt: in(5 * time.Second), Limit: 100}},
		{"07-exhausted", hdr("RateLimit", "limit=100, remaining=0, reset=5"), 200,
			feedback.Signal{Until: in(5 * time.Second), HasRemaining: true, ResetAt: in(5 * time.Second), Limit: 100}},
		{"07-spaces", hdr("RateLimit", "limit = 10 ,remaining= 3,reset =9"), 200,
			feedback.Signal{HasRemaining: true, Remaining: 3, ResetAt: in(9 * time.Second), Limit: 10}},
		{"07-limit-only", hdr("RateLimit", "limit=100"), 200, feedback.Signal{}},
	})
}

func TestParseLegacy(t *testing.T) {
	runParseCases(t, []parseCase{
		{"github-exhausted", hdr("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "0", "X-RateLimit-Used", "60",
			"X-RateLimit-Reset", epoch(time.Hour), "X-RateLimit-Resource", "core"), 403,
			feedback.Signal{Until: in(time.Hour), HasRemaining: true, ResetAt: in(time.Hour), Limit: 60, Throttled: true}},
		{"github-ok", hdr("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4987", "X-RateLimit-Reset", epoch(30*time.Minute)), 200,
			feedback.Signal{HasRemaining: true, Remaining: 4987, ResetAt: in(30 * time.Minute), Limit: 5000}},
		{"github-epoch-past", hdr("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1372700873"), 403,
			feedback.Signal{Until: now, HasRemaining: true, ResetAt: now, Throttled: true}},
		{"x-twitter", hdr("x-rate-limit-limit", "900", "x-rate-limit-remaining", "0", "x-rate-limit-reset", epoch(15*time.Minute)), 429,
			feedback.Signal{Until: in(15 * time.Minute), HasRemaining: true, ResetAt: in(15 * time.Minute), Limit: 900, Throttled: true}},
		{"delta-reset", hdr("X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "60"), 200,
			feedback.Signal{Until: in(time.Minute), HasRemaining: true, ResetAt: in(time.Minute), Limit: 100}},
		{"discord-reset-after-wins", hdr("X-RateLimit-Limit", "5", "X-RateLimit-Remaining", "0",
			"X-RateLimit-Reset", epoch(10*time.Second)+".123", "X-RateLimit-Reset-After", "1.234",
			"X-RateLimit-Bucket", "abcd1234"), 200,
			feedback.Signal{Until: in(1234 * time.Millisecond), HasRemaining: true, ResetAt: in(1234 * time.Millisecond), Limit: 5, Bucket: "abcd1234"}},
		{"discord-decimal-epoch", hdr("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", epoch(10*time.Second)+".5"), 200,
			feedback.Signal{Until: in(10500 * time.Millisecond), HasRemaining: true, ResetAt: in(10500 * time.Millisecond)}},
		{"discord-bad-reset-after-falls-back", hdr("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "7", "X-RateLimit-Reset-After", "soon"), 200,
			feedback.Signal{Until: in(7 * time.Second), HasRemaining: true, ResetAt: in(7 * time.Second)}},
		{"discord-429-retry-after", hdr("Retry-After", "0.75", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset-After", "3"), 429,
			feedback.Signal{Until: in(750 * time.Millisecond), HasRemaining: true, ResetAt: in(750 * time.Millisecond), Throttled: true}},
		{"remaining-without-reset", hdr("X-RateLimit-Remaining", "0"), 200, feedback.Signal{HasRemaining: true}},
		{"reset-without-remaining", hdr("X-RateLimit-Reset", "60"), 200, feedback.Signal{}},
		{"negative-remaining", hdr("X-RateLimit-Remaining", "-1", "X-RateLimit-Reset", "60"), 200, feedback.Signal{}},
		{"huge-remaining", hdr("X-RateLimit-Remaining", strings.Repeat("7", 400)), 200,
			feedback.Signal{HasRemaining: true, Remaining: math.MaxInt32}},
		{"huge-epoch-clamped", hdr("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strings.Repeat("9", 400)), 200,
			feedback.Signal{Until: farthest, HasRemaining: true, ResetAt: farthest}},
		{"exponent-reset", hdr("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1e400"), 200,
			feedback.Signal{HasRemaining: true}},
		{"limit-only-no-policy", hdr("X-RateLimit-Limit", "60"), 200, feedback.Signal{}},
	})
}

func TestParsePrecedence(t *testing.T) {
	runParseCases(t, []parseCase{
		{"retry-after-over-ratelimit", hdr("Retry-After", "10", "RateLimit", `"d";r=0;t=60`), 429,
			feedback.Signal{Until: in(10 * time.Second), HasRemaining: true, ResetAt: in(10 * time.Second), Throttled: true}},
		{"retry-after-over-github", hdr("Retry-After", "120", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", epoch(time.Second)), 429,
			feedback.Signal{Until: in(2 * time.Minute), HasRemaining: true, ResetAt: in(2 * time.Minute), Throttled: true}},
		// Issue 7: the draft says t SHOULD be ignored beside a Retry-After,
		// so the stated count runs out at the Retry-After instant too.
		{"retry-after-shorter-than-t", hdr("Retry-After", "1", "RateLimit", `"default";r=0;t=4`), 429,
			feedback.Signal{Until: in(time.Second), HasRemaining: true, ResetAt: in(time.Second), Throttled: true}},
		{"retry-after-shorter-than-x-reset", hdr("Retry-After", "1", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "4"), 429,
			feedback.Signal{Until: in(time.Second), HasRemaining: true, ResetAt: in(time.Second), Throttled: true}},
		{"retry-after-with-remaining-left", hdr("Retry-After", "2", "RateLimit", `"default";r=5;t=60`), 503,
			feedback.Signal{Until: in(2 * time.Second), HasRemaining: true, Remaining: 5, ResetAt: in(2 * time.Second), Throttled: true}},
		{"bad-retry-after-falls-back", hdr("Retry-After", "later", "RateLimit", `"d";r=0;t=60`), 429,
			feedback.Signal{Until: in(time.Minute), HasRemaining: true, ResetAt: in(time.Minute), Throttled: true}},
		{"retry-after-on-200-ignored", hdr("Retry-After", "10", "RateLimit", `"d";r=0;t=60`), 200,
			feedback.Signal{Until: in(time.Minute), HasRemaining: true, ResetAt: in(time.Minute)}},
		{"most-restrictive-across-families", hdr("RateLimit", `"d";r=5;t=10`, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "20"), 200,
			feedback.Signal{Until: in(20 * time.Second), HasRemaining: true, ResetAt: in(20 * time.Second)}},
		{"ietf-and-06-merge", hdr("RateLimit", `"d";r=3;t=10`, "RateLimit-Remaining", "3", "RateLimit-Reset", "30"), 200,
			feedback.Signal{HasRemaining: true, Remaining: 3, ResetAt: in(30 * time.Second)}},
	})
}

func TestParseGarbage(t *testing.T) {
	long := strings.Repeat(`"x";r=1;t=1, `, 10000) + `"last";r=0;t=2`
	junk := strings.Repeat(";,=\"\\", 20000)
	var cases []parseCase
	for _, v := range []string{"", ";;;", ",,,", "\x00", "===", `"`, `\`, "1e400", "-5", "inf", "NaN", junk} {
		h := hdr("Retry-After", v, "RateLimit", v, "RateLimit-Policy", v, "RateLimit-Limit", v,
			"RateLimit-Remaining", v, "RateLimit-Reset", v, "X-RateLimit-Remaining", v, "X-RateLimit-Reset", v)
		cases = append(cases, parseCase{"all-fields=" + truncate(v), h, 429, feedback.Signal{Throttled: true}})
	}
	cases = append(cases,
		parseCase{"nil-header", nil, 0, feedback.Signal{}},
		parseCase{"long-list-last-wins", hdr("RateLimit", long), 200,
			feedback.Signal{Until: in(2 * time.Second), HasRemaining: true, ResetAt: in(2 * time.Second)}},
		parseCase{"junk-then-good-policy", hdr("RateLimit-Policy", `;;, ,"ok";q=1;w=1`), 200,
			withPolicies(feedback.Signal{}, feedback.Policy{Name: "ok", Quota: 1, Window: time.Second})},
	)
	runParseCases(t, cases)
}

func truncate(s string) string {
	if len(s) > 12 {
		return s[:12] + "..."
	}
	return s
}

// Limit is the quota the winning remaining count counts down from, when
// the fields that state the count state it too.
func TestParseLimit(t *testing.T) {
	policy := feedback.Policy{Name: "default", Quota: 100, Window: time.Second}
	runParseCases(t, []parseCase{
		{"ietf-named-policy", hdr("RateLimit-Policy", `"default";q=100;w=1`, "RateLimit", `"default";r=99;t=1`), 200,
			withPolicies(feedback.Signal{HasRemaining: true, Remaining: 99, ResetAt: in(time.Second), Limit: 100}, policy)},
		{"ietf-token-name", hdr("RateLimit-Policy", `default;q=100;w=1`, "RateLimit", `default;r=99;t=1`), 200,
			withPolicies(feedback.Signal{HasRemaining: true, Remaining: 99, ResetAt: in(time.Second), Limit: 100}, policy)},
		{"ietf-other-policy", hdr("RateLimit-Policy", `"default";q=100;w=1`, "RateLimit", `"other";r=9;t=1`), 200,
			withPolicies(feedback.Signal{HasRemaining: true, Remaining: 9, ResetAt: in(time.Second)}, policy)},
		{"ietf-no-policy", hdr("RateLimit", `"default";r=9;t=1`), 200,
			feedback.Signal{HasRemaining: true, Remaining: 9, ResetAt: in(time.Second)}},
		{"limit-of-the-winning-count", hdr("RateLimit-Policy", `"d";q=50;w=10`, "RateLimit", `"d";r=5;t=10`,
			"X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "2", "X-RateLimit-Reset", "20"), 200,
			withPolicies(feedback.Signal{HasRemaining: true, Remaining: 2, ResetAt: in(20 * time.Second), Limit: 60},
				feedback.Policy{Name: "d", Quota: 50, Window: 10 * time.Second})},
		{"bad-limit", hdr("X-RateLimit-Limit", "sixty", "X-RateLimit-Remaining", "2", "X-RateLimit-Reset", "20"), 200,
			feedback.Signal{HasRemaining: true, Remaining: 2, ResetAt: in(20 * time.Second)}},
		{"06-limit-list", hdr("RateLimit-Limit", "10, 10;w=1, 50;w=60", "RateLimit-Remaining", "3", "RateLimit-Reset", "1"), 200,
			withPolicies(feedback.Signal{HasRemaining: true, Remaining: 3, ResetAt: in(time.Second), Limit: 10},
				feedback.Policy{Quota: 10, Window: time.Second}, feedback.Policy{Quota: 50, Window: time.Minute})},
		{"limit-without-remaining", hdr("X-RateLimit-Limit", "60", "RateLimit", "limit=100"), 200, feedback.Signal{}},
	})
}

func TestParseShopifyBucket(t *testing.T) {
	bucket := func(s feedback.Signal, fill, size int) feedback.Signal {
		s.BucketFill, s.BucketSize = fill, size
		return s
	}
	runParseCases(t, []parseCase{
		{"fill", hdr("X-Shopify-Shop-Api-Call-Limit", "32/40"), 200, bucket(feedback.Signal{}, 32, 40)},
		{"empty", hdr("X-Shopify-Shop-Api-Call-Limit", "0/40"), 200, bucket(feedback.Signal{}, 0, 40)},
		{"spaces", hdr("X-Shopify-Shop-Api-Call-Limit", " 1 / 80 "), 200, bucket(feedback.Signal{}, 1, 80)},
		{"lower-case-key", http.Header{"X-Shopify-Shop-Api-Call-Limit": {"5/40"}}, 200, bucket(feedback.Signal{}, 5, 40)},
		{"full-429-decimal-retry-after", hdr("X-Shopify-Shop-Api-Call-Limit", "40/40", "Retry-After", "2.0"), 429,
			bucket(feedback.Signal{Until: in(2 * time.Second), Throttled: true}, 40, 40)},
		{"overfull-clamped", hdr("X-Shopify-Shop-Api-Call-Limit", "41/40"), 200, bucket(feedback.Signal{}, 40, 40)},
		{"zero-size", hdr("X-Shopify-Shop-Api-Call-Limit", "0/0"), 200, feedback.Signal{}},
		{"no-slash", hdr("X-Shopify-Shop-Api-Call-Limit", "32"), 200, feedback.Signal{}},
		{"two-slashes", hdr("X-Shopify-Shop-Api-Call-Limit", "1/2/3"), 200, feedback.Signal{}},
		{"negative", hdr("X-Shopify-Shop-Api-Call-Limit", "-1/40"), 200, feedback.Signal{}},
		{"decimal", hdr("X-Shopify-Shop-Api-Call-Limit", "1.5/40"), 200, feedback.Signal{}},
		{"empty-parts", hdr("X-Shopify-Shop-Api-Call-Limit", "/"), 200, feedback.Signal{}},
		{"huge-clamped", hdr("X-Shopify-Shop-Api-Call-Limit", strings.Repeat("9", 40)+"/"+strings.Repeat("9", 40)), 200,
			bucket(feedback.Signal{}, math.MaxInt32, math.MaxInt32)},
	})
}

func TestParseDiscordRoute(t *testing.T) {
	counts := func(s feedback.Signal) feedback.Signal {
		s.HasRemaining, s.Remaining, s.ResetAt, s.Limit = true, 3, in(500*time.Millisecond), 5
		return s
	}
	fields := []string{"X-RateLimit-Limit", "5", "X-RateLimit-Remaining", "3", "X-RateLimit-Reset-After", "0.500"}
	with := func(kv ...string) http.Header { return hdr(append(append([]string{}, fields...), kv...)...) }
	runParseCases(t, []parseCase{
		{"bucket", with("X-RateLimit-Bucket", "41f9cd5d28af77da04563bcb1d67fdfd"), 200,
			counts(feedback.Signal{Bucket: "41f9cd5d28af77da04563bcb1d67fdfd"})},
		{"bucket-spaces", with("X-RateLimit-Bucket", " abcd "), 200, counts(feedback.Signal{Bucket: "abcd"})},
		{"global", with("X-RateLimit-Bucket", "abcd", "X-RateLimit-Global", "true", "Retry-After", "1"), 429,
			feedback.Signal{HasRemaining: true, Remaining: 3, ResetAt: in(time.Second), Limit: 5, // Retry-After wins
				Bucket: "abcd", Global: true, Until: in(time.Second), Throttled: true}},
		{"global-upper-case", with("X-RateLimit-Global", "True"), 200, counts(feedback.Signal{Global: true})},
		{"global-false", with("X-RateLimit-Global", "false"), 200, counts(feedback.Signal{})},
		{"scope-global", with("X-RateLimit-Scope", "global"), 200, counts(feedback.Signal{Global: true})},
		{"scope-user", with("X-RateLimit-Bucket", "abcd", "X-RateLimit-Scope", "user"), 200, counts(feedback.Signal{Bucket: "abcd"})},
		{"scope-shared", with("X-RateLimit-Scope", "shared"), 200, counts(feedback.Signal{})},
	})
}
