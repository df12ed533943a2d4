package throttle

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkRetryBudget measures what the default retry budget costs a
// request that succeeds (its deposit), against the same Session with the
// budget off, in the same run. The base RoundTripper answers at once, so
// the figures are the Session's own work.
func BenchmarkRetryBudget(b *testing.B) {
	ok := rtFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Request: r}, nil
	})
	for _, impl := range []struct {
		name   string
		budget *RetryBudget
	}{{"nobudget", NoRetryBudget}, {"budget", nil}} {
		s, err := NewSession(WithTransport(ok), WithRetry(RetryPolicy{MaxRetries: 3, Budget: impl.budget}))
		if err != nil {
			b.Fatal(err)
		}
		b.Run("impl="+impl.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					benchGet(b, s.Do, "http://api.example.com/x")
				}
			})
		})
		s.Close()
	}
}
