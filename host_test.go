package throttle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-throttle/throttle/feedback"
	"github.com/go-throttle/throttle/internal/clock"
	"github.com/stretchr/testify/require"
)

// getOne sends one GET and drains it, returning its status or error.
func getOne(ctx context.Context, s *Session, url string) (int, error) {
	resp, err := s.Get(ctx, url)
	if err != nil {
		return 0, err
	}
	drain(resp)
	return resp.StatusCode, nil
}

// What the server says about a host applies to every caller of it: one
// 429 with Retry-After: 2 makes every later caller wait 2 s.
func TestRetryAfterPausesWholeHost(t *testing.T) {
	fake := clock.NewFake(t0)
	var calls atomic.Int64
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	s := newTestSession(t, WithClock(fake))
	status, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusTooManyRequests, status)
	require.EqualValues(t, 1, s.Stats().Throttled)
	require.EqualValues(t, 1, s.Stats().Paused)

	wait := getAll(context.Background(), s, rec.URL, 20)
	waitFor(t, "20 callers paused", func() bool { return s.Stats().Waiting == 20 })
	fake.Advance(1999 * time.Millisecond)
	require.EqualValues(t, 1, rec.count.Load(), "a caller went before the pause ended")
	fake.Advance(time.Millisecond)
	noErrors(t, wait())
	require.EqualValues(t, 21, rec.count.Load())
	require.Zero(t, s.Stats().Paused)
}

// A caller whose deadline falls before the pause ends fails at once.
func TestPausePastDeadlineFailsAtOnce(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	s := newTestSession(t)
	_, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err = getOne(ctx, s, rec.URL)
	require.ErrorIs(t, err, ErrHostPaused)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), time.Second)
	require.EqualValues(t, 1, rec.count.Load())
}

// Every pause is capped by WithMaxPause; garbage changes nothing.
func TestPauseCapAndGarbage(t *testing.T) {
	cases := []struct {
		name      string
		header    map[string]string
		status    int
		wantPause time.Duration
	}{
		{"enormous Retry-After is capped", map[string]string{"Retry-After": strings.Repeat("9", 400)}, 429, 5 * time.Second},
		{"huge Retry-After is capped", map[string]string{"Retry-After": "99999999"}, 503, 5 * time.Second},
		{"garbage Retry-After", map[string]string{"Retry-After": "soon, maybe"}, 429, 0},
		{"negative Retry-After", map[string]string{"Retry-After": "-5"}, 429, 0},
		{"Retry-After on a 200 is not a pause", map[string]string{"Retry-After": "3"}, 200, 0},
		{"garbage RateLimit fields", map[string]string{"RateLimit": `"x";r=;t=zz, ;;;`, "RateLimit-Policy": `"p";q=-1;w=0`}, 200, 0},
		{"IETF r=0 pauses for t", map[string]string{"RateLimit": `"default";r=0;t=3`}, 200, 3 * time.Second},
		{"X-RateLimit remaining 0 with delta reset", map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4"}, 200, 4 * time.Second},
		{"decimal Retry-After", map[string]string{"Retry-After": "2.0"}, 429, 2 * time.Second},
		// Issue 7: Retry-After takes precedence over the reset stated beside it.
		{"Retry-After over IETF r=0;t=4", map[string]string{"Retry-After": "1", "RateLimit": `"default";r=0;t=4`}, 429, time.Second},
		{"Retry-After over X-RateLimit remaining 0", map[string]string{"Retry-After": "1", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4"}, 429, time.Second},
		// Issue 7: GitHub's secondary rate limits are 403s with Retry-After.
		{"403 with Retry-After pauses", map[string]string{"Retry-After": "2"}, 403, 2 * time.Second},
		{"403 with X-RateLimit remaining 0 pauses", map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"}, 403, 3 * time.Second},
		{"plain 403 is not a pause", map[string]string{"Content-Type": "text/plain"}, 403, 0},
		{"enormous policy window is capped", map[string]string{"RateLimit-Policy": `"x";q=1;w=99999999999`}, 200, guarded(5 * time.Second)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := clock.NewFake(t0)
			var calls atomic.Int64
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					for k, v := range tc.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tc.status)
				}
			})
			s := newTestSession(t, WithClock(fake), WithMaxPause(5*time.Second))
			_, err := getOne(context.Background(), s, rec.URL)
			require.NoError(t, err)

			done := make(chan error, 1)
			go func() { _, err := getOne(context.Background(), s, rec.URL); done <- err }()
			if tc.wantPause == 0 {
				awaitCaller(t, fake, done)
				return
			}
			waitFor(t, "the caller to wait", func() bool { return s.Stats().Waiting == 1 })
			fake.Advance(tc.wantPause - time.Millisecond)
			early := rec.count.Load() != 1
			fake.Advance(time.Millisecond)
			awaitCaller(t, fake, done)
			require.False(t, early, "went before the pause ended")
		})
	}
}

// awaitCaller waits for a paused caller's outcome. If it does not come,
// the pause lasted longer than it should: it ends the pause, so that the
// caller is not left behind, and fails instead of hanging.
func awaitCaller(t *testing.T, fake *clock.Fake, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		fake.Advance(24 * time.Hour)
		<-done
		t.Fatal("the caller was still waiting: the host stayed paused longer than expected")
	}
}

// A stated remaining count is a budget shared by every caller of the host.
func TestRemainingBudget(t *testing.T) {
	fake := clock.NewFake(t0)
	var calls atomic.Int64
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("RateLimit", `"default";r=3;t=10`)
		}
	})
	s := newTestSession(t, WithClock(fake))
	_, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)

	wait := getAll(context.Background(), s, rec.URL, 5)
	waitFor(t, "3 spent, 2 waiting", func() bool { return rec.count.Load() == 4 && s.Stats().Waiting == 2 })
	fake.Advance(10 * time.Second)
	noErrors(t, wait())
	require.EqualValues(t, 6, rec.count.Load())
}

// First contact: a fresh host's first request goes alone, and the others
// follow under what it learned, so a burst against a host that states its
// policy gets no 429 at all.
func TestFirstContactLearnsPolicy(t *testing.T) {
	fake := clock.NewFake(t0)
	var inWindow atomic.Int64 // the server's own count, reset by the test
	var rejected atomic.Int64
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Policy", `"burst";q=10;w=1`)
		if inWindow.Add(1) > 10 {
			rejected.Add(1)
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	s := newTestSession(t, WithClock(fake))
	wait := getAll(context.Background(), s, rec.URL, 100)
	for served := int64(10); served <= 100; served += 10 {
		// InFlight 0: every attempt sent is stamped (on a new connection,
		// only once its response begins) before the clock moves, and every
		// handler has counted its request.
		waitFor(t, "a window's worth", func() bool {
			return rec.count.Load() == served && s.Stats().Waiting == 100-served && s.Stats().InFlight == 0
		})
		inWindow.Store(0)
		fake.Advance(guarded(time.Second))
	}
	noErrors(t, wait())
	require.Zero(t, rejected.Load())
	require.Zero(t, s.Stats().Throttled)
}

// A user's explicit limit is never loosened by a looser server policy.
func TestServerPolicyOnlyTightens(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Policy", `"loose";q=1000;w=1`)
	})
	s := newTestSession(t, WithClock(fake), WithHostRateLimit(5, time.Second))
	wait := getAll(context.Background(), s, rec.URL, 10)
	waitFor(t, "5 served", func() bool { return rec.count.Load() == 5 && s.Stats().Waiting == 5 && s.Stats().InFlight == 0 })
	fake.Advance(guarded(time.Second))
	noErrors(t, wait())
}

func TestServerFeedbackOff(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	s := newTestSession(t, WithServerFeedback(false))
	for range 3 {
		status, err := getOne(context.Background(), s, rec.URL)
		require.NoError(t, err)
		require.Equal(t, http.StatusTooManyRequests, status)
	}
	require.Zero(t, s.Stats().Paused)
}

// A probe that fails hands first contact to the next caller instead of
// blocking the host.
func TestFailedProbeHandsOver(t *testing.T) {
	rec := newRecorder(t, nil)
	var fail atomic.Bool
	fail.Store(true)
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if fail.Swap(false) {
			return nil, errors.New("connection refused, once")
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	s := newTestSession(t, WithTransport(base))
	_, err := getOne(context.Background(), s, rec.URL)
	require.Error(t, err)
	status, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// WithQueueLimit: callers that would wait beyond the limit fail at once;
// callers that need not wait are not counted.
func TestQueueLimit(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithClock(fake), WithRateLimit(1, time.Second), WithQueueLimit(3), WithServerFeedback(false))
	_, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)

	wait := getAll(context.Background(), s, rec.URL, 3)
	waitFor(t, "3 waiting", func() bool { return s.Stats().Waiting == 3 })
	_, err = getOne(context.Background(), s, rec.URL)
	require.ErrorIs(t, err, ErrQueueFull)
	for range 3 {
		n := rec.count.Load()
		fake.Advance(guarded(time.Second))
		waitFor(t, "the next request", func() bool { return rec.count.Load() == n+1 && s.Stats().InFlight == 0 })
	}
	noErrors(t, wait())
}

// Priorities: a high-priority caller overtakes low-priority callers
// already waiting for the same token.
func TestPriorityOvertakes(t *testing.T) {
	fake := clock.NewFake(t0)
	var order []string
	var mu = make(chan struct{}, 1)
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		mu <- struct{}{}
		order = append(order, r.URL.Query().Get("who"))
		<-mu
	})
	s := newTestSession(t, WithClock(fake), WithRateLimit(1, time.Second), WithServerFeedback(false))
	_, err := getOne(context.Background(), s, rec.URL+"?who=first")
	require.NoError(t, err)

	low := getAll(WithPriority(context.Background(), PriorityLow), s, rec.URL+"?who=low", 3)
	waitFor(t, "3 low waiting", func() bool { return s.Stats().Waiting == 3 })
	high := getAll(WithPriority(context.Background(), PriorityHigh), s, rec.URL+"?who=high", 1)
	waitFor(t, "high waiting", func() bool { return s.Stats().Waiting == 4 })
	for range 4 {
		n := rec.count.Load()
		fake.Advance(guarded(time.Second))
		waitFor(t, "the next request", func() bool { return rec.count.Load() == n+1 && s.Stats().InFlight == 0 })
	}
	noErrors(t, high())
	noErrors(t, low())
	require.Equal(t, []string{"first", "high", "low", "low", "low"}, order)
}

// Consumer share: no consumer holds more than its fraction of the slots.
func TestConsumerShare(t *testing.T) {
	release, open := newLatch()
	defer open()
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		if r.URL.Query().Get("c") == "bulk" {
			<-release
		}
	})
	s := newTestSession(t, WithMaxConcurrency(10), WithConsumerShare(0.5))
	bulk := getAll(WithConsumer(context.Background(), "bulk"), s, rec.URL+"?c=bulk", 8)
	waitFor(t, "bulk at its share", func() bool { return rec.active.Load() == 5 && s.Stats().Waiting == 3 })
	status, err := getOne(WithConsumer(context.Background(), "interactive"), s, rec.URL+"?c=interactive")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	open()
	noErrors(t, bulk())
	require.EqualValues(t, 6, rec.maxActive.Load(), "bulk at its share of 5, plus the interactive call")
}

// Priority share: low-priority callers together hold at most their share
// of the slots, so a reserve stays free for higher priorities.
func TestPriorityShareKeepsReserve(t *testing.T) {
	release, open := newLatch()
	defer open()
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		if r.URL.Query().Get("p") == "low" {
			<-release
		}
	})
	s := newTestSession(t, WithMaxConcurrency(4), WithPriorityShare(PriorityLow, 0.5))
	low := getAll(WithPriority(context.Background(), PriorityLow), s, rec.URL+"?p=low", 6)
	waitFor(t, "low at its share", func() bool { return rec.active.Load() == 2 && s.Stats().Waiting == 4 })
	for range 2 {
		status, err := getOne(WithPriority(context.Background(), PriorityHigh), s, rec.URL+"?p=high")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
	}
	open()
	noErrors(t, low())
}

// An attempt that was let through before its host was paused, and then
// waited for a session token, checks the pause again once it has the
// token: it gives the token back and waits, so the pause of one host
// never holds what the other hosts share.
func TestPauseArrivingWhileWaitingGivesBack(t *testing.T) {
	fake := clock.NewFake(t0)
	respond, letRespond := newLatch()
	defer letRespond()
	var calls atomic.Int64
	hostA := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 2 {
			<-respond
			w.Header().Set("Retry-After", "10")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	hostB := newRecorder(t, nil)
	s := newTestSession(t, WithClock(fake), WithRateLimit(2, time.Second))
	_, err := getOne(context.Background(), s, hostA.URL) // first contact: host A is known
	require.NoError(t, err)

	first := make(chan error, 1)
	go func() { _, err := getOne(context.Background(), s, hostA.URL); first <- err }()
	waitFor(t, "the second request in the handler", func() bool { return hostA.active.Load() == 1 })
	third := make(chan error, 1)
	go func() { _, err := getOne(context.Background(), s, hostA.URL); third <- err }()
	waitFor(t, "the third request waiting for a token", func() bool { return s.Stats().Waiting == 1 })
	letRespond() // host A is paused for 10 s while the third request waits
	require.NoError(t, <-first)

	// Both tokens free up. The third request must give its token back, so
	// that host B can have both.
	fake.Advance(guarded(time.Second))
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := getOne(ctx, s, hostB.URL)
		cancel()
		require.NoError(t, err, "host B did not get the token the paused request gave back")
	}
	require.EqualValues(t, 2, hostA.count.Load(), "a request went to host A during its pause")
	fake.Advance(10 * time.Second)
	require.NoError(t, <-third)
	require.EqualValues(t, 3, hostA.count.Load())
}

// A first request whose headers are slow to come holds the others of its
// host back for at most firstContactWait.
func TestSlowFirstContactDoesNotHoldTheHost(t *testing.T) {
	fake := clock.NewFake(t0)
	release, open := newLatch()
	defer open()
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
	})
	s := newTestSession(t, WithClock(fake))
	slow := make(chan error, 1)
	go func() { _, err := getOne(context.Background(), s, rec.URL+"/slow"); slow <- err }()
	waitFor(t, "the first request in the handler", func() bool { return rec.active.Load() == 1 })

	wait := getAll(context.Background(), s, rec.URL+"/fast", 3)
	waitFor(t, "3 callers waiting for the first contact", func() bool { return s.Stats().Waiting == 3 })
	fake.Advance(firstContactWait - time.Millisecond)
	require.EqualValues(t, 1, rec.count.Load(), "went before the first contact answered or timed out")
	fake.Advance(time.Millisecond)
	noErrors(t, wait())
	open()
	require.NoError(t, <-slow)
}

// newTestTable is a host table on a fake clock, with the options' limits.
func newTestTable(t *testing.T, fake *clock.Fake, opts ...Option) *hostTable {
	t.Helper()
	c, err := newConfig(append([]Option{WithClock(fake), WithAdaptive(false)}, opts...))
	require.NoError(t, err)
	ht, err := newHostTable(c, make(chan struct{}))
	require.NoError(t, err)
	return ht
}

// keepAll turns every unused host into its history, as the idle batch
// and the sweep do.
func keepAll(ht *hostTable) {
	ht.mu.Lock()
	defer ht.mu.Unlock()
	for _, h := range ht.m {
		ht.keepLocked(h)
	}
}

// A host kept as history comes back with its window's stamps: the tokens
// it spent stay spent until they expire, to the nanosecond.
func TestHostTableKeepsWindowHistory(t *testing.T) {
	fake := clock.NewFake(t0)
	ht := newTestTable(t, fake, WithHostRateLimit(2, time.Second), WithWindowGuard(0))
	h := ht.enter("a.example")
	require.True(t, h.live.rate.Load().TryAcquire(1))
	fake.Advance(100 * time.Millisecond)
	require.True(t, h.live.rate.Load().TryAcquire(1))
	ht.leave(h)
	keepAll(ht)
	require.Nil(t, h.live, "an unused host is kept as history")
	require.Equal(t, []int64{int64(1100 * time.Millisecond), 0, 2, 0, int64(100 * time.Millisecond)}, h.kept)

	h = ht.enter("a.example")
	require.False(t, h.live.rate.Load().TryAcquire(1), "the history still counts")
	fake.Advance(900*time.Millisecond - 1)
	require.False(t, h.live.rate.Load().TryAcquire(1))
	fake.Advance(1)
	require.True(t, h.live.rate.Load().TryAcquire(1), "the first stamp has expired")
	require.False(t, h.live.rate.Load().TryAcquire(1))
	ht.leave(h)
}

// A stated policy, its window's stamps (several at one instant) and a
// pause survive being kept as history.
func TestHostTableKeepsPolicies(t *testing.T) {
	fake := clock.NewFake(t0)
	ht := newTestTable(t, fake, WithWindowGuard(0))
	h := ht.enter("b.example")
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}}
	resp.Header.Set("RateLimit-Policy", `"default";q=3;w=60`)
	now := fake.Now()
	sig := feedback.Parse(resp.Header, resp.StatusCode, now)
	ht.observe(h, &sig, now, false, false, outcome{})
	require.True(t, h.live.learned[0].TryAcquire(1), "the policy counts this response's attempt already")
	ht.mu.Lock()
	h.pausedUntil = ht.now() + int64(time.Minute)
	ht.mu.Unlock()
	ht.leave(h)
	keepAll(ht)
	require.Nil(t, h.live)

	h = ht.enter("b.example")
	require.Equal(t, []feedback.Policy{{Quota: 3, Window: time.Minute}}, h.live.policies)
	require.True(t, h.live.learned[0].TryAcquire(1), "two of three units still count")
	require.False(t, h.live.learned[0].TryAcquire(1))
	require.NotZero(t, h.blockedUntil(ht.now()), "the pause is kept")
	fake.Advance(time.Minute)
	require.True(t, h.live.learned[0].TryAcquire(3))
	ht.leave(h)
}

// The sweep drops a host whose windows have passed and that holds
// nothing, and keeps one whose window still runs or that is in use.
func TestHostTableSweepDropsPassedHosts(t *testing.T) {
	fake := clock.NewFake(t0)
	ht := newTestTable(t, fake, WithHostRateLimit(1, time.Second), WithWindowGuard(0))
	old := ht.enter("old.example")
	require.True(t, old.live.rate.Load().TryAcquire(1))
	ht.leave(old)
	busy := ht.enter("busy.example")
	fake.Advance(time.Second)
	recent := ht.enter("recent.example")
	require.True(t, recent.live.rate.Load().TryAcquire(1))
	ht.leave(recent)
	// Each addition since the last sweep may sweep: by now, one has.
	ht.leave(ht.enter("new.example"))
	ht.mu.Lock()
	_, hasOld := ht.m["old.example"]
	_, hasBusy := ht.m["busy.example"]
	_, hasRecent := ht.m["recent.example"]
	ht.mu.Unlock()
	require.False(t, hasOld, "a host whose window has passed costs nothing after a sweep")
	require.True(t, hasBusy, "a host in use is kept")
	require.True(t, hasRecent, "a host whose window still runs is kept")
	ht.leave(busy)
}

// Hosts that go unused are kept as history in batches, so that at most
// idleBatch hosts sit in their live form.
func TestHostTableKeepsIdleHostsInBatches(t *testing.T) {
	fake := clock.NewFake(t0)
	ht := newTestTable(t, fake, WithHostRateLimit(1, time.Second))
	hosts := make([]*host, idleBatch)
	for i := range hosts {
		hosts[i] = ht.enter(fmt.Sprintf("h%d.example", i))
		hosts[i].live.rate.Load().TryAcquire(1)
		ht.leave(hosts[i])
	}
	for i, h := range hosts {
		require.Nil(t, h.live, "host %d", i)
		require.NotNil(t, h.kept, "host %d", i)
	}
}

// cannedTransport answers every request with the same headers and no
// body, without a network.
type cannedTransport struct{ header http.Header }

func (c cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: c.header, Body: http.NoBody, Request: req}, nil
}

// BenchmarkManyHosts sends one request to each of hosts new hosts, each
// with its own concurrency and rate limit and a stated policy, through a
// canned-response base transport: what a crawl does to the host table.
// It reports the time per request over the whole run and over its first
// and last 10% (equal if nothing scans the table per new host), and the
// heap per host remembered at the end, when every host's window still
// runs.
func BenchmarkManyHosts(b *testing.B) {
	for _, hosts := range []int{1e4, 1e5, 1e6} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			for b.Loop() {
				benchManyHosts(b, hosts)
			}
		})
	}
}

func benchManyHosts(b *testing.B, hosts int) {
	header := http.Header{}
	header.Set("RateLimit-Policy", `"default";q=100;w=60`)
	tr, err := NewTransport(cannedTransport{header},
		WithHostConcurrency(4), WithHostRateLimit(10, time.Second))
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, hosts)
	for i := range names {
		names[i] = fmt.Sprintf("http://h%07d.example/", i)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tenth := hosts / 10
	var first, last time.Duration
	start := time.Now()
	for i, u := range names {
		if i == hosts-tenth {
			last = -time.Since(start)
		}
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if i == tenth-1 {
			first = time.Since(start)
		}
	}
	total := time.Since(start)
	last += total
	b.StopTimer()
	names = nil
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	remembered := tr.hosts.len()
	b.ReportMetric(float64(total.Nanoseconds())/float64(hosts), "ns/request")
	b.ReportMetric(float64(first.Nanoseconds())/float64(tenth), "first10%-ns/request")
	b.ReportMetric(float64(last.Nanoseconds())/float64(tenth), "last10%-ns/request")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(remembered), "B/host")
	b.ReportMetric(float64(remembered), "hosts-remembered")
	runtime.KeepAlive(tr)
	tr.Close()
	b.StartTimer()
}
