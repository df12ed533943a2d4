package ratelimit_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// wait must end with its context or its grant.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
