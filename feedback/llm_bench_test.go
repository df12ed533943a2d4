package feedback_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/go-throttle/throttle/feedback"
)

var budgetSink feedback.Budgets

// BenchmarkParseBudgets measures ParseBudgets, which a Transport calls on
// every response, beside Parse on the same header (impl=parse), the
// baseline it adds to. form=none is the common case: a response that
// states no budget.
func BenchmarkParseBudgets(b *testing.B) {
	base := http.Header{"Content-Type": {"application/json"}, "Date": {now.Format(http.TimeFormat)}}
	with := func(kv ...string) http.Header {
		h := base.Clone()
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	forms := []struct {
		name string
		h    http.Header
	}{
		{"none", base},
		{"openai", with("x-ratelimit-limit-requests", "60", "x-ratelimit-limit-tokens", "150000",
			"x-ratelimit-remaining-requests", "59", "x-ratelimit-remaining-tokens", "149984",
			"x-ratelimit-reset-requests", "1s", "x-ratelimit-reset-tokens", "6m0s")},
		{"anthropic", with("anthropic-ratelimit-input-tokens-limit", "40000",
			"anthropic-ratelimit-input-tokens-remaining", "39000",
			"anthropic-ratelimit-input-tokens-reset", now.Add(2*time.Second).Format(time.RFC3339))},
	}
	for _, f := range forms {
		b.Run("form="+f.name+"/impl=parse", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = feedback.Parse(f.h, 200, now)
			}
		})
		b.Run("form="+f.name+"/impl=budgets", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				budgetSink = feedback.ParseBudgets(f.h, now)
			}
		})
	}
}
