package throttle

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-throttle/throttle/feedback"
	"github.com/go-throttle/throttle/internal/clock"
	"github.com/stretchr/testify/require"
)

const ms = int64(time.Millisecond)

// sendN records n attempts sent at now with k in flight each.
func sendN(a *adaptive, n int, now int64, k int) []ticket {
	tks := make([]ticket, n)
	for i := range tks {
		tks[i] = a.sent(now, k)
	}
	return tks
}

// Slow start: the in-flight limit starts at 10 and grows by one per
// accepted attempt that used at least half of it, so it doubles per round
// trip; an attempt that used little of it grows nothing.
func TestAdaptiveSlowStart(t *testing.T) {
	a := newAdaptive()
	require.Equal(t, initialWindow, a.cwnd)
	for _, tk := range sendN(a, 10, 0, 10) {
		a.accept(tk, ms, false)
	}
	require.Equal(t, 20, a.cwnd, "one round trip doubles it")
	for _, tk := range sendN(a, 20, 2*ms, 20) {
		a.accept(tk, 3*ms, false)
	}
	require.Equal(t, 40, a.cwnd)
	for _, tk := range sendN(a, 5, 4*ms, 1) {
		a.accept(tk, 5*ms, false)
	}
	require.Equal(t, 40, a.cwnd, "attempts that used little of the limit do not raise it")
	require.False(t, a.learned(), "slow start alone is not kept")
}

// The rejections of one burst cut once: the limit halves from what was
// in flight, and a bare rejection of an unpaced burst pauses the host,
// longer for each cut in a row, with jitter; attempts sent at a pace
// come back spaced, and their rejections halve the pace, not pause.
func TestAdaptiveCutOncePerBurst(t *testing.T) {
	a := newAdaptive()
	burst := sendN(a, 10, 0, 10)
	c := a.reject(burst[0], ms, 0, rejected, 0, true)
	require.Equal(t, 5, a.cwnd)
	require.True(t, c.moved)
	require.GreaterOrEqual(t, c.pause, pauseBase/2)
	require.Less(t, c.pause, pauseBase*3/2)
	for _, tk := range burst[1:] {
		c := a.reject(tk, 2*ms, 0, rejected, 0, true)
		require.Zero(t, c.pause, "the same burst cuts once")
	}
	require.Equal(t, 5, a.cwnd)
	require.NotZero(t, a.rate, "paced after a rejected burst")
	rate := a.rate
	c = a.reject(a.sent(100*ms, 4), 101*ms, 0, rejected, 0, true)
	require.Equal(t, 2, a.cwnd)
	require.InDelta(t, rate/2, a.rate, 1e-9)
	require.Zero(t, c.pause, "a paced attempt's rejection halves the pace, and does not pause")
	for range 15 {
		c = a.reject(a.sent(200*ms, 1), 200*ms, 0, rejected, 0, true)
	}
	require.InDelta(t, float64(probeRate), a.rate, 1e-9, "while nothing is accepted, the pace stops halving at probeRate")
	for range 15 {
		c = a.reject(a.sent(200*ms, 1), 200*ms, 0, rejected, 0, true)
	}
	require.Equal(t, 1, a.cwnd, "never below one in flight")
	require.InDelta(t, minRate, a.rate, 1e-9, "nor below the slowest pace")

	// Unpaced, under a learned window, the pauses grow by half per cut
	// in a row, up to a cap.
	b := newAdaptive()
	b.winN, b.winPer = 100, time.Second
	c = b.reject(b.sent(0, 1), ms, 0, rejected, 0, true)
	require.GreaterOrEqual(t, c.pause, pauseBase/2)
	c = b.reject(b.sent(100*ms, 1), 101*ms, 0, rejected, 0, true)
	require.GreaterOrEqual(t, c.pause, pauseBase*3/4, "the second cut in a row pauses 1.5 times longer")
	require.Less(t, c.pause, pauseBase*9/4)
	for range 30 {
		c = b.reject(b.sent(200*ms, 1), 200*ms, 0, rejected, 0, true)
	}
	require.Less(t, c.pause, pauseMax*3/2, "pauses are capped")
	c = b.reject(b.sent(300*ms, 1), 300*ms, 0, rejected, 0, false)
	require.Zero(t, c.pause, "a rejection that says when to come back pauses as it says, not more")
}

// A 503 with Retry-After that comes only above the concurrency the host
// accepted is the host busy: it teaches a ceiling, and neither pauses nor
// paces the host.
func TestAdaptiveBusyTeachesACeiling(t *testing.T) {
	a := newAdaptive()
	for k := 1; k <= 6; k++ {
		a.accept(a.sent(0, k), ms, false)
	}
	tk := a.sent(2*ms, 7)
	v := a.classify(tk, true, true, 503, false)
	require.Equal(t, busy, v)
	c := a.reject(tk, 3*ms, 0, v, 0, false)
	require.Equal(t, 6, a.ceiling)
	require.Equal(t, 6, a.cwnd)
	require.Zero(t, c.pause)
	require.Zero(t, a.rate, "a busy host is not paced")
	require.Nil(t, a.pace.Load())

	// At the ceiling, the host accepts; every ceilingWait the ceiling is
	// tried one higher.
	for range 20 {
		a.accept(a.sent(10*ms, 6), 11*ms, false)
	}
	require.Equal(t, 6, a.cwnd)
	a.accept(a.sent(3*int64(time.Second), 6), 3*int64(time.Second), false)
	require.Equal(t, 7, a.ceiling)
	// Rejected at the ceiling tried: back to 6, and the next try waits
	// twice as long.
	a.reject(a.sent(3*int64(time.Second), 7), 3*int64(time.Second), 0, busy, 0, false)
	require.Equal(t, 6, a.ceiling)
	require.Equal(t, 2*ceilingWait, a.ceilingWait)

	// A 503 with Retry-After alone in flight is not busy: it pauses the
	// host as the server says; neither is a 429 with Retry-After.
	require.Equal(t, rejected, a.classify(a.sent(0, 1), true, true, 503, false))
	require.Equal(t, rejected, a.classify(a.sent(0, 5), true, true, 429, false))
	// A bare 429 above what the host accepted is a ceiling too, and a cut.
	b := newAdaptive()
	for k := 1; k <= 3; k++ {
		b.accept(b.sent(0, k), ms, false)
	}
	b.reject(b.sent(ms, 5), 2*ms, 0, rejected, 0, true)
	require.Equal(t, 2, b.cwnd)
	require.Equal(t, 4, b.ceiling)
}

// Pacing: a rejection while the client kept to a limit paces at 90% of
// it; a rejection under a pace the host accepted several times cuts it
// by 10%, one that came at once by half. While callers wait, the pace
// grows back every 100 ms, fast to 90% of the rate a rejection came at,
// then by 5%.
func TestAdaptivePace(t *testing.T) {
	a := newAdaptive()
	a.reject(a.sent(0, 1), ms, 0, rejected, 100, true)
	require.InDelta(t, 90, a.rate, 1e-9)
	require.Equal(t, 1, a.burst)
	a.reject(a.sent(2*ms, 1), 2*ms, 0, rejected, 100, true)
	require.InDelta(t, 45, a.rate, 1e-9, "no attempt was accepted at the pace: halved")
	now := 3 * ms
	for range 3 {
		now += 25 * ms
		a.accept(a.sent(now, 1), now, false)
	}
	a.reject(a.sent(now, 1), now, 0, rejected, 100, true)
	require.InDelta(t, 40.5, a.rate, 1e-9, "accepted three times at the pace: cut by 10%")
	require.InDelta(t, 45, a.maxRate, 1e-9)

	rate := a.rate
	a.accept(a.sent(now+ms, 1), now+2*ms, true)
	require.InDelta(t, rate, a.rate, 1e-9, "grows once per 100 ms")
	a.accept(a.sent(now+150*ms, 1), now+150*ms, false)
	require.InDelta(t, rate, a.rate, 1e-9, "grows only while callers wait")
	a.accept(a.sent(now+151*ms, 1), now+151*ms, true)
	require.InDelta(t, rate+max(recoverFast*(45*isolatedCut-rate), probeGrowth*rate), a.rate, 1e-9)
	require.Equal(t, 2, a.burst, "the burst grows back")

	rate, maxRate := 50.0, 40.0
	a.rate, a.maxRate = rate, maxRate
	a.grow()
	require.InDelta(t, rate*(1+probeGrowth), a.rate, 1e-9, "above the rate a rejection came at, it probes by 5%")

	// A pace cut from a burst's rate grows by half each time, until a
	// rejection at the pace measures the host.
	b := newAdaptive()
	burst := sendN(b, 10, 0, 10)
	b.reject(burst[9], ms, 0, rejected, 0, true)
	require.False(t, b.measured)
	b.rate = 10
	b.grow()
	require.InDelta(t, 15, b.rate, 1e-9)
	b.reject(b.sent(200*ms, 1), 200*ms, 0, rejected, 0, true)
	require.True(t, b.measured)
	require.InDelta(t, 15, b.maxRate, 1e-9)
}

// A host that accepted a run of attempts and then rejected until some
// time had passed gets a window of that many per that time, and no pace.
func TestAdaptiveLearnsAWindow(t *testing.T) {
	a := newAdaptive()
	for _, tk := range sendN(a, 100, 0, 10) {
		a.accept(tk, ms, false)
	}
	a.reject(a.sent(2*ms, 10), 3*ms, 0, rejected, 0, true)
	require.NotZero(t, a.rate)
	a.reject(a.sent(100*ms, 1), 100*ms, 0, rejected, 0, true)
	sec := int64(time.Second)
	c := a.accept(a.sent(sec+5*ms, 1), sec+6*ms, false)
	require.True(t, c.moved)
	require.Equal(t, 100, a.winN)
	require.Equal(t, time.Second+5*time.Millisecond, a.winPer)
	require.Zero(t, a.rate)
	conc, rate := a.limits()
	require.Equal(t, Limit{Kind: LimitRate, N: 100, Per: a.winPer, Source: SourceAdapted}, rate)
	require.Equal(t, LimitConcurrency, conc.Kind)

	// A rejection under the window shrinks it by a tenth, once per
	// window.
	a.reject(a.sent(2*sec, 1), 2*sec, 0, rejected, 0, true)
	require.Equal(t, 90, a.winN)
	a.reject(a.sent(2*sec+ms, 1), 2*sec+ms, 0, rejected, 0, true)
	require.Equal(t, 90, a.winN)
	a.reject(a.sent(4*sec, 1), 4*sec, 0, rejected, 0, true)
	require.Equal(t, 81, a.winN)

	// A run sent over most of the time the host then took to accept
	// again was metered: it teaches a pace, not a window.
	m := newAdaptive()
	for i := range 20 {
		m.accept(m.sent(int64(i)*7*ms, 1), int64(i)*7*ms+ms, false)
	}
	m.reject(m.sent(140*ms, 1), 141*ms, 0, rejected, 0, true)
	m.accept(m.sent(200*ms, 1), 201*ms, false)
	require.Zero(t, m.winN)
	require.NotZero(t, m.rate)

	// A run too short teaches a pace, not a window.
	b := newAdaptive()
	for _, tk := range sendN(b, 3, 0, 3) {
		b.accept(tk, ms, false)
	}
	b.reject(b.sent(ms, 3), 2*ms, 0, rejected, 0, true)
	b.rate = 1
	b.accept(b.sent(100*ms, 1), 101*ms, false)
	require.Zero(t, b.winN)
	require.InDelta(t, 3/0.1*isolatedCut, b.rate, 1e-6)
}

// A refused or reset connection is a rejection while others are in
// flight (the host is shedding load), and says nothing alone; other
// errors say nothing of load.
func TestAdaptiveRefusedConnection(t *testing.T) {
	a := newAdaptive()
	refused := fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED)
	reset := &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	for _, err := range []error{refused, reset} {
		out := outcomeOf(a.sent(0, 3), 0, err)
		require.True(t, out.refused, "%v", err)
		require.Equal(t, rejected, a.classify(out.tk, false, false, 0, out.refused))
		alone := outcomeOf(a.sent(0, 1), 0, err)
		require.Equal(t, neutral, a.classify(alone.tk, false, false, 0, alone.refused))
	}
	other := outcomeOf(a.sent(0, 3), 0, context.DeadlineExceeded)
	require.False(t, other.refused)
	require.Equal(t, neutral, a.classify(other.tk, false, false, 0, other.refused))
	require.Equal(t, accepted, a.classify(a.sent(0, 3), false, false, 200, false))
}

// Through the host table: a 503 with Retry-After while others are in
// flight teaches a ceiling and does not pause the host; alone in flight,
// it pauses the host as the server says. What was learned outlives the
// host's idleness, for forgetAfter.
func TestAdaptiveBusyHostTable(t *testing.T) {
	fake := clock.NewFake(t0)
	ht := newTestTable(t, fake, WithAdaptive(true))
	h := ht.enter("a.example")
	answer := func(tk ticket, status int, kv ...string) {
		hdr := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			hdr.Set(kv[i], kv[i+1])
		}
		sig := feedback.Parse(hdr, status, fake.Now())
		ht.observe(h, &sig, fake.Now(), false, true, outcome{tk: tk, status: status})
	}
	var tks []ticket
	for range 3 {
		tk, ok := ht.spend(h)
		require.True(t, ok)
		tks = append(tks, tk)
	}
	answer(tks[0], 200)
	answer(tks[2], 503, "Retry-After", "30")
	ht.mu.Lock()
	paused, ceiling := h.pausedUntil, h.ad.ceiling
	ht.mu.Unlock()
	require.Zero(t, paused, "a busy host is not paused")
	require.Equal(t, 2, ceiling, "3 were sent, 2 were in flight as the 503 came")
	answer(tks[1], 200)

	tk, ok := ht.spend(h)
	require.True(t, ok)
	require.EqualValues(t, 1, tk.k)
	answer(tk, 503, "Retry-After", "30")
	ht.mu.Lock()
	paused = h.pausedUntil
	ht.mu.Unlock()
	require.Equal(t, ht.at(fake.Now().Add(30*time.Second)), paused, "alone in flight, the host pauses as the server says")

	ht.leave(h)
	keepAll(ht)
	ht.mu.Lock()
	require.NotNil(t, h.ad, "what was learned is kept while the host is idle")
	require.False(t, h.doneAt(ht.now()+int64(time.Minute)))
	require.True(t, h.doneAt(ht.now()+int64(forgetAfter)), "and forgotten after forgetAfter")
	ht.mu.Unlock()
}

// The limits decided reach the limiters callers wait on.
func TestAdaptiveInstall(t *testing.T) {
	fake := clock.NewFake(t0)
	ht := newTestTable(t, fake, WithAdaptive(true))
	h := ht.enter("a.example")
	defer ht.leave(h)
	require.NotNil(t, h.ad)
	a := h.ad
	ht.mu.Lock()
	a.reject(a.sent(0, 8), 0, 0, rejected, 0, true)
	a.rate = 20
	a.install(ht, 1, 0)
	ht.mu.Unlock()
	require.EqualValues(t, 4, a.slots.Capacity())
	n, per := a.pace.Load().Limit()
	require.Equal(t, 1, n)
	require.Equal(t, 50*time.Millisecond, per)
}

// Against a loopback server that answers a bare 429 whenever more than 3
// requests are in flight, a Session with no limits of its own adapts:
// every call succeeds, with few rejections, and the host's concurrency in
// force is one the client adapted.
func TestAdaptiveConcurrencyCapServer(t *testing.T) {
	var inflight, rejections atomic.Int64
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		defer inflight.Add(-1)
		if inflight.Add(1) > 3 {
			rejections.Add(1)
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		time.Sleep(5 * time.Millisecond)
		io.WriteString(w, "ok")
	})
	s, err := NewSession(WithRetry(RetryPolicy{MaxRetries: 50, MinWait: time.Millisecond, MaxWait: 50 * time.Millisecond}))
	require.NoError(t, err)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // fails, never hangs
	defer cancel()
	const calls = 60
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := s.Get(ctx, srv.URL)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// retryablehttp earns about 20 rejections per call against such a
	// server; the bound is loose because the first round trips are
	// bunched however the scheduler runs them.
	require.Less(t, rejections.Load(), int64(calls/2), "rejections")
	var hs HostStats
	for hs = range s.Hosts() {
	}
	require.Equal(t, SourceAdapted, hs.Concurrency.Source, "%+v", hs)
}
