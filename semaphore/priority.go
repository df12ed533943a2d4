package semaphore

import (
	"context"
	"strconv"

	"github.com/go-throttle/throttle/internal/admit"
)

// Priority orders waiters: a waiter of higher priority is served before
// every waiter of lower priority, whenever they arrived. Any int value may
// be used; the three named ones cover most needs. The zero value is
// PriorityNormal.
//
// Higher priorities can starve lower ones under sustained load; that is the
// point of a priority. Use WithPriorityShare to keep a reserve for them
// instead of, or as well as, ordering.
type Priority int

// The named priorities.
const (
	// PriorityLow is for background work that may wait: crawls, prefetches.
	PriorityLow Priority = -1
	// PriorityNormal is the default, used when the context names none.
	PriorityNormal Priority = 0
	// PriorityHigh is for interactive or latency-critical work.
	PriorityHigh Priority = 1
)

// String returns "high", "normal" or "low" for the named priorities and
// "priority(N)" for any other value.
func (p Priority) String() string {
	switch p {
	case PriorityHigh:
		return "high"
	case PriorityNormal:
		return "normal"
	case PriorityLow:
		return "low"
	}
	return "priority(" + strconv.Itoa(int(p)) + ")"
}

// consumerKey is the context key of the consumer name; being an
// unexported type, it cannot collide with other packages' keys. The
// priority is kept by internal/admit, so that the ratelimit package orders
// its waiters by the same priority.
type consumerKey struct{}

// WithPriority returns a copy of ctx that carries priority p. Acquire calls
// made with it wait at that priority.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return admit.WithPriority(ctx, int(p))
}

// PriorityFrom returns the priority ctx carries, or PriorityNormal if it
// carries none (a nil ctx carries none).
func PriorityFrom(ctx context.Context) Priority {
	if ctx == nil {
		return PriorityNormal
	}
	return Priority(admit.Priority(ctx))
}

// WithConsumer returns a copy of ctx that names the consumer (a tenant, a
// user, a job) on whose behalf a Throttler is called; per-consumer quotas
// (WithConsumerShare) are counted by this name.
func WithConsumer(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, consumerKey{}, name)
}

// ConsumerFrom returns the consumer name ctx carries, or "" if it carries
// none (a nil ctx carries none).
func ConsumerFrom(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	name, _ := ctx.Value(consumerKey{}).(string)
	return name
}
