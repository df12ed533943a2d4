package throttle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestSession(t *testing.T, opts ...Option) *Session {
	t.Helper()
	// The tests of the other layers assert their exact pauses and counts:
	// the adaptive limits, which add their own, are off unless a test
	// turns them on (adaptive_test.go, politeness_test.go).
	s, err := NewSession(append([]Option{WithAdaptive(false)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// getAll starts n Gets of url at once and returns a function that waits
// for them and reports how many failed.
func getAll(ctx context.Context, s *Session, url string, n int) (wait func() []error) {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			resp, err := s.Get(ctx, url)
			if err == nil {
				drain(resp)
			}
			errs[i] = err
		})
	}
	return func() []error { wg.Wait(); return errs }
}

func noErrors(t *testing.T, errs []error) {
	t.Helper()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

// Semantic 1, deterministically: the limit applies when the attempt is
// sent. With the clock stopped, exactly n of 1,000 callers reach the
// server; the rest wait until the window moves on.
func TestRateLimitAppliesAtSend(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithRateLimit(100, time.Second), WithClock(fake))

	wait := getAll(context.Background(), s, rec.URL, 1000)
	// An attempt on a new connection is stamped when its response begins,
	// after the server has counted it: wait until every attempt sent has
	// finished, so that none is stamped after the clock moves.
	served := func(n int64) func() bool {
		return func() bool { return rec.count.Load() == n && s.Stats().InFlight == 0 }
	}
	waitFor(t, "100 requests served and 900 waiting", func() bool {
		return served(100)() && s.Stats().Waiting == 900
	})
	// The window is the limit's per plus its guard (see guarded).
	per := guarded(time.Second)
	fake.Advance(per - time.Millisecond)
	require.EqualValues(t, 100, rec.count.Load(), "a request started before the window moved on")
	fake.Advance(time.Millisecond)
	waitFor(t, "200 requests", served(200))
	for step := int64(3); step <= 10; step++ {
		fake.Advance(per)
		waitFor(t, fmt.Sprintf("%d requests", step*100), served(step*100))
	}
	noErrors(t, wait())
	require.EqualValues(t, 1000, s.Stats().Requests)
	require.Zero(t, s.Stats().InFlight)
}

// Semantic 1, on the wall clock: 400 callers at 100 per second finish in
// about 3 s, and no window of 1 s holds more than 100 writes. At the
// server a burst of new connections is accepted with up to ~100 ms of
// jitter on a busy 2-core machine, so there the window is shortened by
// that much.
func TestRateLimitRealTime(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 3 s")
	}
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithRateLimit(100, time.Second))
	var mu sync.Mutex
	var writes []time.Time
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		WroteHeaders: func() { mu.Lock(); writes = append(writes, time.Now()); mu.Unlock() },
	})
	start := time.Now()
	noErrors(t, getAll(ctx, s, rec.URL, 400)())
	elapsed := time.Since(start)

	require.Greater(t, elapsed, 2900*time.Millisecond, "faster than the limit allows")
	require.Less(t, elapsed, 6*time.Second, "far slower than the limit allows")
	require.LessOrEqual(t, maxInWindow(writes, time.Second-10*time.Millisecond), 100, "writes at the client")
	require.LessOrEqual(t, rec.maxInWindow(time.Second-150*time.Millisecond), 100, "arrivals at the server")
}

// Semantic 2: WithBurst(1) spaces starts per/n apart.
func TestBurstOneSpacesStarts(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithRateLimit(10, time.Second), WithBurst(1), WithClock(fake))

	wait := getAll(context.Background(), s, rec.URL, 5)
	waitFor(t, "the first request", func() bool { return rec.count.Load() == 1 && s.Stats().Waiting == 4 })
	for want := int64(2); want <= 5; want++ {
		fake.Advance(99 * time.Millisecond)
		require.EqualValues(t, want-1, rec.count.Load(), "started before per/n had passed")
		fake.Advance(time.Millisecond)
		waitFor(t, fmt.Sprintf("request %d", want), func() bool { return rec.count.Load() == want })
	}
	noErrors(t, wait())
}

// Semantic 3: two hosts each serve exactly their limit at once, in
// parallel with each other; a slot is held until the body is closed.
func TestHostConcurrencyPerHost(t *testing.T) {
	release, open := newLatch()
	defer open()
	handler := func(w http.ResponseWriter, r *http.Request) {
		// Headers first, so the first contact with each host completes
		// and the others may follow it; then hold the body open.
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-release
	}
	a, b := newRecorder(t, handler), newRecorder(t, handler)
	s := newTestSession(t, WithHostConcurrency(3))

	waitA := getAll(context.Background(), s, a.URL, 10)
	waitB := getAll(context.Background(), s, b.URL, 10)
	waitFor(t, "3 in each handler", func() bool { return a.active.Load() == 3 && b.active.Load() == 3 })
	waitFor(t, "6 in flight and 14 waiting", func() bool {
		st := s.Stats()
		return st.InFlight == 6 && st.Waiting == 14
	})
	open()
	noErrors(t, waitA())
	noErrors(t, waitB())
	require.EqualValues(t, 3, a.maxActive.Load())
	require.EqualValues(t, 3, b.maxActive.Load())
}

func TestSlotHeldUntilBodyClosed(t *testing.T) {
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithHostConcurrency(1))
	first, err := s.Get(context.Background(), rec.URL)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = s.Get(ctx, rec.URL)
	require.ErrorIs(t, err, context.DeadlineExceeded, "second request ran while the first body was open")

	first.Body.Close() // closed early, unread: everything it held is released
	require.Zero(t, s.Stats().InFlight)
	second, err := s.Get(context.Background(), rec.URL)
	require.NoError(t, err)
	drain(second)
}

// A per-host override alone limits that host and no other.
func TestHostConcurrencyOverrideOnly(t *testing.T) {
	release, open := newLatch()
	defer open()
	handler := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-release
	}
	limited, free := newRecorder(t, handler), newRecorder(t, handler)
	s := newTestSession(t, WithHostConcurrencyFor(strings.TrimPrefix(limited.URL, "http://"), 1))

	waitLimited := getAll(context.Background(), s, limited.URL, 3)
	waitFree := getAll(context.Background(), s, free.URL, 3)
	waitFor(t, "1 in the limited host, 3 in the other", func() bool {
		return limited.active.Load() == 1 && free.active.Load() == 3 && s.Stats().Waiting == 2
	})
	open()
	noErrors(t, waitLimited())
	noErrors(t, waitFree())
	require.EqualValues(t, 1, limited.maxActive.Load())
}

func TestSlotReleasedAtEOF(t *testing.T) {
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithMaxConcurrency(1))
	resp, err := s.Get(context.Background(), rec.URL)
	require.NoError(t, err)
	_, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Zero(t, s.Stats().InFlight, "slot still held after EOF")
	resp.Body.Close()
}

// Semantic 3: the backoff sleep between retries holds no slot.
func TestBackoffHoldsNoSlot(t *testing.T) {
	var calls atomic.Int64
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/flaky" && calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	s := newTestSession(t, WithHostConcurrency(1),
		WithRetry(RetryPolicy{MaxRetries: 1, MinWait: 2 * time.Second, MaxWait: 2 * time.Second}))

	done := make(chan error, 1)
	go func() {
		resp, err := s.Get(context.Background(), rec.URL+"/flaky")
		if err == nil {
			drain(resp)
		}
		done <- err
	}()
	waitFor(t, "the first attempt", func() bool { return calls.Load() == 1 && s.Stats().InFlight == 0 })
	// While the flaky request sleeps before its retry, another gets the slot.
	resp, err := s.Get(context.Background(), rec.URL+"/other")
	require.NoError(t, err)
	drain(resp)
	select {
	case err := <-done:
		t.Fatalf("retry finished before the other request: %v", err)
	default:
	}
	require.NoError(t, <-done)
	require.EqualValues(t, 1, s.Stats().Retries)
}

// Semantic 4: a redirect hop to another host counts against that host.
func TestRedirectHopCountsAgainstItsHost(t *testing.T) {
	target := newRecorder(t, nil)
	origin := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/landed", http.StatusFound)
	})
	targetHost := strings.TrimPrefix(target.URL, "http://")
	s := newTestSession(t, WithRateLimitFor(targetHost, 1, time.Hour))

	resp, err := s.Get(context.Background(), origin.URL)
	require.NoError(t, err)
	drain(resp)
	require.Equal(t, "/landed", resp.Request.URL.Path)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = s.Get(ctx, origin.URL)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the second hop to the limited host must not fit in the deadline")
	require.EqualValues(t, 2, origin.count.Load(), "the origin is not limited")
	require.EqualValues(t, 1, target.count.Load())
	require.EqualValues(t, 3, s.Stats().Requests, "each hop is an attempt")
}

// Semantic 8: retries of idempotent methods on 5xx, of any method on 429
// and on a 403 that says it is a rate limit (issue 7).
func TestRetryPolicy(t *testing.T) {
	cases := []struct {
		name     string
		method   string
		status   int
		header   map[string]string
		attempts int64
		wantErr  bool
	}{
		{"GET retried on 503", http.MethodGet, 503, nil, 3, true},
		{"PUT retried on 502", http.MethodPut, 502, nil, 3, true},
		{"POST not retried on 503", http.MethodPost, 503, nil, 1, false},
		{"POST retried on 429", http.MethodPost, 429, nil, 3, true},
		{"GET not retried on 404", http.MethodGet, 404, nil, 1, false},
		{"GET not retried on 501", http.MethodGet, 501, nil, 1, false},
		{"POST with Idempotency-Key retried on 503", "POST+key", 503, nil, 3, true},
		{"POST retried on 403 with Retry-After", http.MethodPost, 403, map[string]string{"Retry-After": "0"}, 3, true},
		{"GET retried on 403 with X-RateLimit-Remaining 0", http.MethodGet, 403,
			map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"}, 3, true},
		{"GET not retried on a plain 403", http.MethodGet, 403, nil, 1, false},
		{"PUT not retried on 403 with remaining left", http.MethodPut, 403,
			map[string]string{"X-RateLimit-Remaining": "10", "X-RateLimit-Reset": "60"}, 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
			})
			s := newTestSession(t, WithRetry(RetryPolicy{MaxRetries: 2, MinWait: time.Millisecond, MaxWait: time.Millisecond}))
			method, withKey := strings.CutSuffix(tc.method, "+key")
			req, err := http.NewRequest(method, rec.URL, strings.NewReader("body"))
			require.NoError(t, err)
			if withKey {
				req.Header.Set("Idempotency-Key", "k-1")
			}
			resp, err := s.Do(req)
			require.EqualValues(t, tc.attempts, rec.count.Load())
			if tc.status == http.StatusForbidden {
				// A 403 that is a rate limit counts as throttled, as a 429 does.
				throttled := map[bool]int64{true: tc.attempts}[tc.wantErr]
				require.Equal(t, throttled, s.Stats().Throttled)
			}
			if !tc.wantErr {
				require.NoError(t, err)
				require.Equal(t, tc.status, resp.StatusCode)
				drain(resp)
				return
			}
			var re *RetryError
			require.ErrorAs(t, err, &re)
			require.Equal(t, 3, re.Attempts)
			require.Equal(t, tc.status, re.StatusCode)
			require.Contains(t, err.Error(), fmt.Sprint(tc.status))
		})
	}
}

func TestRetrySucceedsAfterFailures(t *testing.T) {
	var calls atomic.Int64
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "finally")
	})
	s := newTestSession(t, WithRetry(RetryPolicy{MaxRetries: 3, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond}))
	resp, err := s.Get(context.Background(), rec.URL)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "finally", string(body))
	require.EqualValues(t, 2, s.Stats().Retries)
	require.EqualValues(t, 3, s.Stats().Requests)
}

func TestRetryAfterHonouredButNotPastDeadline(t *testing.T) {
	var calls atomic.Int64
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0.3")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	s := newTestSession(t, WithRetry(RetryPolicy{MaxRetries: 1, MinWait: time.Millisecond, MaxWait: 5 * time.Second}))
	start := time.Now()
	resp, err := s.Get(context.Background(), rec.URL)
	require.NoError(t, err)
	drain(resp)
	require.GreaterOrEqual(t, time.Since(start), 290*time.Millisecond, "decimal Retry-After was not honoured")

	calls.Store(0)
	rec.handle = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start = time.Now()
	_, err = s.Get(ctx, rec.URL)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), time.Second, "slept into the deadline instead of failing at once")
}

// Issue 7: a wait the server directs is honoured up to WithMaxPause, the
// one cap on every server-directed wait, whatever it asks for: the retry
// comes after the cap (not after MaxWait, and not never), and the call
// succeeds when the retry does. Real time, since go-retryablehttp sleeps on
// the real clock: the cap is small and the bound generous.
func TestServerWaitCappedByMaxPause(t *testing.T) {
	const maxPause = 300 * time.Millisecond
	cases := map[string]string{
		"100 years":        "3153600000",
		"date in 31 years": time.Now().AddDate(31, 0, 0).UTC().Format(http.TimeFormat),
		"past int64":       "99999999999999999999999",
	}
	for name, retryAfter := range cases {
		for _, feedback := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/feedback=%v", name, feedback), func(t *testing.T) {
				deadline := 30 * time.Second
				if name == "100 years" {
					deadline = 0 // no deadline: then only the cap bounds the wait
				}
				var calls atomic.Int64
				rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
					if calls.Add(1) == 1 {
						w.Header().Set("Retry-After", retryAfter)
						w.WriteHeader(http.StatusTooManyRequests)
					}
				})
				s := newTestSession(t, WithMaxPause(maxPause), WithServerFeedback(feedback),
					WithRetry(RetryPolicy{MaxRetries: 1, MinWait: time.Millisecond}))
				ctx, cancel := context.WithCancel(context.Background())
				if deadline > 0 {
					ctx, cancel = context.WithTimeout(context.Background(), deadline)
				}
				defer cancel()
				start := time.Now()
				status, err := getOne(ctx, s, rec.URL)
				elapsed := time.Since(start)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, status)
				require.EqualValues(t, 2, rec.count.Load())
				require.GreaterOrEqual(t, elapsed, maxPause-10*time.Millisecond, "the capped wait was not honoured")
				require.Less(t, elapsed, 3*time.Second, "waited past WithMaxPause (MaxWait is 5 s)")
			})
		}
	}
}

// Issue 7: the retry layer reads a Retry-After on the session's clock,
// caps it by WithMaxPause rather than MaxWait, and gives up at once only
// when the capped wait falls past the deadline. MaxWait bounds the backoff
// the client chooses itself.
func TestRetryLayerServerWait(t *testing.T) {
	// An hour ahead of the real clock, so that time.Now() would misread an
	// HTTP date, and the context's deadline cannot pass during the test.
	fake := clock.NewFake(time.Now().Add(time.Hour).Truncate(time.Second))
	s := newTestSession(t, WithClock(fake), WithMaxPause(2*time.Second),
		WithRetry(RetryPolicy{MaxRetries: 1, MinWait: 10 * time.Millisecond, MaxWait: 50 * time.Millisecond,
			Backoff: func(time.Duration, time.Duration, int, *http.Response) time.Duration { return time.Hour }}))
	c := s.retry.client
	backoff := func(status int, retryAfter string) time.Duration {
		return c.Backoff(c.RetryWaitMin, c.RetryWaitMax, 0, responseWith(status, retryAfter))
	}
	require.Equal(t, time.Second, backoff(429, "1"), "a Retry-After under the cap is honoured, past MaxWait")
	require.Equal(t, 2*time.Second, backoff(503, "3153600000"), "capped by WithMaxPause")
	require.Equal(t, 2*time.Second, backoff(429, strings.Repeat("9", 30)), "past int64, capped by WithMaxPause")
	in1500ms := fake.Now().Add(1500 * time.Millisecond).Format(http.TimeFormat) // whole seconds: 1 s
	require.Equal(t, time.Second, backoff(403, in1500ms), "an HTTP date is read on the session's clock")
	require.Equal(t, 50*time.Millisecond, backoff(502, ""), "the client's own backoff is bounded by MaxWait")
	require.Equal(t, 50*time.Millisecond, backoff(502, "1"), "a 502's Retry-After directs no wait")

	ctx, cancel := context.WithDeadline(context.Background(), fake.Now().Add(3*time.Second))
	defer cancel()
	retry, err := c.CheckRetry(ctx, responseWith(429, "3153600000"), nil)
	require.NoError(t, err)
	require.True(t, retry, "the capped wait fits in the deadline")
	fake.Advance(1500 * time.Millisecond)
	retry, err = c.CheckRetry(ctx, responseWith(429, "3153600000"), nil)
	require.False(t, retry, "the capped wait no longer fits in the deadline")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "wait 2s")
}

// Issue 8: an attempt's response is parsed once, on the session's clock,
// and the retry layer reuses that parse: it finds the attempt through
// resp.Request. With the headers gone after the attempt, the retry layer
// still sees the Retry-After and the rate-limit 403 the attempt read, and
// the wait counts down on the session's clock. With feedback off, the
// retry layer's own first read is the one parse.
func TestRetryReusesTheAttemptsParse(t *testing.T) {
	for _, fb := range []bool{true, false} {
		t.Run(fmt.Sprintf("feedback=%v", fb), func(t *testing.T) {
			fake := clock.NewFake(t0)
			base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				resp := responseWith(http.StatusForbidden, "2")
				resp.Request = req
				return resp, nil
			})
			s := newTestSession(t, WithClock(fake), WithTransport(base), WithServerFeedback(fb),
				WithMaxPause(time.Minute), WithRetry(RetryPolicy{MaxRetries: 1, MaxWait: time.Hour}))
			wc := s.transport.waitContext(context.Background())
			defer wc.release()
			req, err := http.NewRequestWithContext(wc, http.MethodPost, "http://a.example/", nil)
			require.NoError(t, err)
			resp, err := s.transport.RoundTrip(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			if !fb {
				// Nothing per host read it: the retry layer's first read
				// parses it, on the session's clock.
				retry, err := s.retry.client.CheckRetry(context.Background(), resp, nil)
				require.NoError(t, err)
				require.True(t, retry, "a POST refused by a rate limit is retried")
			}
			resp.Header = http.Header{} // what the retry layer reads now is the attempt's parse
			c := s.retry.client
			retry, err := c.CheckRetry(context.Background(), resp, nil)
			require.NoError(t, err)
			require.True(t, retry, "the 403 is still known to be a rate limit")
			require.Equal(t, 2*time.Second, c.Backoff(c.RetryWaitMin, c.RetryWaitMax, 0, resp))
			fake.Advance(500 * time.Millisecond)
			require.Equal(t, 1500*time.Millisecond, c.Backoff(c.RetryWaitMin, c.RetryWaitMax, 0, resp),
				"the wait counts down on the session's clock")
			require.Equal(t, 1500*time.Millisecond, DefaultBackoff(0, time.Hour, 0, resp),
				"DefaultBackoff reuses a Session's parse too")
		})
	}
}

// responseWith is a response with status and, unless it is "", a
// Retry-After.
func responseWith(status int, retryAfter string) *http.Response {
	resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody}
	if retryAfter != "" {
		resp.Header.Set("Retry-After", retryAfter)
	}
	return resp
}

// Semantic 8: WithTimeout bounds the attempt, not the wait for limits.
func TestTimeoutCountsFromSend(t *testing.T) {
	release, open := newLatch()
	defer open()
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "a body, so the slot is held until it is read")
	})
	s := newTestSession(t, WithHostConcurrency(1), WithTimeout(300*time.Millisecond))

	hog, err := s.Get(context.Background(), rec.URL) // holds the only slot
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		resp, err := s.Get(context.Background(), rec.URL)
		if err == nil {
			drain(resp)
		}
		done <- err
	}()
	waitFor(t, "a waiter", func() bool { return s.Stats().Waiting == 1 })
	time.Sleep(500 * time.Millisecond) // waiting longer than the timeout must not matter
	drain(hog)
	require.NoError(t, <-done)

	_, err = s.Get(context.Background(), rec.URL+"/slow")
	require.ErrorIs(t, err, ErrAttemptTimeout)
}

// Semantic 9: cancelling 1,000 waiting callers returns them all promptly
// and gives back what they held, so the next callers run at the full rate.
func TestCancelWaitersGivesBack(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithRateLimit(10, time.Second), WithMaxConcurrency(50), WithHostConcurrency(20), WithClock(fake))

	ctx, cancel := context.WithCancel(context.Background())
	wait := getAll(ctx, s, rec.URL, 1000)
	waitFor(t, "10 served and done, 990 waiting", func() bool {
		st := s.Stats()
		return rec.count.Load() == 10 && st.Waiting == 990 && st.InFlight == 0
	})
	start := time.Now()
	cancel()
	errs := wait()
	require.Less(t, time.Since(start), 5*time.Second)
	cancelled := 0
	for _, err := range errs {
		if err != nil {
			require.ErrorIs(t, err, context.Canceled)
			cancelled++
		}
	}
	require.Equal(t, 990, cancelled)
	require.Zero(t, s.Stats().Waiting)
	require.Zero(t, s.Stats().InFlight)

	fake.Advance(guarded(time.Second))
	noErrors(t, getAll(context.Background(), s, rec.URL, 10)())
	require.EqualValues(t, 20, rec.count.Load(), "the next window is at the full rate")
}

func TestClosedSession(t *testing.T) {
	rec := newRecorder(t, nil)
	s := newTestSession(t)
	client := s.HTTPClient()
	require.NoError(t, s.Close())
	_, err := s.Get(context.Background(), rec.URL)
	require.ErrorIs(t, err, ErrClosed)
	_, err = client.Get(rec.URL)
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, s.Close(), "a second Close")
}

func TestHTTPClientIsThrottled(t *testing.T) {
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithRateLimit(2, time.Hour), WithHeader("X-Api-Key", "k"))
	var seen atomic.Value
	rec.handle = func(w http.ResponseWriter, r *http.Request) { seen.Store(r.Header.Get("X-Api-Key")) }
	client := s.HTTPClient()
	for range 2 {
		resp, err := client.Get(rec.URL)
		require.NoError(t, err)
		drain(resp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, rec.URL, nil)
	_, err := client.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, "k", seen.Load())
}

func TestBaseURLAndHeaders(t *testing.T) {
	var got atomic.Value
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.URL.Path + " " + r.Header.Get("User-Agent"))
	})
	s := newTestSession(t, WithBaseURL(rec.URL+"/v1"), WithHeader("User-Agent", "throttle-test"))
	for path, want := range map[string]string{"items": "/v1/items", "/root": "/root"} {
		resp, err := s.Get(context.Background(), path)
		require.NoError(t, err)
		drain(resp)
		require.Equal(t, want+" throttle-test", got.Load())
	}
	req, _ := http.NewRequest(http.MethodGet, rec.URL+"/own", nil)
	req.Header.Set("User-Agent", "mine")
	resp, err := s.Do(req)
	require.NoError(t, err)
	drain(resp)
	require.Equal(t, "/own mine", got.Load(), "a request's own header wins")
	require.Equal(t, "mine", req.Header.Get("User-Agent"), "the caller's request was modified")
}

func TestInvalidOptions(t *testing.T) {
	cases := []struct {
		opt  Option
		want string
	}{
		{WithRateLimit(0, time.Second), "WithRateLimit(n=0)"},
		{WithRateLimit(5, -time.Second), "WithRateLimit(per=-1s)"},
		{WithBurst(-1), "WithBurst(-1)"},
		{WithHostRateLimit(-3, time.Second), "WithHostRateLimit(n=-3)"},
		{WithRateLimitFor("", 1, time.Second), `WithRateLimitFor("")`},
		{WithMaxConcurrency(0), "WithMaxConcurrency(0)"},
		{WithHostConcurrency(-1), "WithHostConcurrency(-1)"},
		{WithUploadLimit(0), "WithUploadLimit(0)"},
		{WithDownloadLimit(-5), "WithDownloadLimit(-5)"},
		{WithRetry(RetryPolicy{}), "WithRetry(MaxRetries=0)"},
		{WithRetry(RetryPolicy{MaxRetries: 1, MinWait: time.Second, MaxWait: time.Millisecond}), "WithRetry(MinWait=1s)"},
		{WithTimeout(0), "WithTimeout(0s)"},
		{WithTransport(nil), "WithTransport(nil)"},
		{WithBaseURL("not a url"), `WithBaseURL("not a url")`},
		{WithHeader("", "v"), `WithHeader("")`},
		{WithLimiter(nil), "WithLimiter(nil)"},
		{nil, "Option(nil)"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			_, err := NewSession(tc.opt)
			require.ErrorIs(t, err, ErrInvalidOption)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := NewSession(WithBurst(2))
	require.ErrorContains(t, err, "needs WithRateLimit")

	_, err = NewSession(WithMaxConcurrency(0), WithTimeout(-1))
	require.ErrorContains(t, err, "WithMaxConcurrency(0)")
	require.ErrorContains(t, err, "WithTimeout(-1ns)", "every bad option is reported")

	_, err = NewTransport(nil, WithRetry(RetryPolicy{MaxRetries: 1}))
	require.ErrorIs(t, err, ErrInvalidOption)
	require.ErrorContains(t, err, "WithRetry")
}

// A limiter asked for more than it can ever give fails at once.
func TestExtraLimiterErrorsAreNotRetried(t *testing.T) {
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithLimiter(failingLimiter{}), WithRetry(RetryPolicy{MaxRetries: 3, MinWait: time.Millisecond}))
	_, err := s.Get(context.Background(), rec.URL)
	require.ErrorIs(t, err, ErrExceedsLimit)
	require.Zero(t, rec.count.Load())
	require.Zero(t, s.Stats().Retries)
}

// Issue 7: a request body that fails on this side is not the server's
// fault and is not retried as a connection error would be: the local
// failure ends the call, and the error says what failed and wraps its
// cause.
func TestLocalBodyFailureNotRetried(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T) (body io.Reader, breakIt func())
		cause error
		says  string
		// attempts sent: the first, then the one whose body failed (or
		// none, when the body cannot even be reopened).
		attempts int64
	}{
		{"Multipart file deleted between attempts", func(t *testing.T) (io.Reader, func()) {
			path := filepath.Join(t.TempDir(), "a.txt")
			require.NoError(t, os.WriteFile(path, []byte("hello"), 0o600))
			form := NewMultipart()
			require.NoError(t, form.AddFileFromPath("file", path))
			return form, func() { os.Remove(path) }
		}, fs.ErrNotExist, "opening multipart part 0: open ", 2},
		{"seekable reader fails", func(t *testing.T) (io.Reader, func()) {
			r := &breakingSeeker{r: strings.NewReader("hello")}
			return r, func() { r.broken.Store(true) }
		}, errDisk, "reading: disk on fire", 2},
		{"GetBody fails", func(t *testing.T) (io.Reader, func()) {
			var broken atomic.Bool
			return getBodyFunc(func() (io.ReadCloser, error) {
				if broken.Load() {
					return nil, errDisk
				}
				return io.NopCloser(strings.NewReader("hello")), nil
			}), func() { broken.Store(true) }
		}, errDisk, "GetBody: disk on fire", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, breakIt := tc.setup(t)
			var calls atomic.Int64
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				if calls.Add(1) == 1 {
					breakIt() // between the attempts
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			})
			s := newTestSession(t, WithRetry(RetryPolicy{MaxRetries: 3, MinWait: time.Millisecond, MaxWait: time.Millisecond}))
			var req *http.Request
			var err error
			if gb, ok := body.(getBodyFunc); ok {
				req, err = http.NewRequest(http.MethodPut, rec.URL, strings.NewReader("hello"))
				require.NoError(t, err)
				req.GetBody = gb
			} else {
				req, err = newRequest(context.Background(), http.MethodPut, rec.URL, body)
				require.NoError(t, err)
			}
			resp, err := s.Do(req)
			require.Nil(t, resp)
			require.ErrorIs(t, err, ErrRequestBody)
			require.ErrorIs(t, err, tc.cause)
			require.ErrorContains(t, err, "throttle: request body failed locally: "+tc.says)
			require.Equal(t, tc.attempts, s.Stats().Requests, "retried after a local failure")
		})
	}
}

var errDisk = errors.New("disk on fire")

type getBodyFunc func() (io.ReadCloser, error)

func (getBodyFunc) Read([]byte) (int, error) { return 0, io.EOF }

// breakingSeeker is a seekable body whose reads fail once it is broken.
type breakingSeeker struct {
	r      *strings.Reader
	broken atomic.Bool
}

func (b *breakingSeeker) Read(p []byte) (int, error) {
	if b.broken.Load() {
		return 0, errDisk
	}
	return b.r.Read(p)
}

func (b *breakingSeeker) Seek(off int64, whence int) (int64, error) { return b.r.Seek(off, whence) }

type failingLimiter struct{}

func (failingLimiter) Acquire(context.Context, int) error {
	return fmt.Errorf("custom: %w", ErrExceedsLimit)
}

// Semantic 10: every Do gets exactly one outcome, under a mix of
// successes, failures, cancellations and early closes.
func TestExactlyOneOutcome(t *testing.T) {
	var calls atomic.Int64
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) % 4 {
		case 0:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			io.WriteString(w, strings.Repeat("x", 1000))
		}
	})
	s := newTestSession(t, WithMaxConcurrency(8), WithHostConcurrency(4), WithRateLimit(2000, time.Second),
		WithRetry(RetryPolicy{MaxRetries: 1, MinWait: time.Millisecond, MaxWait: time.Millisecond}))
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if i%10 == 0 {
				cancel()
			}
			resp, err := s.Get(ctx, rec.URL)
			if (resp == nil) == (err == nil) {
				t.Errorf("Get returned resp=%v err=%v", resp, err)
				return
			}
			if err != nil {
				failed.Add(1)
				return
			}
			ok.Add(1)
			if i%3 == 0 {
				resp.Body.Close() // early, unread
				return
			}
			drain(resp)
		})
	}
	wg.Wait()
	require.EqualValues(t, 300, ok.Load()+failed.Load())
	require.Zero(t, s.Stats().InFlight)
	require.Zero(t, s.Stats().Waiting)
	require.True(t, errors.Is(fmt.Errorf("x: %w", ErrClosed), ErrClosed))
}
