package semaphore_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind (a waiter
// that was never woken, say).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
