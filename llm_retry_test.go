package throttle

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRetryPolicyLLMDialects: Anthropic's 529 is a 503, and x-should-retry
// overrides the default rules either way (issue 13).
func TestRetryPolicyLLMDialects(t *testing.T) {
	cases := []struct {
		name     string
		method   string
		status   int
		header   map[string]string
		attempts int64
	}{
		{"GET retried on 529", http.MethodGet, 529, nil, 3},
		{"POST not retried on a bare 529", http.MethodPost, 529, nil, 1},
		{"POST retried on 529 with x-should-retry true", http.MethodPost, 529, map[string]string{"X-Should-Retry": "true"}, 3},
		{"POST not retried on 429 with x-should-retry false", http.MethodPost, 429, map[string]string{"X-Should-Retry": "false"}, 1},
		{"GET not retried on 503 with x-should-retry false", http.MethodGet, 503, map[string]string{"X-Should-Retry": "false"}, 1},
		{"POST retried on 500 with x-should-retry true", http.MethodPost, 500, map[string]string{"X-Should-Retry": "true"}, 3},
		{"POST 429 honours retry-after-ms", http.MethodPost, 429, map[string]string{"Retry-After-Ms": "1", "Retry-After": "60"}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
			})
			s := newTestSession(t, WithRetry(RetryPolicy{MaxRetries: 2, MinWait: time.Millisecond, MaxWait: time.Millisecond}))
			req, err := http.NewRequest(tc.method, rec.URL, strings.NewReader("body"))
			require.NoError(t, err)
			resp, err := s.Do(req)
			require.EqualValues(t, tc.attempts, rec.count.Load())
			if tc.attempts == 1 {
				require.NoError(t, err)
				require.Equal(t, tc.status, resp.StatusCode)
				drain(resp)
				return
			}
			var re *RetryError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tc.status, re.StatusCode)
		})
	}
}
