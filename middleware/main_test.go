package middleware_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind (a request
// stuck in the queue, a server not closed).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
