package throttle

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/stretchr/testify/require"
)

// newBudgets returns the state of b, with its defaults, on clk.
func newBudgets(t *testing.T, b RetryBudget, clk *clock.Fake) *retryBudgets {
	t.Helper()
	d, err := b.withDefaults()
	require.NoError(t, err)
	require.NotNil(t, d)
	return newRetryBudgets(d, clk)
}

// withdrawals counts the retries host's budget allows now, up to limit.
func withdrawals(s *retryBudgets, host string, limit int) int {
	n := 0
	for n < limit && s.withdraw(host) {
		n++
	}
	return n
}

// nearlyNone is a floor of almost no retries.
const nearlyNone = 1e-9

func TestRetryBudgetFloor(t *testing.T) {
	clk := clock.NewFake(t0)
	// 2 per second over 10 s: 20 retries with no request at all.
	s := newBudgets(t, RetryBudget{MinPerSecond: 2}, clk)
	require.Equal(t, 20, withdrawals(s, "a", 100))
	require.False(t, s.withdraw("a"), "a refused retry spends nothing, and is refused again")
}

func TestRetryBudgetDefaultFloor(t *testing.T) {
	s := newBudgets(t, RetryBudget{}, clock.NewFake(t0))
	require.Equal(t, 100, withdrawals(s, "a", 1000), "10 per second of a 10 s window")
}

func TestRetryBudgetRatio(t *testing.T) {
	cases := []struct {
		ratio    float64
		requests int
		want     int
	}{
		{0.2, 0, 0},
		{0.2, 4, 0},
		{0.2, 5, 1},
		{0.2, 50, 10},
		{0.2, 54, 10},
		{0.5, 7, 3},
		{2, 3, 6},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("ratio=%v/requests=%d", tc.ratio, tc.requests), func(t *testing.T) {
			s := newBudgets(t, RetryBudget{Ratio: tc.ratio, MinPerSecond: nearlyNone}, clock.NewFake(t0))
			for range tc.requests {
				s.deposit("a")
			}
			require.Equal(t, tc.want, withdrawals(s, "a", 1000))
		})
	}
}

// The ratio and the floor add up: 100 requests at 0.2 and 1 per second
// over 10 s allow 20 + 10.
func TestRetryBudgetRatioPlusFloor(t *testing.T) {
	s := newBudgets(t, RetryBudget{MinPerSecond: 1}, clock.NewFake(t0))
	for range 100 {
		s.deposit("a")
	}
	require.Equal(t, 30, withdrawals(s, "a", 1000))
}

// Requests and retries count for a window, and stop counting as it slides
// past them, a tenth at a time.
func TestRetryBudgetWindowSlides(t *testing.T) {
	clk := clock.NewFake(t0)
	s := newBudgets(t, RetryBudget{Ratio: 1, MinPerSecond: nearlyNone, Window: 10 * time.Second}, clk)
	for range 6 {
		s.deposit("a")
	}
	require.Equal(t, 4, withdrawals(s, "a", 4))
	clk.Advance(5 * time.Second)
	for range 4 {
		s.deposit("a")
	}
	// 10 requests, 4 retries in the window: 6 more.
	require.Equal(t, 6, withdrawals(s, "a", 1000))
	clk.Advance(4999 * time.Millisecond) // t0+9.999 s: everything still counts
	require.False(t, s.withdraw("a"))
	clk.Advance(time.Millisecond) // t0+10 s: the first tenth's 6 requests and 4 retries leave
	// 4 requests and 6 retries left in the window: still none.
	require.False(t, s.withdraw("a"))
	for range 3 {
		s.deposit("a")
	}
	// 7 requests, 6 retries.
	require.Equal(t, 1, withdrawals(s, "a", 1000))
	clk.Advance(5 * time.Second) // the second batch left too: 3 requests, 1 retry
	require.Equal(t, 2, withdrawals(s, "a", 1000))
	clk.Advance(time.Hour) // all gone
	require.False(t, s.withdraw("a"))
	s.deposit("a")
	require.Equal(t, 1, withdrawals(s, "a", 1000))
}

// A clock that steps back leaves the counts as they were.
func TestRetryBudgetClockStepsBack(t *testing.T) {
	clk := clock.NewFake(t0.Add(time.Hour))
	s := newBudgets(t, RetryBudget{MinPerSecond: 0.3}, clk) // floor 3
	require.Equal(t, 3, withdrawals(s, "a", 10))
	clk.Set(t0)
	require.False(t, s.withdraw("a"))
}

func TestRetryBudgetPerHost(t *testing.T) {
	s := newBudgets(t, RetryBudget{MinPerSecond: 0.5}, clock.NewFake(t0)) // floor 5
	for range 10 {
		s.deposit("b")
	}
	require.Equal(t, 5, withdrawals(s, "a", 100))
	require.False(t, s.withdraw("a"))
	require.Equal(t, 7, withdrawals(s, "b", 100), "b's own requests and floor: 2 + 5")
	require.Equal(t, 5, withdrawals(s, "c", 100))
}

// Hosts whose counts have all left the window are forgotten, so a stream
// of new hosts keeps the table within about twice the hosts of a window.
func TestRetryBudgetForgetsIdleHosts(t *testing.T) {
	clk := clock.NewFake(t0)
	s := newBudgets(t, RetryBudget{}, clk)
	for i := range 10_000 {
		s.deposit(fmt.Sprintf("h%d", i))
		if i%100 == 99 {
			clk.Advance(time.Second) // 100 hosts a second, 1,000 a window
		}
	}
	require.LessOrEqual(t, s.len(), 2_100)
	clk.Advance(time.Hour)
	// The sweep is amortised over as many additions as it last left.
	for i := range 2_100 {
		s.deposit(fmt.Sprintf("new%d", i))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for host := range s.m {
		require.Regexp(t, "^new", host, "an idle host outlived its window")
	}
}

func TestRetryBudgetOptions(t *testing.T) {
	bad := []struct {
		b    RetryBudget
		want string
	}{
		{RetryBudget{Ratio: nan()}, "Budget.Ratio=NaN"},
		{RetryBudget{MinPerSecond: -1}, "Budget.MinPerSecond=-1"},
		{RetryBudget{MinPerSecond: nan()}, "Budget.MinPerSecond=NaN"},
		{RetryBudget{Window: -time.Second}, "Budget.Window=-1s"},
		{RetryBudget{MinPerSecond: 1e300}, "Budget.MinPerSecond=1e+300"},
	}
	for _, tc := range bad {
		t.Run(tc.want, func(t *testing.T) {
			b := tc.b
			_, err := NewSession(WithRetry(RetryPolicy{MaxRetries: 1, Budget: &b}))
			require.ErrorIs(t, err, ErrInvalidOption)
			require.ErrorContains(t, err, "WithRetry("+tc.want+")")
		})
	}
	for _, b := range []*RetryBudget{nil, {}, NoRetryBudget, {Ratio: -0.5}, {Ratio: 1, MinPerSecond: 1, Window: time.Minute}} {
		_, err := NewSession(WithRetry(RetryPolicy{MaxRetries: 1, Budget: b}))
		require.NoError(t, err, "%+v", b)
	}
}

func nan() float64 { return zero / zero }

var zero float64

// budgetSession returns a Session on a fake clock that retries GETs up to
// 3 times under budget b, waiting wait between attempts.
func budgetSession(t *testing.T, b *RetryBudget, wait time.Duration) *Session {
	return newTestSession(t, WithClock(clock.NewFake(t0)),
		WithRetry(RetryPolicy{MaxRetries: 3, MinWait: wait, MaxWait: wait, Budget: b}))
}

// A retry the budget refuses is not made: the call ends at once, with no
// backoff (here an hour long), with an error naming the last status and
// wrapping ErrRetryBudget.
func TestRetryBudgetRefusalReturnsAtOnce(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	s := budgetSession(t, &RetryBudget{MinPerSecond: nearlyNone}, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // fails, never hangs
	defer cancel()
	_, err := s.Get(ctx, rec.URL)
	require.ErrorIs(t, err, ErrRetryBudget)
	require.NotErrorIs(t, err, context.DeadlineExceeded)
	var re *RetryError
	require.ErrorAs(t, err, &re)
	require.Equal(t, 1, re.Attempts)
	require.Equal(t, http.StatusServiceUnavailable, re.StatusCode)
	require.ErrorContains(t, err, "retry budget spent for host 127.0.0.1:")
	require.EqualValues(t, 1, rec.count.Load())
	st := s.Stats()
	require.EqualValues(t, 1, st.RetriesRefused)
	require.EqualValues(t, 0, st.Retries)
}

// Where the last attempt failed without a response, the error wraps both
// ErrRetryBudget and the attempt's own error.
func TestRetryBudgetRefusalWrapsTheLastError(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close() // the client reads EOF
		}
	})
	s := budgetSession(t, &RetryBudget{MinPerSecond: nearlyNone}, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := s.Get(ctx, rec.URL)
	require.ErrorIs(t, err, ErrRetryBudget)
	require.ErrorIs(t, err, io.EOF)
	var ue *url.Error
	require.ErrorAs(t, err, &ue)
	require.ErrorContains(t, err, "retry budget spent for host 127.0.0.1:")
	require.EqualValues(t, 1, rec.count.Load())
	require.EqualValues(t, 1, s.Stats().RetriesRefused)
}

// Through a Session, each request earns its host Ratio retries; once they
// are spent, calls make one attempt each until more requests earn more.
// Every host has its own budget.
func TestRetryBudgetSessionRatioPerHost(t *testing.T) {
	fail := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }
	a, b := newRecorder(t, fail), newRecorder(t, fail)
	s := budgetSession(t, &RetryBudget{Ratio: 0.5, MinPerSecond: nearlyNone}, time.Millisecond)
	attempts := func(url string) int {
		_, err := s.Get(context.Background(), url)
		var re *RetryError
		require.ErrorAs(t, err, &re)
		return re.Attempts
	}
	// Request 1 earns half a retry: none. Request 2 earns the first, and
	// a second is refused. Request 3 earns half again: none; request 4
	// one, and so on.
	got := []int{attempts(a.URL), attempts(a.URL), attempts(a.URL), attempts(a.URL)}
	require.Equal(t, []int{1, 2, 1, 2}, got)
	require.Equal(t, 1, attempts(b.URL), "b's budget is its own")
	require.Equal(t, 2, attempts(b.URL))
	require.EqualValues(t, 6, a.count.Load())
	require.EqualValues(t, 3, b.count.Load())
	st := s.Stats()
	require.EqualValues(t, 3, st.Retries)
	require.EqualValues(t, 6, st.RetriesRefused)
}

// NoRetryBudget makes every retry MaxRetries allows.
func TestNoRetryBudget(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	s := budgetSession(t, NoRetryBudget, time.Millisecond)
	for range 3 {
		_, err := s.Get(context.Background(), rec.URL)
		require.NotErrorIs(t, err, ErrRetryBudget)
		var re *RetryError
		require.ErrorAs(t, err, &re)
		require.Equal(t, 4, re.Attempts)
	}
	require.EqualValues(t, 0, s.Stats().RetriesRefused)
}

// A call whose retries are used up by MaxRetries spends nothing of the
// budget on the retry it does not make.
func TestRetryBudgetNotSpentPastMaxRetries(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	s := budgetSession(t, &RetryBudget{MinPerSecond: 0.6}, time.Millisecond) // floor 6
	for range 2 {
		_, err := s.Get(context.Background(), rec.URL)
		require.NotErrorIs(t, err, ErrRetryBudget)
	}
	require.EqualValues(t, 8, rec.count.Load(), "two calls of 4 attempts spend the floor's 6 retries")
	require.EqualValues(t, 0, s.Stats().RetriesRefused)
}
