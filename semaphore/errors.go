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
	// once; nothing was taken. (It is the value internal/admit returns too,
	// for the queue limit the root package still shares across its waits.)
	ErrQueueFull = admit.ErrQueueFull

	// ErrExceedsCapacity reports a request for more units than could ever be
	// granted: more than the capacity, or more than the caller's consumer or
	// priority quota allows. Unlike x/sync/semaphore, which blocks such a
	// caller until its context ends, it is returned at once.
	ErrExceedsCapacity = errors.New("semaphore: n exceeds capacity")

	// ErrQuota reports that the caller is held back by its own quota
	// (WithConsumerShare or WithPriorityShare) rather than by a lack of
	// free capacity. Every such error is a *QuotaError, whose message and
	// Consumer field say which quota refused. Acquire returns one under
	// WithRejectOnQuota, and joined with ErrQueueFull when a caller that
	// would wait for its quota finds the queue full.
	ErrQuota = errors.New("semaphore: quota exceeded")

	// ErrNilContext reports a call made with a nil context (net/http's
	// "nil Context"). It is returned at once; nothing was taken. It wraps
	// ErrInvalid.
	ErrNilContext = fmt.Errorf("%w: nil Context", ErrInvalid)
)

// QuotaError is the error of a caller held back by its own quota: the
// share of its consumer (WithConsumerShare) if Consumer is set, else the
// share of its priority (WithPriorityShare). It wraps ErrQuota, which is
// what callers match; errors.As tells the two quotas apart where that
// matters (the middleware package answers with a different reason). The
// zero value reports the priority share.
type QuotaError struct {
	Consumer bool // the consumer's share refused; false: a priority share
}

// Error returns "semaphore: quota exceeded: consumer share" or
// "semaphore: quota exceeded: priority share".
func (e *QuotaError) Error() string {
	if e.Consumer {
		return ErrQuota.Error() + ": consumer share"
	}
	return ErrQuota.Error() + ": priority share"
}

// Unwrap makes errors.Is(err, ErrQuota) true.
func (e *QuotaError) Unwrap() error { return ErrQuota }

// The quota errors, alone and joined with ErrQueueFull for a caller that
// would wait because of its own quota. Built once so that rejecting under
// overload allocates nothing.
var (
	errConsumerQuota     error = &QuotaError{Consumer: true}
	errPriorityQuota     error = &QuotaError{}
	errQueueFullConsumer       = fmt.Errorf("%w: %w", ErrQueueFull, errConsumerQuota)
	errQueueFullPriority       = fmt.Errorf("%w: %w", ErrQueueFull, errPriorityQuota)
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
