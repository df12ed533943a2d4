package throttle

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/stretchr/testify/require"
)

// HostStats counts what is in flight and waiting on a host, with its
// configured limits, and lists the hosts with state.
func TestHostStatsInFlightAndWaiting(t *testing.T) {
	fake := clock.NewFake(t0)
	latch, open := newLatch()
	defer open()
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-latch
		}
	})
	other := newRecorder(t, nil)
	s := newTestSession(t, WithClock(fake), WithHostConcurrency(2), WithRateLimitFor(hostKey(mustURL(t, rec.URL)), 50, time.Second))
	_, ok := s.HostStats(hostKey(mustURL(t, rec.URL)))
	require.False(t, ok, "a host never sent to")
	for _, u := range []string{other.URL, rec.URL} { // first contacts made
		_, err := getOne(context.Background(), s, u)
		require.NoError(t, err)
	}

	wait := getAll(context.Background(), s, rec.URL+"/slow", 5)
	host := hostKey(mustURL(t, rec.URL))
	// A caller counts as waiting for the session before it has tried the
	// host's limits, and for the host once it found it must wait: both
	// must have settled.
	waitFor(t, "2 in the handler, 3 waiting", func() bool {
		hs, _ := s.HostStats(host)
		return rec.active.Load() == 2 && s.Stats().Waiting == 3 && hs.Waiting == 3
	})
	hs, ok := s.HostStats(host)
	require.True(t, ok)
	require.Equal(t, host, hs.Host)
	require.EqualValues(t, 2, hs.InFlight)
	require.EqualValues(t, 3, hs.Waiting)
	require.Equal(t, Limit{Kind: LimitConcurrency, N: 2, Source: SourceConfigured}, hs.Concurrency)
	require.Equal(t, Limit{Kind: LimitRate, N: 50, Per: time.Second, Source: SourceConfigured}, hs.Rate)
	require.True(t, hs.PausedUntil.IsZero())

	// The host is named as the per-host options name it.
	hs2, ok := s.HostStats("HTTP://" + host)
	require.False(t, ok, "a URL is not a host")
	require.Zero(t, hs2)

	seen := map[string]HostStats{}
	for h := range s.Hosts() {
		seen[h.Host] = h
	}
	// The other host held nothing once its request was done, so the
	// sweep made when rec's host was added forgot it.
	require.Len(t, seen, 1)
	require.EqualValues(t, 2, seen[host].InFlight)

	open()
	noErrors(t, wait())
	hs, _ = s.HostStats(host)
	require.Zero(t, hs.InFlight)
	require.Zero(t, hs.Waiting)
}

// A loop over Hosts can stop early.
func TestHostsStopsEarly(t *testing.T) {
	a, b := newRecorder(t, nil), newRecorder(t, nil)
	s := newTestSession(t, WithHostRateLimit(10, time.Hour)) // each host keeps its stamp
	for _, u := range []string{a.URL, b.URL} {
		_, err := getOne(context.Background(), s, u)
		require.NoError(t, err)
	}
	n := 0
	for range s.Hosts() {
		n++
		break
	}
	require.Equal(t, 1, n)
}

// A session that keeps nothing per host reports no host.
func TestHostStatsWithoutHostTable(t *testing.T) {
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithServerFeedback(false))
	_, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)
	_, ok := s.HostStats(hostKey(mustURL(t, rec.URL)))
	require.False(t, ok)
	for range s.Hosts() {
		t.Fatal("a host listed")
	}
}

// The figures go with the host: once forgotten, it reports nothing.
func TestHostStatsForgotten(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	})
	s := newTestSession(t, WithClock(fake))
	host := hostKey(mustURL(t, rec.URL))
	_, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)
	hs, ok := s.HostStats(host)
	require.True(t, ok)
	require.EqualValues(t, 1, hs.TooManyRequests)

	hosts := s.transport.hosts
	hosts.mu.Lock()
	for _, h := range hosts.m {
		hosts.keepLocked(h)
	}
	hosts.adds, hosts.kept = 1, 0 // the next new host sweeps
	hosts.mu.Unlock()
	fake.Advance(time.Hour)
	other := newRecorder(t, nil)
	_, err = getOne(context.Background(), s, other.URL)
	require.NoError(t, err)
	_, ok = s.HostStats(host)
	require.False(t, ok)
}
