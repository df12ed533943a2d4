package throttle

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A caller whose deadline falls before its host's pause ends is not
// retried: the pause outlasts every backoff that fits in the deadline, so
// each retry would only fail the same way.
func TestDefaultRetryPolicyRefusesHostPaused(t *testing.T) {
	ctx := context.WithValue(context.Background(), idempotentKey{}, true)
	err := fmt.Errorf("throttle: host h is paused for 1m0s, past the context deadline: %w", hostPausedDeadline)
	retry, checkErr := DefaultRetryPolicy(ctx, nil, err)
	require.False(t, retry)
	require.NoError(t, checkErr)
}

// The same through a Session: the second call fails at once with
// ErrHostPaused, after no retry and no attempt on the wire.
func TestHostPausedPastDeadlineNotRetried(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	s := newTestSession(t, WithRetry(RetryPolicy{MaxRetries: 3, MinWait: time.Millisecond, MaxWait: time.Millisecond}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := getOne(ctx, s, rec.URL) // pauses the host; its retry is refused
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.EqualValues(t, 1, rec.count.Load())

	retries := s.Stats().Retries
	_, err = getOne(ctx, s, rec.URL)
	require.ErrorIs(t, err, ErrHostPaused)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, retries, s.Stats().Retries, "a call refused by the host's pause was retried")
	require.EqualValues(t, 1, rec.count.Load())
}
