package real

import (
	"errors"
	"os"
	"testing"
)

// Require ends a test that could not start a real server: it skips when
// the server is not installed, naming the Debian package, unless CI=true,
// where the server must be there (.ci/run installs it) and the test fails.
// Any other error fails the test.
func Require(t testing.TB, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true":
		t.Skip(err)
	default:
		t.Fatal(err)
	}
}
