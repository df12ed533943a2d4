package middleware_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/middleware"
)

var (
	policyRE = regexp.MustCompile(`^"default";q=[0-9]+;w=[0-9]+$`)
	rateRE   = regexp.MustCompile(`^"default";r=[0-9]+;t=[0-9]+$`)
)

// Each consumer gets n requests per window; the next is rejected with
// "rate" and a Retry-After until the oldest leaves, and then let in.
func TestRateLimitPerConsumer(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	th, srv := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		middleware.WithRateLimit(3, 10*time.Second), middleware.WithClock(clk))
	a := []string{"X-Service-Name", "a"}

	steps := []struct {
		name       string
		advance    time.Duration
		hdr        []string
		status     int
		rateLimit  string
		retryAfter string
	}{
		{"a 1st", 0, a, 200, `"default";r=2;t=10`, ""},
		{"a 2nd", 4 * time.Second, a, 200, `"default";r=1;t=6`, ""},
		{"a 3rd", 0, a, 200, `"default";r=0;t=6`, ""},
		{"a 4th rejected", 0, a, 429, `"default";r=0;t=6`, "6"},
		{"b unaffected", 0, []string{"X-Service-Name", "b"}, 200, `"default";r=2;t=10`, ""},
		{"anonymous unaffected", 0, nil, 200, `"default";r=2;t=10`, ""},
		{"a still rejected", 5 * time.Second, a, 429, `"default";r=0;t=1`, "1"},
		{"a after the 1st left", time.Second, a, 200, `"default";r=0;t=4`, ""},
		{"a rejected again", 0, a, 429, `"default";r=0;t=4`, "4"},
		{"a after the window", 10 * time.Second, a, 200, `"default";r=2;t=10`, ""},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		got := get(t, srv, "/", st.hdr...)
		if got.status != st.status || got.rateLimit != st.rateLimit || got.retryAfter != st.retryAfter {
			t.Errorf("%s: got %d, RateLimit %q, Retry-After %q; want %d, %q, %q",
				st.name, got.status, got.rateLimit, got.retryAfter, st.status, st.rateLimit, st.retryAfter)
		}
		if got.status == 429 && got.reason != "rate" {
			t.Errorf("%s: reason %q, want rate", st.name, got.reason)
		}
		if got.policy != `"default";q=3;w=10` {
			t.Errorf("%s: RateLimit-Policy %q", st.name, got.policy)
		}
	}
	if got := th.Stats().Rejected[middleware.ReasonRate]; got != 3 {
		t.Errorf("rate rejections = %d, want 3", got)
	}
}

// The RateLimit fields follow the draft's syntax on every response of a
// rate-limited consumer (accepted, rate-rejected, capacity-rejected), and
// are absent without a rate limit.
func TestRateLimitHeaderSyntax(t *testing.T) {
	tests := []struct {
		name      string
		opts      []middleware.Option
		requests  int
		wantLast  int
		wantRates bool
	}{
		{"accepted", []middleware.Option{middleware.WithRateLimit(5, time.Minute)}, 1, 200, true},
		{"rate rejected", []middleware.Option{middleware.WithRateLimit(1, 90500*time.Millisecond)}, 2, 429, true},
		{"sub-second window", []middleware.Option{middleware.WithRateLimit(2000, 100*time.Millisecond)}, 3, 200, true},
		{"no rate limit", []middleware.Option{middleware.WithCapacity(5)}, 1, 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), tt.opts...)
			var got result
			for range tt.requests {
				got = get(t, srv, "/")
			}
			if got.status != tt.wantLast {
				t.Errorf("status %d, want %d", got.status, tt.wantLast)
			}
			if !tt.wantRates {
				if got.policy != "" || got.rateLimit != "" {
					t.Errorf("unexpected RateLimit fields %q, %q", got.policy, got.rateLimit)
				}
				return
			}
			if !policyRE.MatchString(got.policy) || !rateRE.MatchString(got.rateLimit) {
				t.Errorf("RateLimit-Policy %q, RateLimit %q: bad syntax", got.policy, got.rateLimit)
			}
		})
	}
}

// A capacity rejection of a rate-limited consumer carries the RateLimit
// fields too.
func TestRateHeadersOnCapacityReject(t *testing.T) {
	g := newGate()
	defer g.release()
	th, srv := serve(t, g, middleware.WithCapacity(1), middleware.WithQueueLimit(0),
		middleware.WithRateLimit(10, time.Minute))
	held := goGet(t.Context(), srv, "/")
	waitUntil(t, "capacity is full", inHandler(th, 1))
	got := get(t, srv, "/")
	wantReject(t, got, "queue full", "1")
	if !rateRE.MatchString(got.rateLimit) || !policyRE.MatchString(got.policy) {
		t.Errorf("RateLimit %q, RateLimit-Policy %q", got.rateLimit, got.policy)
	}
	g.release()
	<-held
}
