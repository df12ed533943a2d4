package redislimit

import (
	"errors"
	"fmt"

	"github.com/go-throttle/throttle/ratelimit"
)

// ErrUnavailable is wrapped by the error of a call made while Redis cannot
// be reached (refused, timed out, or failing) and no fail-open limit is
// set. It is returned at once, or after at most WithTimeout: never after
// a hang. The error also wraps the cause when there is one.
var ErrUnavailable = errors.New("redislimit: redis unavailable")

// ErrClosed is wrapped by the error of a call made after Close, and of a
// wait that Close ended.
var ErrClosed = errors.New("redislimit: limiter closed")

// invalidf returns an error wrapping ratelimit.ErrInvalid, so that bad
// arguments match the same sentinel as the local limiters'.
func invalidf(op, format string, args ...any) error {
	return fmt.Errorf("redislimit: %s: %w: %s", op, ratelimit.ErrInvalid, fmt.Sprintf(format, args...))
}
