package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrInvalid is wrapped by the error a constructor, an option or an Acquire
// returns for a bad argument. The message names the call, the argument and
// its value, e.g. "ratelimit: NewWindow(n=0): n must be positive".
var ErrInvalid = errors.New("ratelimit: invalid argument")

// ErrExceedsLimit is wrapped by the error Acquire or Reserve returns, at once
// and without waiting, for an n larger than MaxAcquire: no amount of waiting
// could grant it. (x/time/rate's WaitN returns an unmatchable string for the
// same case, golang/go#54541.)
var ErrExceedsLimit = errors.New("ratelimit: n exceeds what the limiter can ever grant")

// ErrNilContext is wrapped by the error every call that takes a context
// returns, at once and without waiting or taking anything, when that
// context is nil (net/http's "nil Context"). It wraps ErrInvalid.
var ErrNilContext = fmt.Errorf("%w: nil Context", ErrInvalid)

// opError is every error this package builds: "ratelimit: op: detail",
// wrapping a sentinel or a context error so that errors.Is sees it. It is
// built only on failure paths, so the hot paths do not allocate.
type opError struct {
	op     string // the call and its arguments, e.g. "Window.Acquire(n=3)"
	detail string // what went wrong, in words
	err    error  // what errors.Is matches
}

func (e *opError) Error() string { return "ratelimit: " + e.op + ": " + e.detail }

func (e *opError) Unwrap() error { return e.err }

// invalidf returns an error wrapping ErrInvalid.
func invalidf(op, format string, args ...any) error {
	return &opError{op: op, detail: fmt.Sprintf(format, args...), err: ErrInvalid}
}

// callOp names a call with its n, as in "Window.Acquire(n=3)".
func callOp(call string, n int) string { return fmt.Sprintf("%s(n=%d)", call, n) }

// checkN validates the n of an Acquire or Reserve against max.
func checkN(call string, n, max int) error {
	if n <= 0 {
		return invalidf(callOp(call, n), "n must be positive")
	}
	if n > max {
		return &opError{op: callOp(call, n), detail: fmt.Sprintf("%v (max %d)", ErrExceedsLimit, max), err: ErrExceedsLimit}
	}
	return nil
}

// nilCtxError reports a call made with a nil context.
func nilCtxError(op string) error {
	return &opError{op: op, detail: "nil Context", err: ErrNilContext}
}

// ctxError reports a wait that ended because ctx did.
func ctxError(call string, n int, err error) error {
	return &opError{op: callOp(call, n), detail: err.Error(), err: err}
}

// deadlineError reports a wait that could not end before ctx's deadline. It
// wraps context.DeadlineExceeded although the context has not expired yet:
// it will have by the time the wait could end.
func deadlineError(call string, n int, wait time.Duration) error {
	return &opError{
		op:     callOp(call, n),
		detail: fmt.Sprintf("a wait of at least %v would pass the context deadline", wait),
		err:    context.DeadlineExceeded,
	}
}

// joinErr adds err to errs, keeping a single error unwrapped.
func joinErr(errs, err error) error {
	if errs == nil {
		return err
	}
	return errors.Join(errs, err)
}
