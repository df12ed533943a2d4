package middleware

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// A huge limit keeps a bounded history: the consumer windows round
// arrivals up to a granularity of at most per/1000 (the window itself is
// tested in ratelimit's TestWindowGranularityBoundsHistory).
func TestWindowBoundedHistory(t *testing.T) {
	tests := []struct {
		per  time.Duration
		gran time.Duration
	}{
		{time.Hour, time.Millisecond},
		{time.Second, time.Millisecond},
		{100 * time.Millisecond, 100 * time.Microsecond},
		{time.Microsecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.per.String(), func(t *testing.T) {
			if got := granularity(tt.per); got != tt.gran {
				t.Errorf("granularity = %d, want %d", got, tt.gran)
			}
		})
	}
}

// Memory stays bounded: the windows of consumers gone quiet are dropped.
func TestIdleConsumersDropped(t *testing.T) {
	clk := clock.NewFake(t0)
	th, err := New(WithRateLimit(5, time.Minute), WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	h := th.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	call := func(consumer string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Service-Name", consumer)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	for i := range 100 {
		call("c" + strconv.Itoa(i))
	}
	if n := th.rate.Len(); n != 100 {
		t.Fatalf("%d windows, want 100", n)
	}
	clk.Advance(time.Minute)
	for range 101 {
		call("z")
	}
	if n := th.rate.Len(); n > 1 {
		t.Errorf("%d windows after the others went quiet, want 1", n)
	}
}
