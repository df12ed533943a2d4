package feedback

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseDelay(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want time.Duration
		ok   bool
	}{
		{"integer", "120", 120 * time.Second, true},
		{"decimal", "1.234", 1234 * time.Millisecond, true},
		{"nanoseconds", "0.000000001", time.Nanosecond, true},
		{"beyond-nanoseconds-truncated", "0.9999999999", 999999999 * time.Nanosecond, true},
		{"just-below-cap", "3153599999", MaxDelay - time.Second, true},
		{"at-cap", "3153600000", MaxDelay, true},
		{"cap-with-fraction", "3153599999.9999999999", MaxDelay - time.Nanosecond, true},
		{"max-int64-seconds", "9223372036854775807", MaxDelay, true},
		{"400-digits", strings.Repeat("9", 400), MaxDelay, true},
		{"empty", "", 0, false},
		{"negative", "-1", 0, false},
		{"exponent", "1e3", 0, false},
		{"hex", "0x10", 0, false},
		{"inf", "inf", 0, false},
		{"space-inside", "1 2", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseDelay(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseDelay(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseCount(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want int
		ok   bool
	}{
		{"zero", "0", 0, true},
		{"leading-zeros", "007", 7, true},
		{"max-int32", "2147483647", math.MaxInt32, true},
		{"above-int32-clamped", "2147483648", math.MaxInt32, true},
		{"400-digits-clamped", strings.Repeat("9", 400), math.MaxInt32, true},
		{"empty", "", 0, false},
		{"negative", "-1", 0, false},
		{"decimal", "1.0", 0, false},
		{"sign", "+1", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseCount(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseCount(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}
