package feedback_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/go-throttle/throttle/feedback"
)

// now is the fixed instant every test parses at.
var now = time.Date(2025, time.June, 1, 12, 0, 0, 0, time.UTC)

// farthest is the latest instant a Signal may state.
var farthest = now.Add(feedback.MaxDelay)

// hdr builds a header from key, value pairs with Add (so keys are
// canonicalized and repeated keys give several field lines).
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// in returns now+d.
func in(d time.Duration) time.Time { return now.Add(d) }

// epoch returns the Unix time of now+d, in seconds, as a header value.
func epoch(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }

// pols builds a Policies array and its count.
func pols(ps ...feedback.Policy) ([feedback.MaxPolicies]feedback.Policy, int) {
	var a [feedback.MaxPolicies]feedback.Policy
	return a, copy(a[:], ps)
}

// withPolicies returns s with the given policies set.
func withPolicies(s feedback.Signal, ps ...feedback.Policy) feedback.Signal {
	s.Policies, s.NPolicies = pols(ps...)
	return s
}

// testify is not used: go.sum lacks the go.yaml.in/yaml/v3 entry that
// testify v1.12.1's assert package needs, and go.sum is not ours to edit.

// assertSignal compares signals, instants with time.Time.Equal.
func assertSignal(t *testing.T, want, got feedback.Signal) {
	t.Helper()
	if !want.Until.Equal(got.Until) {
		t.Errorf("Until: want %v, got %v", want.Until, got.Until)
	}
	if !want.ResetAt.Equal(got.ResetAt) {
		t.Errorf("ResetAt: want %v, got %v", want.ResetAt, got.ResetAt)
	}
	want.Until, got.Until, want.ResetAt, got.ResetAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if want != got {
		t.Errorf("want %+v\n got %+v", want, got)
	}
}
