// Package admit carries the caller's priority in a context, so that
// ratelimit and semaphore, which do not know each other, order their
// waiters (internal/waitq) by one priority.
//
// It also still holds the queue limit the root package used to share
// through the context (Queue, WithQueue, Enter). The limiters no longer
// read it: admission is the root Transport's own step. It goes once the
// root package no longer calls it.
package admit

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrQueueFull is returned by Enter when the queue is full. The semaphore
// package exports it as semaphore.ErrQueueFull.
var ErrQueueFull = errors.New("semaphore: queue full")

type (
	priorityKey struct{}
	queueKey    struct{}
)

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

// Queue counts the callers waiting at once, across every limiter whose
// waits see it in their context.
type Queue struct {
	limit int64
	n     atomic.Int64
}

// NewQueue returns a queue that admits at most limit waiters at once.
func NewQueue(limit int) *Queue { return &Queue{limit: int64(limit)} }

// WithQueue returns a copy of ctx whose waits count against q.
func WithQueue(ctx context.Context, q *Queue) context.Context {
	return context.WithValue(ctx, queueKey{}, q)
}

// Enter counts the caller as waiting in ctx's queue, if it has one. It
// fails with ErrQueueFull, counting nothing, when the queue is full. The
// caller calls Leave on the result (nil-safe) when it stops waiting.
// Only callers that really wait call it: a fast path does not.
func Enter(ctx context.Context) (*Queue, error) {
	q, _ := ctx.Value(queueKey{}).(*Queue)
	if q == nil {
		return nil, nil
	}
	if q.n.Add(1) > q.limit {
		q.n.Add(-1)
		return nil, ErrQueueFull
	}
	return q, nil
}

// Leave counts the caller as no longer waiting.
func (q *Queue) Leave() {
	if q != nil {
		q.n.Add(-1)
	}
}

// Len reports the callers waiting now.
func (q *Queue) Len() int64 { return q.n.Load() }
