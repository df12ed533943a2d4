package throttle

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-throttle/throttle/feedback"
	"github.com/go-throttle/throttle/internal/clock"
	"github.com/stretchr/testify/require"
)

func TestInferWindow(t *testing.T) {
	for _, tc := range []struct {
		name       string
		limit, rem int
		reset      time.Duration
		has        bool
		want       time.Duration
	}{
		{"openai-minute", 150000, 149984, 6400 * time.Microsecond, true, time.Minute},
		{"spent-all", 1000, 0, 30 * time.Second, true, 30 * time.Second},
		{"second", 1000, 990, 10 * time.Millisecond, true, time.Second},
		{"near-a-minute", 100, 50, 28 * time.Second, true, time.Minute},
		{"nothing-spent", 100, 100, time.Second, true, 0},
		{"no-remaining", 100, 0, time.Second, false, 0},
		{"reset-passed", 100, 50, 0, true, 0},
		{"odd", 100, 50, 1234567 * time.Microsecond, true, 2469 * time.Millisecond},
		{"whole-seconds-too-coarse", 100, 99, 2 * time.Second, true, 0},
		{"whole-seconds-long-enough", 100, 80, 12 * time.Second, true, time.Minute},
		{"whole-millis", 1000, 999, 2 * time.Millisecond, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := feedback.Budget{Name: "tokens", Limit: tc.limit, HasRemaining: tc.has, Remaining: tc.rem, ResetAt: t0.Add(tc.reset)}
			require.Equal(t, tc.want, inferWindow(x, t0))
		})
	}
}

// A token budget's remaining count of 0 holds back the requests that name
// tokens until its reset, and only those (issue 13).
func TestLearnedTokenBudgetPausesOnlyItsRequests(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("x-ratelimit-limit-requests", "100")
		h.Set("x-ratelimit-remaining-requests", "99")
		h.Set("x-ratelimit-reset-requests", "600ms")
		h.Set("x-ratelimit-limit-tokens", "1000")
		h.Set("x-ratelimit-remaining-tokens", "0")
		h.Set("x-ratelimit-reset-tokens", "30s")
	})
	s := newTestSession(t, WithClock(fake))
	require.NoError(t, recvCost(t, costGet(s, context.Background(), rec.URL, 10)).err)

	tokens := costGet(s, context.Background(), rec.URL, 10)
	waitFor(t, "the tokens request waits", func() bool { return s.Stats().Waiting == 1 })
	for range 3 {
		resp, err := s.Get(context.Background(), rec.URL)
		require.NoError(t, err)
		drain(resp)
	}
	require.True(t, stillPending(tokens))
	fake.Advance(30 * time.Second)
	require.NoError(t, recvCost(t, tokens).err)
	require.EqualValues(t, 5, rec.count.Load())
}

// A cost above a budget the server stated fails at once too.
func TestCostAboveLearnedBudget(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("anthropic-ratelimit-output-tokens-limit", "8000")
		h.Set("anthropic-ratelimit-output-tokens-remaining", "7000")
		h.Set("anthropic-ratelimit-output-tokens-reset", time.Now().Add(7500*time.Millisecond).Format(time.RFC3339Nano))
	})
	s := newTestSession(t)
	resp, err := s.Get(context.Background(), rec.URL)
	require.NoError(t, err)
	drain(resp)
	_, err = s.Get(WithCost(context.Background(), "output-tokens", 9000), rec.URL)
	require.ErrorIs(t, err, ErrCostExceedsBudget)
	require.Contains(t, err.Error(), "8000")
}

// A concurrency limit the server states (qu="concurrent-requests") holds
// the host's requests in flight to it.
func TestLearnedConcurrencyLimit(t *testing.T) {
	release := make(chan struct{})
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Policy", `"inflight";q=2;qu="concurrent-requests"`)
		if r.URL.Query().Get("wait") != "" {
			<-release
		}
	})
	s := newTestSession(t)
	resp, err := s.Get(context.Background(), rec.URL)
	require.NoError(t, err)
	drain(resp)
	wait := getAll(context.Background(), s, rec.URL+"?wait=1", 6)
	waitFor(t, "two in flight, four waiting", func() bool { return rec.active.Load() == 2 && s.Stats().Waiting == 4 })
	close(release)
	noErrors(t, wait())
	require.EqualValues(t, 2, rec.maxActive.Load())
}

// A byte budget the server states (qu="content-bytes") charges request
// bodies their length.
func TestLearnedContentBytes(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Policy", `"bytes";q=100;qu="content-bytes";w=60`)
	})
	s := newTestSession(t, WithClock(fake))
	body := strings.Repeat("x", 80)
	post := func(ctx context.Context) error {
		resp, err := s.Post(ctx, rec.URL, "text/plain", strings.NewReader(body))
		if err == nil {
			drain(resp)
		}
		return err
	}
	require.NoError(t, post(context.Background())) // first contact: learns the budget
	require.NoError(t, post(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	require.ErrorIs(t, post(ctx), context.DeadlineExceeded)
	resp, err := s.Get(context.Background(), rec.URL) // no body: no cost
	require.NoError(t, err)
	drain(resp)
}
