package feedback_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-throttle/throttle/feedback"
)

func TestParseRetryAfter(t *testing.T) {
	future := now.Add(90 * time.Second)
	cases := []struct {
		name string
		v    string
		want time.Time
		ok   bool
	}{
		{"delta", "120", in(2 * time.Minute), true},
		{"zero", "0", now, true},
		{"spaces", "  30\t", in(30 * time.Second), true},
		{"decimal", "2.0", in(2 * time.Second), true},
		{"fraction", "0.5", in(500 * time.Millisecond), true},
		{"trailing-dot", "3.", in(3 * time.Second), true},
		{"sub-nanosecond-truncated", "0.0000000019", in(time.Nanosecond), true},
		{"imf-fixdate", future.Format(http.TimeFormat), future, true},
		{"rfc850", future.Format(time.RFC850), future, true},
		{"ansic", future.Format(time.ANSIC), future, true},
		{"past-date", "Sun, 06 Nov 1994 08:49:37 GMT", now, true},
		{"huge-clamped", strings.Repeat("1", 400), farthest, true},
		{"empty", "", time.Time{}, false},
		{"negative", "-5", time.Time{}, false},
		{"plus", "+5", time.Time{}, false},
		{"exponent", "1e400", time.Time{}, false},
		{"inf", "inf", time.Time{}, false},
		{"nan", "NaN", time.Time{}, false},
		{"leading-dot", ".5", time.Time{}, false},
		{"two-dots", "1.2.3", time.Time{}, false},
		{"nul", "\x00", time.Time{}, false},
		{"unit", "5s", time.Time{}, false},
		{"bad-date", "Wed, 32 Oct 2015 07:28:00 GMT", time.Time{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := feedback.ParseRetryAfter(tc.v, now)
			if ok != tc.ok || !tc.want.Equal(got) {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.v, got, ok, tc.want, tc.ok)
			}
		})
	}
}
