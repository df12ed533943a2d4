package throttle

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Issue 7: every option that takes a duration either refuses an extreme
// value with an error naming it, or accepts it and honours it: a request
// goes through, and a window as long as a time.Duration can be still
// holds back the next request. No arithmetic on the caller's duration may
// wrap round.
func TestExtremeDurations(t *testing.T) {
	type extreme struct {
		name string
		d    time.Duration
	}
	values := []extreme{
		{"max", math.MaxInt64},
		{"huge", 1<<62 + 1},
		{"tiny", time.Nanosecond},
	}
	cases := []struct {
		option string
		opts   func(d time.Duration, host string) []Option
		// window: the option sets a window of d for one request, so a
		// long d must hold back a second request and a tiny one not.
		window bool
		// failFirst: the server answers the first request 503, so that
		// the retry policy's waits are used.
		failFirst bool
	}{
		{"WithRateLimit", func(d time.Duration, _ string) []Option {
			return []Option{WithRateLimit(1, d)}
		}, true, false},
		{"WithHostRateLimit", func(d time.Duration, _ string) []Option {
			return []Option{WithHostRateLimit(1, d)}
		}, true, false},
		{"WithRateLimitFor", func(d time.Duration, host string) []Option {
			return []Option{WithRateLimitFor(host, 1, d)}
		}, true, false},
		{"WithBurst", func(d time.Duration, _ string) []Option {
			return []Option{WithRateLimit(2, d), WithBurst(1)}
		}, true, false},
		{"WithWindowGuard", func(d time.Duration, _ string) []Option {
			return []Option{WithRateLimit(1, time.Millisecond), WithWindowGuard(d)}
		}, true, false},
		{"WithTimeout", func(d time.Duration, _ string) []Option {
			return []Option{WithTimeout(d)}
		}, false, false},
		{"WithMaxPause", func(d time.Duration, _ string) []Option {
			return []Option{WithMaxPause(d)}
		}, false, false},
		{"RetryPolicy.MinWait", func(d time.Duration, _ string) []Option {
			return []Option{WithRetry(RetryPolicy{MaxRetries: 1, MinWait: d})}
		}, false, false},
		{"RetryPolicy.MaxWait", func(d time.Duration, _ string) []Option {
			return []Option{WithRetry(RetryPolicy{MaxRetries: 1, MaxWait: d})}
		}, false, false},
		{"RetryPolicy.MinWait+retry", func(d time.Duration, _ string) []Option {
			return []Option{WithRetry(RetryPolicy{MaxRetries: 1, MinWait: min(d, time.Millisecond), MaxWait: d})}
		}, false, true},
	}
	for _, tc := range cases {
		for _, v := range values {
			t.Run(tc.option+"/"+v.name, func(t *testing.T) {
				var served atomic.Int64
				rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
					// A policy to learn, so that learned windows (capped
					// by WithMaxPause) are built too.
					w.Header().Set("RateLimit-Policy", `"q";q=100;w=60`)
					if tc.failFirst && served.Add(1) == 1 {
						w.WriteHeader(http.StatusServiceUnavailable)
						return
					}
					w.Write([]byte("ok"))
				})
				u, _ := url.Parse(rec.URL)
				s, err := NewSession(tc.opts(v.d, u.Host)...)
				if err != nil {
					require.ErrorIs(t, err, ErrInvalidOption)
					require.ErrorContains(t, err, v.d.String(), "the error names another value than the caller's")
					return
				}
				t.Cleanup(func() { s.Close() })
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				resp, err := s.Get(ctx, rec.URL)
				if tc.option == "WithTimeout" && v.d == time.Nanosecond && err != nil {
					// Honoured: no attempt can be made in 1ns.
					require.ErrorIs(t, err, ErrAttemptTimeout)
					require.ErrorContains(t, err, v.d.String())
					return
				}
				require.NoError(t, err, "the first request")
				drain(resp)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				if !tc.window {
					return
				}
				// The window holds the second request back, or, if it is
				// tiny, lets it through at once.
				ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel2()
				resp, err = s.Get(ctx2, rec.URL)
				if v.d == time.Nanosecond {
					require.NoError(t, err, "the second request, 1ns later")
					drain(resp)
					return
				}
				require.ErrorIs(t, err, context.DeadlineExceeded)
				require.NoError(t, ctx2.Err(), "the second request waited instead of failing at once")
			})
		}
	}
}

// DefaultBackoff doubles MinWait without overflow: past MaxWait it waits
// MaxWait (with jitter), never a wrapped-round value.
func TestDefaultBackoffNoOverflow(t *testing.T) {
	minWait, maxWait := time.Duration(1<<62+1), time.Duration(math.MaxInt64)
	for attempt := range 70 {
		d := DefaultBackoff(minWait, maxWait, attempt, nil)
		require.GreaterOrEqual(t, d, minWait/2, "attempt %d", attempt)
		if attempt >= 1 {
			require.GreaterOrEqual(t, d, maxWait/2, "attempt %d", attempt)
		}
	}
}
