package throttle

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
	"github.com/stretchr/testify/require"
)

// costGet starts a GET of url costing n tokens in the background; the
// response (its body drained and closed) or error arrives on the channel.
func costGet(s *Session, ctx context.Context, url string, n int64) chan costResult {
	done := make(chan costResult, 1)
	go func() {
		resp, err := s.Get(WithCost(ctx, "tokens", n), url)
		if err == nil {
			drain(resp)
		}
		done <- costResult{resp, err}
	}()
	return done
}

type costResult struct {
	resp *http.Response
	err  error
}

func recvCost(t *testing.T, ch chan costResult) costResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("request did not finish")
		return costResult{}
	}
}

func stillPending(ch chan costResult) bool {
	select {
	case r := <-ch:
		ch <- r
		return false
	default:
		return true
	}
}

// The example: a call charged 1,200 tokens that used 350 gives 850
// back at once, so the next caller does not wait for them.
func TestSettleGivesBackAtOnce(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithBudget("tokens", 1200, time.Minute), WithClock(fake))
	first := recvCost(t, costGet(s, context.Background(), rec.URL, 1200))
	require.NoError(t, first.err)

	next := costGet(s, context.Background(), rec.URL, 800)
	waitFor(t, "the next caller waits", func() bool { return s.Stats().Waiting == 1 })
	require.True(t, stillPending(next))
	Settle(first.resp, "tokens", 350)
	r := recvCost(t, next)
	require.NoError(t, r.err)
	require.EqualValues(t, 2, rec.count.Load())
	require.Equal(t, t0, fake.Now(), "no time passed")

	// Settling a name the attempt was not charged on, or a response no
	// Session sent, does nothing.
	Settle(r.resp, "other", 0)
	Settle(&http.Response{}, "tokens", 0)
	Settle(nil, "tokens", 0)
}

// Settling above the charge takes the difference.
func TestSettleTakesMore(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithBudget("tokens", 1000, time.Minute), WithClock(fake))
	first := recvCost(t, costGet(s, context.Background(), rec.URL, 100))
	require.NoError(t, first.err)
	Settle(first.resp, "tokens", 600)
	next := costGet(s, context.Background(), rec.URL, 500)
	waitFor(t, "the next caller waits", func() bool { return s.Stats().Waiting == 1 })
	Settle(first.resp, "tokens", 500)
	require.NoError(t, recvCost(t, next).err)
}

// A cost larger than the whole budget fails at once, naming the budget,
// the cost and the limit, and is not retried.
func TestCostAboveBudgetFailsAtOnce(t *testing.T) {
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithBudget("tokens", 1000, time.Minute), WithRetry(RetryPolicy{MaxRetries: 3}))
	_, err := s.Get(WithCost(context.Background(), "tokens", 1001), rec.URL)
	require.ErrorIs(t, err, ErrCostExceedsBudget)
	require.ErrorIs(t, err, ErrExceedsLimit)
	for _, want := range []string{`"tokens"`, "1001", "1000", "1m0s"} {
		require.Contains(t, err.Error(), want)
	}
	require.Zero(t, rec.count.Load())

	hs := newTestSession(t, WithBudgetFor(hostOf(rec.URL), "tokens", 10, time.Second))
	_, err = hs.Get(WithCost(context.Background(), "tokens", 11), rec.URL)
	require.ErrorIs(t, err, ErrCostExceedsBudget)
	require.Contains(t, err.Error(), "host "+hostOf(rec.URL))
}

func hostOf(u string) string { return strings.TrimPrefix(u, "http://") }

// Bad costs and budgets are errors naming the value.
func TestBudgetInputErrors(t *testing.T) {
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithBudget("tokens", 10, time.Second))
	_, err := s.Get(WithCost(context.Background(), "tokens", -3), rec.URL)
	require.ErrorIs(t, err, ErrInvalidOption)
	require.Contains(t, err.Error(), "-3")
	_, err = s.Get(WithCost(context.Background(), "", 3), rec.URL)
	require.ErrorIs(t, err, ErrInvalidOption)

	for _, o := range []Option{
		WithBudget("", 1, time.Second), WithBudget("tokens", 0, time.Second),
		WithBudget("tokens", 1, 0), WithBudget("tokens", 1<<40, time.Second),
		WithBudgetFor("", "tokens", 1, time.Second), WithBudgetFor("http://x/", "tokens", 1, time.Second),
	} {
		_, err := NewSession(o)
		require.ErrorIs(t, err, ErrInvalidOption)
	}
	_, err = NewSession(WithBudget("tokens", 0, -time.Second))
	require.ErrorContains(t, err, "n=0")
}

// A request that names no cost for a budget costs nothing against it;
// one that names another budget's cost neither.
func TestNoCostNoCharge(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithBudget("tokens", 5, time.Minute), WithClock(fake))
	require.NoError(t, recvCost(t, costGet(s, context.Background(), rec.URL, 5)).err)
	for range 3 {
		resp, err := s.Get(context.Background(), rec.URL)
		require.NoError(t, err)
		drain(resp)
		resp, err = s.Get(WithCost(context.Background(), "images", 1), rec.URL)
		require.NoError(t, err)
		drain(resp)
	}
	require.EqualValues(t, 7, rec.count.Load())
}

// Waits are first come, first served: a large cost is not overtaken by
// the small ones that came after it, and the wait ends with the context,
// giving back nothing it had not taken.
func TestBudgetWaitsInOrder(t *testing.T) {
	fake := clock.NewFake(t0)
	var mu sync.Mutex
	var order []string
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		order = append(order, r.URL.Query().Get("id"))
		mu.Unlock()
	})
	s := newTestSession(t, WithBudget("tokens", 10, time.Second), WithClock(fake))
	require.NoError(t, recvCost(t, costGet(s, context.Background(), rec.URL+"?id=first", 10)).err)

	big := costGet(s, context.Background(), rec.URL+"?id=big", 8)
	waitFor(t, "big waits", func() bool { return s.Stats().Waiting == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := costGet(s, ctx, rec.URL+"?id=cancelled", 1)
	waitFor(t, "two wait", func() bool { return s.Stats().Waiting == 2 })
	small := costGet(s, context.Background(), rec.URL+"?id=small", 2)
	waitFor(t, "three wait", func() bool { return s.Stats().Waiting == 3 })
	cancel()
	r := recvCost(t, cancelled)
	require.ErrorIs(t, r.err, context.Canceled)

	// A deadline the wait cannot meet fails at once.
	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(500*time.Millisecond))
	defer dcancel()
	_, err := s.Get(WithCost(dctx, "tokens", 1), rec.URL+"?id=late")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	fake.Advance(guarded(time.Second))
	require.NoError(t, recvCost(t, big).err)
	require.NoError(t, recvCost(t, small).err)
	require.Equal(t, []string{"first", "big", "small"}, order)
}

// A host's budget comes before the session's: a caller waiting for its
// host's budget holds nothing of the session's, so requests to other
// hosts go on.
func TestHostBudgetBeforeSession(t *testing.T) {
	fake := clock.NewFake(t0)
	a, b := newRecorder(t, nil), newRecorder(t, nil)
	s := newTestSession(t, WithClock(fake),
		WithBudgetFor(hostOf(a.URL), "tokens", 10, time.Minute),
		WithBudget("tokens", 100, time.Minute))
	require.NoError(t, recvCost(t, costGet(s, context.Background(), a.URL, 10)).err)
	waiting := costGet(s, context.Background(), a.URL, 10)
	waitFor(t, "a caller of host a waits", func() bool { return s.Stats().Waiting == 1 })
	for range 8 {
		require.NoError(t, recvCost(t, costGet(s, context.Background(), b.URL, 10)).err)
	}
	// The session's budget is spent now (10 + 80): the waiter, once its
	// host's budget frees, waits for the session's too.
	require.True(t, stillPending(waiting))
	fake.Advance(guarded(time.Minute))
	require.NoError(t, recvCost(t, waiting).err)
}

// Settle reaches a Transport used on its own, through the response's
// request.
func TestSettleThroughTransport(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, nil)
	tr, err := NewTransport(nil, WithBudget("tokens", 100, time.Minute), WithClock(fake))
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	c := &http.Client{Transport: tr}
	get := func(n int64) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(WithCost(context.Background(), "tokens", n), "GET", rec.URL, nil)
		return c.Do(req)
	}
	resp, err := get(100)
	require.NoError(t, err)
	drain(resp)
	Settle(resp, "tokens", 0)
	resp, err = get(100)
	require.NoError(t, err)
	drain(resp)
}

// The window of a budget is strict like WithRateLimit's: a grant occupies
// capacity from the grant, and counts from the send.
func TestBudgetIsAWindow(t *testing.T) {
	b, err := newCostBudgets(&config{budgets: []budgetSpec{{name: "tokens", n: 10, per: time.Second}}, clock: clock.NewFake(t0), noFeedback: true})
	require.NoError(t, err)
	require.Len(t, b.session, 1)
	n, per := b.session[0].w.Limit()
	require.Equal(t, 10, n)
	require.Equal(t, guarded(time.Second), per)
	var _ ratelimit.Limiter = b.session[0].w
	require.True(t, errors.Is(b.check(WithCost(context.Background(), "tokens", 11), ""), ErrCostExceedsBudget))
}
