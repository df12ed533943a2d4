// Package admit carries the caller's priority in a context, so that
// ratelimit and semaphore, which do not know each other, order their
// waiters (internal/waitq) by one priority. The queue limit is not here:
// admission is the root Transport's own step.
package admit

import (
	"context"
	"errors"
)

// ErrQueueFull is the error of a caller refused a queue place. The
// semaphore package exports it as semaphore.ErrQueueFull, and the root
// package as throttle.ErrQueueFull.
var ErrQueueFull = errors.New("semaphore: queue full")

type priorityKey struct{}

// WithPriority returns a copy of ctx whose waits are ordered at priority
// p: higher first.
func WithPriority(ctx context.Context, p int) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// Priority returns the priority ctx carries, 0 if none.
func Priority(ctx context.Context) int {
	p, _ := ctx.Value(priorityKey{}).(int)
	return p
}
