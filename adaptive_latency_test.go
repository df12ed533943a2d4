package throttle

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/stretchr/testify/require"
)

// latencySim drives one host of a host table on a fake clock, as a
// Session's callers would: demand callers each send again as soon as
// their previous attempt is answered, within the host's adaptive
// in-flight limit; an attempt sent with k in flight is answered after
// lat(k, now), where now is the time since the simulation began.
type latencySim struct {
	t      *testing.T
	fake   *clock.Fake
	ht     *hostTable
	h      *host
	demand int
	lat    func(k int, now time.Duration) time.Duration
	flying []simAttempt
	ks     []int // the k of every attempt sent
}

type simAttempt struct {
	tk   ticket
	done time.Time
}

func newLatencySim(t *testing.T, demand int, lat func(k int, now time.Duration) time.Duration, opts ...AdaptiveOption) *latencySim {
	fake := clock.NewFake(t0)
	ht := newTestTable(t, fake, WithAdaptive(true, opts...))
	h := ht.enter("slow.example")
	t.Cleanup(func() { ht.leave(h) })
	return &latencySim{t: t, fake: fake, ht: ht, h: h, demand: demand, lat: lat}
}

// run simulates d more of the host's life.
func (s *latencySim) run(d time.Duration) {
	end := s.fake.Now().Add(d)
	for {
		for len(s.flying) < s.demand && int64(len(s.flying)) < s.h.ad.slots.Capacity() {
			tk, ok := s.ht.spend(s.h)
			require.True(s.t, ok)
			s.ks = append(s.ks, int(tk.k))
			done := s.fake.Now().Add(s.lat(int(tk.k), s.fake.Now().Sub(t0)))
			i, _ := slices.BinarySearchFunc(s.flying, done, func(a simAttempt, t time.Time) int { return a.done.Compare(t) })
			s.flying = slices.Insert(s.flying, i+countAt(s.flying[i:], done), simAttempt{tk, done})
		}
		next := s.flying[0]
		if next.done.After(end) {
			s.fake.Set(end)
			return
		}
		s.flying = s.flying[1:]
		s.fake.Set(next.done)
		s.ht.observe(s.h, nil, next.done, false, true, outcome{tk: next.tk, status: 200})
	}
}

// countAt counts the attempts at the start of fs answered at done, so
// that attempts answered at the same instant are answered in the order
// they were sent.
func countAt(fs []simAttempt, done time.Time) int {
	n := 0
	for n < len(fs) && fs[n].done.Equal(done) {
		n++
	}
	return n
}

// state reads the host's in-flight limit and latency baseline.
func (s *latencySim) state() (cwnd int, base time.Duration) {
	s.ht.mu.Lock()
	defer s.ht.mu.Unlock()
	if l := s.h.ad.lat; l != nil {
		base = time.Duration(l.base)
	}
	return s.h.ad.cwnd, base
}

// sentSince is the k of the attempts sent since the first i.
func (s *latencySim) sentSince(i int) []int { return slices.Clone(s.ks[i:]) }

// flat answers in 5 ms, or 6 ms every third attempt: a quiet host.
func flat(k int, _ time.Duration) time.Duration {
	if k%3 == 0 {
		return 6 * time.Millisecond
	}
	return 5 * time.Millisecond
}

// knee answers in 5 ms up to 8 in flight, and steeply slower above: 5 ms
// times the square of how far above 7 it is, the server of the loopback
// test below.
func knee(k int, _ time.Duration) time.Duration {
	over := max(1, k-7)
	return 5 * time.Millisecond * time.Duration(over*over)
}

// median is the median of ks.
func median(ks []int) int {
	s := slices.Clone(ks)
	slices.Sort(s)
	return s[len(s)/2]
}

// A host whose latency does not move grows its in-flight limit exactly as
// without the latency signal: slow start, then one per round trip.
func TestAdaptLatencyFlat(t *testing.T) {
	on := newLatencySim(t, 200, flat, AdaptLatency(1.5))
	off := newLatencySim(t, 200, flat)
	for range 20 {
		on.run(10 * time.Millisecond)
		off.run(10 * time.Millisecond)
		cOn, base := on.state()
		cOff, _ := off.state()
		require.Equal(t, cOff, cOn, "the same limit at %v", on.fake.Now().Sub(t0))
		if base != 0 {
			require.InDelta(t, 5*time.Millisecond, base, float64(time.Millisecond))
		}
	}
	c, _ := on.state()
	require.GreaterOrEqual(t, c, 200, "grown to what the callers ask for")
}

// A host whose latency climbs steeply above 8 in flight: the limit stops
// growing near the knee, and what is sent stays near it, where without
// the signal it goes to everything the callers have.
func TestAdaptLatencyKnee(t *testing.T) {
	on := newLatencySim(t, 100, knee, AdaptLatency(1.5))
	off := newLatencySim(t, 100, knee)
	on.run(2 * time.Second) // slow start overshoots, then settles
	off.run(2 * time.Second)
	i, j := len(on.ks), len(off.ks)
	on.run(10 * time.Second)
	off.run(10 * time.Second)
	cwnd, base := on.state()
	ks := on.sentSince(i)
	t.Logf("with the signal: limit %d, base %v, %d sent, median k %d, max k %d", cwnd, base, len(ks), median(ks), slices.Max(ks))
	t.Logf("without: %d sent, median k %d", len(off.sentSince(j)), median(off.sentSince(j)))
	require.InDelta(t, 5*time.Millisecond, base, float64(time.Millisecond))
	require.InDelta(t, 8, median(ks), 2, "in flight stays near the knee")
	require.LessOrEqual(t, slices.Max(ks), 12)
	require.Greater(t, len(ks), 5*len(off.sentSince(j)), "and the host answers far more")
}

// A long incident (the host ten times slower at any concurrency for five
// minutes) cuts the limit, and the baseline stays where it was before
// it (failsafe-go#127): the limit stays low for the whole incident and
// grows again only once the latency has recovered.
func TestAdaptLatencyLongIncident(t *testing.T) {
	const from, to = 10 * time.Second, 5*time.Minute + 10*time.Second
	incident := func(k int, now time.Duration) time.Duration {
		if now >= from && now < to {
			return 50 * time.Millisecond
		}
		return flat(k, now)
	}
	s := newLatencySim(t, 20, incident, AdaptLatency(1.5))
	s.run(from)
	before, base := s.state()
	require.GreaterOrEqual(t, before, 20)
	require.InDelta(t, 5*time.Millisecond, base, float64(time.Millisecond))
	s.run(2 * time.Second)
	cwnd, _ := s.state()
	require.LessOrEqual(t, cwnd, 2, "cut within a few round trips")
	for s.fake.Now().Sub(t0) < to-time.Second {
		s.run(min(10*time.Second, to-time.Second-s.fake.Now().Sub(t0)))
		cwnd, b := s.state()
		require.Equal(t, base, b, "the baseline does not drift, at %v", s.fake.Now().Sub(t0))
		require.LessOrEqual(t, cwnd, 2, "the limit stays low, at %v", s.fake.Now().Sub(t0))
	}
	s.run(time.Second + 2*time.Second)
	cwnd, _ = s.state()
	require.GreaterOrEqual(t, cwnd, 20, "grows again once the latency recovered")
}

// A host that has been slow even alone for longer than an incident is
// held has changed: its latency alone becomes its baseline, and the limit
// grows again against it.
func TestAdaptLatencyRebase(t *testing.T) {
	slower := func(k int, now time.Duration) time.Duration {
		if now >= 10*time.Second {
			return 10 * flat(k, now)
		}
		return flat(k, now)
	}
	s := newLatencySim(t, 20, slower, AdaptLatency(1.5))
	s.run(10*time.Second + rebaseAfter - baseWindow)
	cwnd, base := s.state()
	require.LessOrEqual(t, cwnd, 2)
	require.InDelta(t, 5*time.Millisecond, base, float64(time.Millisecond))
	s.run(2 * baseWindow)
	_, base = s.state()
	require.InDelta(t, 50*time.Millisecond, base, float64(10*time.Millisecond), "re-learned")
	s.run(10 * time.Second)
	cwnd, _ = s.state()
	require.GreaterOrEqual(t, cwnd, 20)
}

// A baseline learned in a quiet moment follows the host's unloaded
// latency up at the end of a window in which the latency came back within
// the tolerance, at most by the tolerance.
func TestAdaptLatencyBaseFollowsHost(t *testing.T) {
	lat := func(k int, now time.Duration) time.Duration {
		if now < 5*time.Second {
			return 4 * time.Millisecond
		}
		return 5 * time.Millisecond
	}
	s := newLatencySim(t, 4, lat, AdaptLatency(1.5))
	s.run(5 * time.Second)
	_, base := s.state()
	require.Equal(t, 4*time.Millisecond, base)
	s.run(baseWindow)
	_, base = s.state()
	require.Equal(t, 4*time.Millisecond, base, "the window that ends had 4 ms in it")
	s.run(baseWindow)
	_, base = s.state()
	require.InDelta(t, 5*time.Millisecond, base, 10)
}

// The slowest answers of a burst sent before a cut neither cut again nor
// raise the limit; a cut is reported, as a rejection's is.
func TestAdaptLatencyCutOncePerRound(t *testing.T) {
	a := newAdaptive()
	a.lat = newLatency(2)
	now := int64(0)
	for range 8 {
		tk := a.sent(now, 10)
		a.accept(tk, now+5*ms, false)
	}
	require.Equal(t, 18, a.cwnd)
	burst := sendN(a, 16, 10*ms, 16)
	c := change{}
	for i, tk := range burst {
		c = a.accept(tk, 10*ms+int64(50+i)*ms, false)
		if c.moved {
			break
		}
	}
	require.True(t, c.moved, "cut")
	cut := a.cwnd
	require.Less(t, cut, 18)
	require.GreaterOrEqual(t, cut, 8, "no more than halved from what was in flight")
	for _, tk := range burst[4:] {
		a.accept(tk, 200*ms, false)
	}
	require.Equal(t, cut, a.cwnd, "the rest of the round cuts nothing, and grows nothing")
	conc, _ := a.limits()
	require.Equal(t, Limit{Kind: LimitConcurrency, N: cut, Source: SourceAdapted}, conc)
	require.True(t, a.learned(), "kept while the host is idle, base included")
	require.False(t, a.doneAt(a.lat.cutAt+int64(forgetAfter)-1))
	require.True(t, a.doneAt(a.lat.cutAt+int64(forgetAfter)), "and forgotten as a rejection's cut is")
}

// Bad tolerances are errors naming the value; off, the options do nothing
// but are still checked.
func TestAdaptLatencyOption(t *testing.T) {
	for _, tol := range []float64{0, 1, 0.5, -2} {
		_, err := newConfig([]Option{WithAdaptive(true, AdaptLatency(tol))})
		require.ErrorIs(t, err, ErrInvalidOption)
		require.ErrorContains(t, err, "AdaptLatency(")
	}
	_, err := newConfig([]Option{WithAdaptive(true, nil)})
	require.ErrorIs(t, err, ErrInvalidOption)
	_, err = newConfig([]Option{WithAdaptive(false, AdaptLatency(0.5))})
	require.True(t, errors.Is(err, ErrInvalidOption))
	c, err := newConfig([]Option{WithAdaptive(true, AdaptLatency(2)), WithAdaptive(true)})
	require.NoError(t, err)
	require.Zero(t, c.adaptLatency, "the last WithAdaptive sets them all")
	c, err = newConfig([]Option{WithAdaptive(true, AdaptLatency(1.5))})
	require.NoError(t, err)
	require.Equal(t, 1.5, c.adaptLatency)
}
