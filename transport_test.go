package throttle

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// countingLimiter counts the units it grants; TryAcquire refuses the
// first refuse calls.
type countingLimiter struct {
	granted atomic.Int64
	refuse  atomic.Int64
}

func (l *countingLimiter) Acquire(ctx context.Context, n int) error {
	l.granted.Add(int64(n))
	return nil
}

func (l *countingLimiter) TryAcquire(n int) bool {
	if l.refuse.Add(-1) >= 0 {
		return false
	}
	l.granted.Add(int64(n))
	return true
}

// A caller that one WithLimiter limiter makes wait is charged once by
// every other: a unit granted through TryAcquire cannot be given back, so
// the try path must not take one it may then take again while waiting.
func TestExtraLimitersChargedOnce(t *testing.T) {
	rec := newRecorder(t, nil)
	first, second := &countingLimiter{}, &countingLimiter{}
	second.refuse.Store(1) // makes the first caller wait
	s := newTestSession(t, WithLimiter(first), WithLimiter(second))
	for range 3 {
		_, err := getOne(context.Background(), s, rec.URL)
		require.NoError(t, err)
	}
	require.EqualValues(t, 3, first.granted.Load(), "the first limiter was charged twice for a caller the second made wait")
	require.EqualValues(t, 3, second.granted.Load())
}
