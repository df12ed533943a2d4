package throttle

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/semaphore"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrInvalidOption is wrapped by every error that reports a bad option
	// or constructor argument; the message names the option and the value.
	ErrInvalidOption = errors.New("throttle: invalid option")

	// ErrClosed is wrapped by the error of every call made after
	// Session.Close or Transport.Close, and of every call that was still
	// waiting (for a slot, a token, a host pause or a retry's backoff)
	// when Close ran; such an error does not wrap context.Canceled.
	ErrClosed = errors.New("throttle: session closed")

	// ErrNotReplayable is wrapped by the error returned when an attempt
	// needed a retry but its request body was a one-shot stream that could
	// not be sent again. See NotReplayableError.
	ErrNotReplayable = errors.New("throttle: request body cannot be replayed")

	// ErrAttemptTimeout is wrapped by the error of an attempt that ran past
	// WithTimeout, measured from when it was sent to the end of its body.
	ErrAttemptTimeout = errors.New("throttle: attempt timed out")

	// ErrExceedsLimit is wrapped when a request asks a limiter for more than
	// it can ever grant (for example a weighted limiter smaller than one
	// request); such a request fails at once instead of waiting forever.
	ErrExceedsLimit = ratelimit.ErrExceedsLimit

	// ErrCostExceedsBudget is wrapped when a request's cost (WithCost) is
	// larger than a whole budget it names (WithBudget, WithBudgetFor, or
	// one its server stated): it could never be granted, so the request
	// fails at once. The error names the budget, the cost and the limit,
	// and also wraps ErrExceedsLimit.
	ErrCostExceedsBudget = errors.New("throttle: cost exceeds the whole budget")

	// ErrHostPaused is wrapped when a server has paused its host (with
	// Retry-After, or a spent RateLimit budget) past the caller's context
	// deadline: the call fails at once instead of sleeping into its
	// deadline. Such an error also wraps context.DeadlineExceeded, and
	// DefaultRetryPolicy does not retry it.
	ErrHostPaused = errors.New("throttle: host paused by the server")

	// ErrQueueFull is wrapped when a caller would have to wait while the
	// queue limit's worth of callers are already waiting.
	ErrQueueFull = semaphore.ErrQueueFull

	// ErrRequestBody is wrapped, beside the cause, by the error of an
	// attempt whose request body failed on this side: its source could not
	// be opened or read (a Multipart's file deleted between attempts, a
	// reader that returned an error, a GetBody that failed). The server is
	// not at fault, so such an attempt is never retried.
	ErrRequestBody = errors.New("throttle: request body failed locally")

	// ErrRetryBudget is wrapped by the error of a call whose retry the
	// host's retry budget refused (see RetryBudget): the call ended at
	// once, after the attempts it had made.
	ErrRetryBudget = errors.New("throttle: retry budget spent")
)

// invalidOption returns an error wrapping ErrInvalidOption that names the
// option, its value and what is wrong with it.
func invalidOption(option string, value any, problem string) error {
	return fmt.Errorf("%w: %s(%v): %s", ErrInvalidOption, option, value, problem)
}

// RetryError is returned by a Session when an attempt failed and no more
// retries were made: it names the attempts made and the last status seen,
// and wraps the last error (if any), so errors.Is and errors.As see through
// it. go-retryablehttp's own final error hides the status (its issue #212).
//
// It reaches the caller inside the *url.Error that http.Client returns,
// which already names the method and the URL, so Error does not repeat
// them. It is plain data; a zero RetryError is valid and says only that no
// attempt was made.
type RetryError struct {
	Method string
	// URL is the request's URL with its password and credential query
	// values redacted (see Session.Do), safe to log.
	URL      string
	Attempts int
	// StatusCode is the last response's status, or 0 if the last attempt
	// got no response.
	StatusCode int
	// Err is the last attempt's error, or nil if it got a response whose
	// status the retry policy treats as a failure.
	Err error
}

// Error describes the final outcome.
func (e *RetryError) Error() string {
	msg := fmt.Sprintf("throttle: giving up after %d attempt(s)", e.Attempts)
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(", last status %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the last attempt's error.
func (e *RetryError) Unwrap() error { return e.Err }

// NotReplayableError reports that an attempt failed in a way the retry
// policy would have retried, but the request body was a one-shot stream
// that had already been consumed. It wraps ErrNotReplayable and the
// attempt's own error. It is plain data; its zero value is valid (no
// status, no error of the attempt's own).
type NotReplayableError struct {
	// StatusCode is the status of the response that called for a retry, or
	// 0 if the attempt failed without one.
	StatusCode int
	// Err is the attempt's error, if it had one.
	Err error
}

// Error describes why no retry was made.
func (e *NotReplayableError) Error() string {
	msg := "throttle: the attempt needs a retry but its body is a one-shot stream that cannot be replayed (use bytes, a file, GetBody, or a Payload over one)"
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(": status %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrNotReplayable and the attempt's error.
func (e *NotReplayableError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrNotReplayable}
	}
	return []error{ErrNotReplayable, e.Err}
}

// hostPausedDeadline is ErrHostPaused and context.DeadlineExceeded at once.
var hostPausedDeadline error = pausedPastDeadline{}

type pausedPastDeadline struct{}

func (pausedPastDeadline) Error() string {
	return "throttle: host paused by the server: context deadline exceeded"
}

func (pausedPastDeadline) Unwrap() []error {
	return []error{ErrHostPaused, context.DeadlineExceeded}
}
