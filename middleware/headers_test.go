package middleware

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-throttle/throttle/semaphore"
)

// The default consumer is the X-Service-Name header; the default priority
// the X-Request-Priority header, in any case, normal when unknown.
func TestDefaultHeaderParsing(t *testing.T) {
	tests := []struct {
		name     string
		service  string // "" leaves the header out
		priority string
		consumer string
		prio     semaphore.Priority
	}{
		{"no headers", "", "", "", semaphore.PriorityNormal},
		{"service", "billing", "", "billing", semaphore.PriorityNormal},
		{"high", "a", "high", "a", semaphore.PriorityHigh},
		{"HIGH", "a", "HIGH", "a", semaphore.PriorityHigh},
		{"Low with spaces", "a", "  Low ", "a", semaphore.PriorityLow},
		{"normal", "a", "normal", "a", semaphore.PriorityNormal},
		{"unknown", "a", "urgent", "a", semaphore.PriorityNormal},
		{"number", "a", "1", "a", semaphore.PriorityNormal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.service != "" {
				r.Header.Set("X-Service-Name", tt.service)
			}
			if tt.priority != "" {
				r.Header.Set("X-Request-Priority", tt.priority)
			}
			if got := defaultConsumer(r); got != tt.consumer {
				t.Errorf("consumer %q, want %q", got, tt.consumer)
			}
			if got := defaultPriority(r); got != tt.prio {
				t.Errorf("priority %v, want %v", got, tt.prio)
			}
		})
	}
}

// Seconds are rounded up, and never below 1.
func TestCeilSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int64
	}{
		{0, 1}, {-time.Second, 1}, {time.Nanosecond, 1}, {time.Second, 1},
		{time.Second + time.Nanosecond, 2}, {59500 * time.Millisecond, 60}, {time.Hour, 3600},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			if got := ceilSeconds(tt.d); got != tt.want {
				t.Errorf("ceilSeconds(%v) = %d, want %d", tt.d, got, tt.want)
			}
		})
	}
}

// The field values, exactly.
func TestFieldValues(t *testing.T) {
	if got, want := policyValue(100, time.Minute), `"default";q=100;w=60`; got != want {
		t.Errorf("policyValue = %q, want %q", got, want)
	}
	if got, want := policyValue(5, 1500*time.Millisecond), `"default";q=5;w=2`; got != want {
		t.Errorf("policyValue = %q, want %q", got, want)
	}
	if got, want := rateValue(42, 29100*time.Millisecond), `"default";r=42;t=30`; got != want {
		t.Errorf("rateValue = %q, want %q", got, want)
	}
}

// Reasons print as the header values.
func TestReasonString(t *testing.T) {
	tests := []struct {
		r    Reason
		want string
	}{
		{ReasonQueueFull, "queue full"}, {ReasonConsumerQuota, "consumer quota"},
		{ReasonPriorityQuota, "priority quota"}, {ReasonRate, "rate"}, {Reason(0), "reason(0)"}, {Reason(9), "reason(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.r.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
