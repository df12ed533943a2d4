package throttle

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/stretchr/testify/require"
)

// latchedServer is a recorder whose handler waits for the latch.
func latchedServer(t *testing.T) (*recorder, func()) {
	latch, open := newLatch()
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { <-latch })
	return rec, open
}

// A higher session concurrency admits the waiting callers at once; a lower
// one lets the attempts in flight finish and admits nobody until fewer
// are in flight.
func TestSetMaxConcurrency(t *testing.T) {
	rec, open := latchedServer(t)
	defer open()
	s := newTestSession(t, WithMaxConcurrency(1))
	wait := getAll(context.Background(), s, rec.URL, 4)
	waitFor(t, "1 in flight, 3 waiting", func() bool { return rec.active.Load() == 1 && s.Stats().Waiting == 3 })
	require.NoError(t, s.SetMaxConcurrency(3))
	waitFor(t, "3 in flight", func() bool { return rec.active.Load() == 3 && s.Stats().Waiting == 1 })
	require.NoError(t, s.SetMaxConcurrency(1))
	open()
	noErrors(t, wait())
	require.EqualValues(t, 4, rec.count.Load())
	// From now on one at a time, however many call.
	rec.maxActive.Store(0)
	noErrors(t, getAll(context.Background(), s, rec.URL, 20)())
	require.EqualValues(t, 1, rec.maxActive.Load())
}

// On a session made without a concurrency limit, SetMaxConcurrency
// creates one.
func TestSetMaxConcurrencyCreates(t *testing.T) {
	rec, open := latchedServer(t)
	defer open()
	s := newTestSession(t, WithServerFeedback(false))
	require.NoError(t, s.SetMaxConcurrency(2))
	wait := getAll(context.Background(), s, rec.URL, 5)
	waitFor(t, "2 in flight, 3 waiting", func() bool { return rec.active.Load() == 2 && s.Stats().Waiting == 3 })
	open()
	noErrors(t, wait())
	require.EqualValues(t, 2, rec.maxActive.Load())
}

// A higher rate lets waiting callers in without the clock moving; a lower
// one keeps the stamps counted, so nothing more starts until they expire.
func TestSetRateLimit(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithRateLimit(2, time.Second), WithClock(fake))
	served := func(n int64) func() bool {
		return func() bool { return rec.count.Load() == n && s.Stats().InFlight == 0 }
	}
	wait := getAll(context.Background(), s, rec.URL, 6)
	waitFor(t, "2 served, 4 waiting", func() bool { return served(2)() && s.Stats().Waiting == 4 })
	require.NoError(t, s.SetRateLimit(4, time.Second))
	waitFor(t, "4 served", func() bool { return served(4)() && s.Stats().Waiting == 2 })
	require.NoError(t, s.SetRateLimit(3, time.Second))
	fake.Advance(guarded(time.Second) - time.Millisecond)
	require.EqualValues(t, 4, rec.count.Load(), "started while 4 stamps still counted")
	fake.Advance(time.Millisecond)
	waitFor(t, "6 served", served(6))
	noErrors(t, wait())
	n, per := s.Transport().rate.Load().Limit()
	require.Equal(t, 3, n)
	require.Equal(t, guarded(time.Second), per)
}

// On a session made without a rate limit, SetRateLimit creates one.
func TestSetRateLimitCreates(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithClock(fake))
	require.NoError(t, s.SetRateLimit(2, time.Second))
	wait := getAll(context.Background(), s, rec.URL, 3)
	waitFor(t, "2 served, 1 waiting", func() bool {
		return rec.count.Load() == 2 && s.Stats().InFlight == 0 && s.Stats().Waiting == 1
	})
	fake.Advance(guarded(time.Second))
	noErrors(t, wait())
	require.EqualValues(t, 3, rec.count.Load())
}

// With WithBurst, the pacing follows the new rate.
func TestSetRateLimitPacing(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithRateLimit(10, time.Second), WithBurst(1), WithClock(fake))
	require.NoError(t, s.SetRateLimit(100, time.Second))
	wait := getAll(context.Background(), s, rec.URL, 2)
	waitFor(t, "the first request", func() bool { return rec.count.Load() == 1 && s.Stats().Waiting == 1 })
	fake.Advance(10 * time.Millisecond) // per/n at the new rate
	noErrors(t, wait())
}

// A host's concurrency limit set while the host is in use, with none
// before, holds for the attempts that start from then on; every other
// host goes on without one.
func TestSetHostConcurrencyForLiveHost(t *testing.T) {
	rec, open := latchedServer(t)
	defer open()
	other := newRecorder(t, nil)
	s := newTestSession(t)
	wait := getAll(context.Background(), s, rec.URL, 2)
	waitFor(t, "2 in flight", func() bool { return rec.active.Load() == 2 })
	require.NoError(t, s.SetHostConcurrencyFor(hostOf(rec.URL), 1))
	more := getAll(context.Background(), s, rec.URL, 3)
	waitFor(t, "1 more in flight, 2 waiting", func() bool { return rec.active.Load() == 3 && s.Stats().Waiting == 2 })
	noErrors(t, getAll(context.Background(), s, other.URL, 5)())
	open()
	noErrors(t, wait())
	noErrors(t, more())
}

// SetHostConcurrency changes every host's limit, and SetHostConcurrencyFor
// one host's, which SetHostConcurrency then leaves alone.
func TestSetHostConcurrency(t *testing.T) {
	a, openA := latchedServer(t)
	defer openA()
	b, openB := latchedServer(t)
	defer openB()
	s := newTestSession(t, WithHostConcurrency(1))
	waitA := getAll(context.Background(), s, a.URL, 4)
	waitB := getAll(context.Background(), s, b.URL, 4)
	waitFor(t, "1 in flight to each", func() bool {
		return a.active.Load() == 1 && b.active.Load() == 1 && s.Stats().Waiting == 6
	})
	require.NoError(t, s.SetHostConcurrencyFor(hostOf(b.URL), 1))
	require.NoError(t, s.SetHostConcurrency(3))
	waitFor(t, "3 in flight to a", func() bool { return a.active.Load() == 3 && s.Stats().Waiting == 4 })
	require.EqualValues(t, 1, b.active.Load(), "b has a limit of its own")
	require.NoError(t, s.SetHostConcurrencyFor(hostOf(b.URL), 2))
	waitFor(t, "2 in flight to b", func() bool { return b.active.Load() == 2 && s.Stats().Waiting == 3 })
	openA()
	openB()
	noErrors(t, waitA())
	noErrors(t, waitB())
}

// SetHostRateLimit gives every host a window, SetRateLimitFor one host
// its own.
func TestSetHostRateLimit(t *testing.T) {
	fake := clock.NewFake(t0)
	a, b := newRecorder(t, nil), newRecorder(t, nil)
	s := newTestSession(t, WithClock(fake))
	noErrors(t, getAll(context.Background(), s, a.URL, 1)()) // a is live, with no window
	require.NoError(t, s.SetHostRateLimit(2, time.Second))
	require.NoError(t, s.SetRateLimitFor(hostOf(b.URL), 1, time.Second))
	served := func(r *recorder, n int64) func() bool {
		return func() bool { return r.count.Load() == n && s.Stats().InFlight == 0 }
	}
	waitA := getAll(context.Background(), s, a.URL, 3)
	waitB := getAll(context.Background(), s, b.URL, 2)
	waitFor(t, "2 more to a, 1 to b", func() bool { return served(a, 3)() && served(b, 1)() && s.Stats().Waiting == 2 })
	fake.Advance(guarded(time.Second))
	noErrors(t, waitA())
	noErrors(t, waitB())
	require.EqualValues(t, 4, a.count.Load())
	require.EqualValues(t, 2, b.count.Load())
}

func TestSetLimitsInvalid(t *testing.T) {
	s := newTestSession(t)
	bare := newTestSession(t, WithServerFeedback(false))
	cases := []struct {
		err  error
		want string
	}{
		{s.SetRateLimit(0, time.Second), "SetRateLimit(n=0)"},
		{s.SetRateLimit(1, 0), "SetRateLimit(per=0s)"},
		{s.SetMaxConcurrency(-1), "SetMaxConcurrency(-1)"},
		{s.SetHostConcurrency(0), "SetHostConcurrency(0)"},
		{s.SetHostConcurrencyFor("example.com", 0), "SetHostConcurrencyFor(0)"},
		{s.SetHostConcurrencyFor("http://example.com/x", 1), "SetHostConcurrencyFor"},
		{s.SetHostRateLimit(-2, time.Second), "SetHostRateLimit(n=-2)"},
		{s.SetRateLimitFor("", 1, time.Second), "SetRateLimitFor"},
		{s.SetRateLimitFor("example.com", 1, -time.Second), "SetRateLimitFor(per=-1s)"},
		{bare.SetHostConcurrency(2), "SetHostConcurrency(2): the session keeps nothing per host"},
		{bare.SetRateLimitFor("example.com", 2, time.Second), "SetRateLimitFor(2): the session keeps nothing per host"},
	}
	for _, tc := range cases {
		require.ErrorIs(t, tc.err, ErrInvalidOption, tc.want)
		require.ErrorContains(t, tc.err, tc.want)
	}
	require.Nil(t, s.Transport().rate.Load(), "a refused SetRateLimit created a window")
	require.Nil(t, s.Transport().slots.Load())
}

// Limits changed while requests run, from several goroutines: race-free,
// every request ends, and nothing is left held.
func TestSetLimitsWhileRunning(t *testing.T) {
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithMaxConcurrency(2), WithHostConcurrency(2))
	host := hostOf(rec.URL)
	wait := getAll(context.Background(), s, rec.URL, 200)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				n := 1 + (i+j)%4
				s.SetMaxConcurrency(n)
				s.SetHostConcurrency(n)
				s.SetHostConcurrencyFor(host, n+1)
				s.SetRateLimit(1000*n, time.Second)
				s.SetHostRateLimit(1000*n, time.Second)
			}
		})
	}
	wg.Wait()
	noErrors(t, wait())
	require.Zero(t, s.Stats().InFlight)
	require.Zero(t, s.Transport().slots.Load().Held())
}
