package semaphore

import (
	"errors"
	"fmt"
	"github.com/go-throttle/throttle/internal/admit"
)

// Sentinel errors. Every error the package returns wraps one of them (or
// ctx.Err()), so callers match with errors.Is, never with the message.
var (
	// ErrInvalid reports a bad argument: an option out of range, a negative
	// capacity or weight, a nil hook. The message names the option or
	// argument and its value.
	ErrInvalid = errors.New("semaphore: invalid argument")

	// ErrQueueFull reports that the caller would have had to wait while the
	// queue limit (WithQueueLimit) was already reached. It is returned at
	// once; nothing was taken.
	ErrQueueFull = admit.ErrQueueFull

	// ErrExceedsCapacity reports a request for more units than could ever be
	// granted: more than the capacity, or more than the caller's consumer or
	// priority quota allows. Unlike x/sync/semaphore, which blocks such a
	// caller until its context ends, it is returned at once.
	ErrExceedsCapacity = errors.New("semaphore: n exceeds capacity")

	// ErrQuota reports that the caller is held back by its own quota
	// (WithConsumerShare or WithPriorityShare) rather than by a lack of
	// free capacity. Throttler.TryAcquireErr returns it; Acquire returns it
	// joined with ErrQueueFull when such a caller finds the queue full.
	ErrQuota = errors.New("semaphore: quota exceeded")

	// ErrConsumerQuota and ErrPriorityQuota say which quota held the caller
	// back: its consumer's share (WithConsumerShare) or its priority's
	// share (WithPriorityShare). Both wrap ErrQuota.
	ErrConsumerQuota = fmt.Errorf("%w: consumer share", ErrQuota)
	ErrPriorityQuota = fmt.Errorf("%w: priority share", ErrQuota)

	// ErrNilContext reports a call made with a nil context (net/http's
	// "nil Context"). It is returned at once; nothing was taken. It wraps
	// ErrInvalid.
	ErrNilContext = fmt.Errorf("%w: nil Context", ErrInvalid)
)

// errQueueFullConsumer and errQueueFullPriority are ErrQueueFull for a
// caller that had to wait because of its own quota, naming the quota.
// Built once so that rejecting under overload allocates nothing.
var (
	errQueueFullConsumer = fmt.Errorf("%w: %w", ErrQueueFull, ErrConsumerQuota)
	errQueueFullPriority = fmt.Errorf("%w: %w", ErrQueueFull, ErrPriorityQuota)
)

// invalidError is an ErrInvalid whose message names the argument and its
// value exactly, without ErrInvalid's own text appended.
type invalidError struct {
	msg string
	err error // a sentinel wrapping ErrInvalid that says more; nil if none
}

func (e *invalidError) Error() string { return e.msg }

// Unwrap makes errors.Is(err, ErrInvalid) true, and errors.Is(err, e.err)
// when it is set.
func (e *invalidError) Unwrap() error {
	if e.err != nil {
		return e.err
	}
	return ErrInvalid
}

// invalidf returns an error wrapping ErrInvalid whose message is
// "semaphore: " followed by the formatted text.
func invalidf(format string, args ...any) error {
	return &invalidError{msg: "semaphore: " + fmt.Sprintf(format, args...)}
}

// nilCtxErr is the error of a call made with a nil context, naming the
// call as in "Throttler.Acquire(n=1)".
func nilCtxErr(call string, n int64) error {
	return &invalidError{msg: fmt.Sprintf("semaphore: %s(n=%d): nil Context", call, n), err: ErrNilContext}
}
