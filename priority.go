package throttle

import (
	"context"

	"github.com/go-throttle/throttle/semaphore"
)

// Priority orders waiting callers: higher priorities go first, FIFO
// within a priority. The zero value is PriorityNormal.
type Priority = semaphore.Priority

// The priorities, from the semaphore package.
const (
	PriorityHigh   = semaphore.PriorityHigh
	PriorityNormal = semaphore.PriorityNormal
	PriorityLow    = semaphore.PriorityLow
)

// WithPriority returns a context whose requests wait at priority p for
// slots and tokens: interactive calls marked PriorityHigh overtake a bulk
// job at PriorityLow sharing the same session.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return semaphore.WithPriority(ctx, p)
}

// WithConsumer returns a context whose requests count against consumer
// name's share (see WithConsumerShare).
func WithConsumer(ctx context.Context, name string) context.Context {
	return semaphore.WithConsumer(ctx, name)
}
