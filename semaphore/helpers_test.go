package semaphore_test

import (
	"errors"
	"testing"
	"time"
)

// waitFor polls cond until it holds, failing the test after a generous
// timeout. Tests use it (with Waiting()) to sequence goroutines, never a
// sleep that is assumed long enough.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// recv receives from c, failing the test after a generous timeout.
func recv[T any](t testing.TB, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting on a channel")
		panic("unreachable")
	}
}

// quiet asserts that nothing arrives on c right now.
func quiet[T any](t testing.TB, c <-chan T) {
	t.Helper()
	select {
	case v := <-c:
		t.Fatalf("unexpected %v", v)
	default:
	}
}

// The assertions below stand in for testify, whose transitive go.sum
// entries (go-spew, go-difflib, go.yaml.in/yaml/v3) the module lacks.

// equal fails the test if got != want.
func equal[T comparable](t testing.TB, want, got T, msg ...any) {
	t.Helper()
	if got != want {
		t.Fatalf("got %v, want %v %v", got, want, msg)
	}
}

// isTrue fails the test if cond is false.
func isTrue(t testing.TB, cond bool, msg ...any) {
	t.Helper()
	if !cond {
		t.Fatalf("condition false %v", msg)
	}
}

// noErr fails the test if err is not nil.
func noErr(t testing.TB, err error, msg ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error %v %v", err, msg)
	}
}

// isErr fails the test unless errors.Is(err, target).
func isErr(t testing.TB, err, target error, msg ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want one matching %v %v", err, target, msg)
	}
}
