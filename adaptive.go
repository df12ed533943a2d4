package throttle

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/semaphore"
)

// adaptive is what the client learns about a host from how it answers,
// when nobody told it the host's limits (WithAdaptive): an in-flight limit
// that starts small and grows while the host accepts (slow start, then
// additive increase), a ceiling on it learned from rejections that came
// only above some concurrency, a pace that spreads attempts evenly once
// the host has rejected a burst, and a window learned from how many
// attempts the host accepted before it began to reject and how long it
// took to accept again. Rejections cut them multiplicatively, and a bare
// rejection (no Retry-After) pauses the host briefly, with jitter, so
// that the retries of all its callers do not come back together.
//
// Its fields are guarded by hostTable.mu; slots, pace and window are the
// limiters callers wait on, read without the lock.
type adaptive struct {
	slots *semaphore.Throttler // in flight: capacity cwnd
	// free is set while cwnd is at or above the host's own concurrency
	// limit (WithHostConcurrency), which then binds first: callers skip
	// slots, one lock less per attempt.
	free   atomic.Bool
	pace   atomic.Pointer[ratelimit.Bucket] // nil until the host rejected
	window atomic.Pointer[ratelimit.Window] // nil until a run was learned

	// The in-flight limit: cwnd grows by one per accepted attempt below
	// ssthresh (slow start: doubling per round trip) and by one per cwnd
	// accepted attempts above it. ceiling (0: none) caps it: the
	// concurrency a host rejected above, while accepting below it.
	cwnd, ssthresh, acks int
	ceiling              int
	ceilingAt            int64         // when the ceiling was last set or raised
	ceilingWait          time.Duration // before the ceiling is raised by one
	maxOK                int           // the most in flight an accepted attempt was sent with, since the last cut

	// The pace, in attempts per second (0: not paced), and its burst;
	// maxRate is the rate a rejection came at (0: unknown), measured
	// when the client kept to a pace or a limit, a guess from the rate
	// of a burst otherwise.
	rate, maxRate float64
	measured      bool
	burst         int
	// winN per winPer is the learned window (winN 0: none).
	winN   int
	winPer time.Duration
	// grownAt is when the limits last grew; atPace counts the attempts
	// accepted since the last cut.
	grownAt int64
	atPace  int

	// seq numbers the attempts sent; a rejection cuts only if its attempt
	// was sent after the last cut (cutSeq), so that one burst's rejections
	// count once, as TCP reacts once per window of data.
	seq, cutSeq int64
	streak      int   // cuts since an attempt was last accepted
	cutAt       int64 // when the last cut was made (0: never)
	// A run is the attempts a host accepts between cuts: the last one that
	// accepted any (run, from runAt) gives, once the host accepts again
	// after a cut, the window learned.
	runN, lastN     int
	runAt, lastAt   int64
	runEnd, lastEnd int64 // when the run's last accepted attempt was sent
	learning        bool  // a cut came after a run, and nothing was accepted since

	// sends are the instants of the last attempts sent, a ring, for the
	// rate a burst went at.
	sends  [sendRing]int64
	nsends int

	// lat is the latency signal (adaptive_latency.go); nil when off.
	lat *latency
}

// The parameters of the adaptive limits. Why these values:
//   - decrease 0.5, as TCP's and AIMD's classic cut: a rejected burst
//     means the host is well past its limit, and halving reaches any
//     limit in a few round trips;
//   - isolatedCut 0.9: a rejection while the client kept to a pace or a
//     window the host accepted several times is a small overshoot
//     (nginx's millisecond grid, HAProxy's sliding estimate), and a 10%
//     margin is learned instead of halving;
//   - initialWindow 10, TCP's IW10: a host that accepts everything
//     reaches 320 in flight in 5 round trips;
//   - pauses of 50 ms growing by 1.5 per cut without an accepted attempt
//     between, up to 2 s, with jitter of ±50%: spread so that retries do
//     not come back in lockstep, short enough that a host that forgives
//     quickly loses little;
//   - growth every 100 ms while callers wait: the pace recovers 30% of
//     the way to the rate a rejection came at, then probes 5% above it;
//     a pace cut from a burst's rate, which measures nothing, grows by
//     half until a rejection at a pace measures the host.
const (
	decrease      = 0.5
	isolatedCut   = 0.9
	initialWindow = 10
	unlimitedCwnd = 1 << 16
	pauseBase     = 50 * time.Millisecond
	pauseMax      = 2 * time.Second
	growEvery     = 100 * time.Millisecond
	recoverFast   = 0.3
	probeGrowth   = 0.05
	slowGrowth    = 0.5
	ceilingWait   = 2 * time.Second
	ceilingMax    = 30 * time.Second
	forgetAfter   = 10 * time.Minute
	minRate       = 0.5 // attempts per second: the slowest pace
	probeRate     = 10  // attempts per second: the pace that finds a closed host open again
	probeStreak   = 20  // cuts in a row at probeRate before the pace halves on
	minRun        = 8   // a run of fewer accepted attempts teaches no window
	sendRing      = 32
)

// newAdaptive returns the adaptive limits of a host nobody has seen.
func newAdaptive() *adaptive {
	slots, _ := semaphore.NewThrottler(initialWindow) // a positive capacity: no error
	return &adaptive{slots: slots, cwnd: initialWindow, ssthresh: math.MaxInt, ceilingWait: ceilingWait}
}

// learned reports whether a has learned anything a host must keep when
// idle: a rejection's cut, a ceiling, or a latency cut (see
// latency.learned). Slow start alone is not worth
// keeping; a host used again after long starts over, as TCP restarts.
func (a *adaptive) learned() bool { return a.cutAt != 0 || a.ceiling != 0 || a.lat.learned() }

// doneAt reports whether a holds nothing worth keeping at now.
func (a *adaptive) doneAt(now int64) bool {
	return a == nil || !a.learned() || now >= a.cutAt+int64(forgetAfter) && now >= a.ceilingAt+int64(forgetAfter) && a.lat.doneAt(now)
}

// ticket is what an attempt's admission recorded for the adaptive limits:
// its number, how many attempts to its host were in flight when it was
// sent, itself included, and when.
type ticket struct {
	seq int64
	k   int32
	at  int64
	// conn is when the attempt had its connection, if the latency signal
	// times it from then (see latencyFromConn); 0 otherwise. at stays
	// the send, which the runs a window is learned from count.
	conn int64
}

// sent records an attempt sent at now with k in flight.
func (a *adaptive) sent(now int64, k int) ticket {
	a.seq++
	a.sends[a.nsends%sendRing] = now
	a.nsends++
	return ticket{seq: a.seq, k: int32(k), at: now}
}

// sendRate is the rate of the last attempts sent, per second, or 0 when
// too few were sent to tell.
func (a *adaptive) sendRate() float64 {
	n := min(a.nsends, sendRing)
	if n < 2 {
		return 0
	}
	last := a.sends[(a.nsends-1)%sendRing]
	first := a.sends[(a.nsends-n)%sendRing]
	span := max(last-first, int64(time.Millisecond))
	return float64(n-1) / time.Duration(span).Seconds()
}

// verdict is what an attempt's outcome says about its host.
type verdict uint8

const (
	neutral  verdict = iota // nothing: an error that says nothing of load
	accepted                // a response that is not a rejection
	rejected                // a rate rejection, or a refused connection under load
	busy                    // a rejection for the concurrency: above what the host takes
)

// classify says what an attempt's outcome means: throttled by the
// response, stated is whether the server said when to come back
// (Retry-After), status its code, refused whether it failed to connect or
// was reset.
func (a *adaptive) classify(tk ticket, throttled, stated bool, status int, refused bool) verdict {
	switch {
	case throttled:
		// A 503 (or 529) with Retry-After that came while others were in
		// flight is the host busy, not rate limited: it teaches a
		// ceiling, and pausing the whole host for its Retry-After would
		// idle the concurrency it does take. (A host that is down for
		// good answers so at any concurrency: its ceiling falls to one,
		// and a rejection with one in flight pauses it.) Whether the host
		// accepted as many in flight before is not asked: the count the
		// client keeps runs a little ahead of the server's, so a host at
		// its cap may have accepted that many once.
		overloaded := status == 503 || status == 529
		if overloaded && stated && tk.k > 1 {
			return busy
		}
		return rejected
	case refused:
		if tk.k > 1 {
			return rejected
		}
		return neutral
	case status > 0:
		return accepted
	}
	return neutral
}

// change is what an outcome changed: the pause it calls for (0: none),
// and whether a limit moved.
type change struct {
	pause time.Duration
	moved bool
}

// accept takes in an accepted attempt; waiting says whether callers wait
// for the host, so that limits grow only when they bind.
func (a *adaptive) accept(tk ticket, now int64, waiting bool) change {
	var c change
	held, cut := a.latencyStep(tk, now) // adaptive_latency.go
	c.moved = cut
	a.maxOK = max(a.maxOK, int(tk.k))
	if tk.seq <= a.cutSeq {
		// Sent before the last cut: it tells nothing of the cut limits,
		// but it belongs to the run the cut ended, whose answers arrive
		// mixed with the rejections.
		if a.learning && tk.at >= a.lastAt {
			a.lastN++
			a.lastEnd = max(a.lastEnd, tk.at)
		}
		return c
	}
	a.streak = 0
	a.atPace++
	if a.runN == 0 {
		a.runAt = tk.at
	}
	a.runN++
	a.runEnd = max(a.runEnd, tk.at)
	if a.learning {
		a.learning = false
		c.moved = a.learnRun(tk.at) || c.moved
	}
	// The in-flight limit grows only when the attempt used at least half
	// of it (RFC 7661): an idle host must not bank a limit it never used.
	if int(tk.k)*2 >= a.cwnd && !held {
		before := a.cwnd
		if a.cwnd < a.ssthresh {
			a.cwnd++
		} else if a.acks++; a.acks >= a.cwnd {
			a.acks = 0
			a.cwnd++
		}
		if a.ceiling > 0 && int(tk.k) >= a.ceiling && now-a.ceilingAt >= int64(a.ceilingWait) {
			a.ceiling++ // probe one above the ceiling, now and then
			a.ceilingAt = now
		}
		a.cwnd = min(a.cwnd, unlimitedCwnd)
		if a.ceiling > 0 {
			a.cwnd = min(a.cwnd, a.ceiling)
		}
		c.moved = c.moved || a.cwnd != before
	}
	if waiting && (a.rate > 0 || a.winN > 0) && now-a.grownAt >= int64(growEvery) {
		a.grownAt = now
		a.grow()
		c.moved = true
	}
	return c
}

// grow raises the pace and the learned window after growEvery without a
// cut, while callers wait for them.
func (a *adaptive) grow() {
	if a.rate > 0 {
		target := a.maxRate * isolatedCut
		switch {
		case !a.measured:
			// The rate was cut from a burst's, which says little of what
			// the host takes: it grows as slow start does, until a
			// rejection at a pace measures it.
			a.rate *= 1 + slowGrowth
		case a.rate < target:
			a.rate += max(recoverFast*(target-a.rate), probeGrowth*a.rate)
		default:
			a.rate *= 1 + probeGrowth
		}
		a.burst = min(a.burst+1, max(1, int(a.rate*growEvery.Seconds())))
	}
	if a.winN > 0 && a.atPace >= a.winN {
		a.winN++
	}
}

// learnRun takes in the run of attempts the host accepted before its last
// cut, now that it accepts again at at: it let lastN through and then
// nothing until at, so it allows about lastN per (at - lastAt). A run of
// at least minRun becomes a window on the host: a server that counts a
// fixed window lets as many through at the start of each, and a window of
// the client's at least as long never exceeds it.
func (a *adaptive) learnRun(at int64) bool {
	span := time.Duration(at - a.lastAt)
	if a.lastN < 2 || span <= 0 {
		return false
	}
	est := float64(a.lastN) / span.Seconds()
	// A window is learned only from a burst: a run sent in a quarter of
	// the time the host then took to accept again. A run sent over most
	// of that time (metered by a limit of the caller's) says the host
	// drains at a rate, as a leaky bucket does, and gets a pace.
	if a.lastN >= minRun && 4*(a.lastEnd-a.lastAt) < int64(span) {
		// The window governs from now on, bursts included: a pace on top
		// would spread what the server lets through at once.
		a.winN, a.winPer = a.lastN, span
		a.rate, a.maxRate = 0, 0
		return true
	}
	if est > a.rate {
		a.rate = est * isolatedCut
		return true
	}
	return false
}

// reject takes in a rejection at now: inflight is how many attempts to
// the host are in flight as it arrives, itself included; known is the
// tightest rate the client kept to for the host (its own or a stated
// window, per second; 0 when none), bare whether the server said nothing
// of when to come back.
func (a *adaptive) reject(tk ticket, now int64, inflight int, v verdict, known float64, bare bool) change {
	var c change
	if v == busy || (tk.k >= 3 && int(tk.k) > a.maxOK && a.maxOK > 0) {
		// Rejected above any concurrency the host accepted since the last
		// cut: a ceiling. (With one or two in flight, a bare rejection
		// says more of the rate than of the concurrency.)
		// The attempts of a burst reach the server in any order, so the
		// one rejected may have been sent with fewer in flight than the
		// server had; the others still in flight as its answer arrives
		// were being served, or are answered as it was.
		at := max(int(tk.k), inflight) - 1
		if a.ceiling == 0 || at < a.ceiling {
			if a.ceiling != 0 {
				a.ceilingWait = min(2*a.ceilingWait, ceilingMax)
			}
			a.ceiling = max(at, 1)
			a.ceilingAt = now
		}
		if a.cwnd > a.ceiling {
			a.cwnd = a.ceiling
			c.moved = true
		}
		if v == busy {
			return c
		}
	}
	if tk.seq <= a.cutSeq {
		return c // this burst was answered by a cut already
	}
	prevCut := a.cutAt
	a.cutSeq, a.cutAt = a.seq, now
	a.streak++
	a.maxOK = 0 // what the host accepts is measured afresh under the cut limits
	if a.runN > 0 {
		// Only a run the client did not pace says what the host lets
		// through: a paced one says what the pace was.
		a.lastN, a.lastAt, a.lastEnd = a.runN, a.runAt, a.runEnd
		a.learning = a.rate == 0 && a.winN == 0
	}
	a.runN, a.runEnd = 0, 0
	paced := a.rate > 0
	isolated := a.atPace >= 3 && (paced || a.winN > 0 || known > 0)
	a.atPace = 0
	cut := decrease
	if isolated {
		cut = isolatedCut
	}
	// The in-flight limit halves from what was in flight, as TCP's
	// ssthresh does from the flight size.
	a.ssthresh = max(int(tk.k)/2, 1)
	if a.cwnd > a.ssthresh {
		a.cwnd = a.ssthresh
	}
	if a.winN > 0 {
		// A learned window shrinks by a tenth, once per window: it was
		// learned from what the host accepted, so a rejection under it
		// is an overshoot at the edge of the server's window, not a
		// host far past its limit. It is not paced, since the server it
		// was learned from lets a window's attempts through at once.
		if now-prevCut >= int64(a.winPer) {
			a.winN = max(int(float64(a.winN)*isolatedCut), 1)
		}
	} else {
		// The pace: cut from the one kept, else from a limit the client
		// kept to, else from the rate the rejected burst went at.
		base, measured := a.rate, true
		switch {
		case base > 0:
		case known > 0:
			base, cut = known, isolatedCut
		default:
			base, measured = a.sendRate(), false
		}
		if base > 0 {
			a.maxRate, a.measured = base, measured
			a.rate = max(base*cut, minRate)
			if a.streak > 1 && a.streak <= probeStreak {
				// Nothing accepted since the last cut: the host is closed
				// for now, and each attempt at the pace is a probe. The
				// pace stops halving at probeRate, so that the host's
				// reopening is found within 1/probeRate, at the cost of
				// probeRate rejections a second; after probeStreak such
				// cuts it halves on, down to minRate, for a host that
				// stays closed.
				a.rate = max(a.rate, min(base, probeRate))
			}
			a.burst = 1
		}
	}
	a.grownAt = now
	c.moved = true
	if bare && !isolated && !paced {
		// A pause spreads the retries of a rejected burst. Attempts sent
		// at a pace come back spaced already, and the pace halves on each
		// cut: a pause on top would only make the host's recovery found
		// late, by as much as the pause.
		c.pause = jitter(min(time.Duration(float64(pauseBase)*math.Pow(1.5, float64(a.streak-1))), pauseMax))
	}
	return c
}

// jitter spreads d over [d/2, 3d/2).
func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d)+1))
}

// install puts the limits a decided into the limiters callers wait on;
// inflight is how many attempts to the host are in flight, own its own
// concurrency limit (0: none). Called with
// hostTable.mu held; the limiters take their own locks, never the
// table's.
func (a *adaptive) install(t *hostTable, inflight int, own int64) {
	_ = a.slots.SetCapacity(int64(a.cwnd))
	a.free.Store(own > 0 && int64(a.cwnd) >= own)
	if a.rate <= 0 {
		a.pace.Store(nil)
	} else {
		per := time.Duration(float64(time.Second) / a.rate)
		if p := a.pace.Load(); p != nil {
			_ = p.SetLimit(1, per)
			_ = p.SetBurst(max(a.burst, 1))
		} else if b, err := ratelimit.NewBucket(1, per, ratelimit.WithBurst(max(a.burst, 1)), ratelimit.WithClock(t.clock)); err == nil {
			a.pace.Store(b)
		}
	}
	if a.winN > 0 {
		if w := a.window.Load(); w != nil {
			_ = w.SetLimit(a.winN, t.guard.window(a.winPer))
		} else if w := t.window(a.winN, a.winPer); w != nil {
			// The host has counted the attempts in flight, the one that
			// taught the window included, in its window now: so does this
			// one, as a policy the server states does (learnPolicies).
			w.TryAcquire(min(max(inflight, 1), a.winN))
			a.window.Store(w)
		}
	}
}

// limits are what a reports as adapted: the in-flight limit once a
// rejection or a ceiling set it, and the pace or window once learned.
func (a *adaptive) limits() (conc, rate Limit) {
	if a == nil {
		return
	}
	if a.learned() && a.cwnd < unlimitedCwnd {
		conc = Limit{Kind: LimitConcurrency, N: a.cwnd, Source: SourceAdapted}
	}
	switch {
	case a.winN > 0:
		rate = Limit{Kind: LimitRate, N: a.winN, Per: a.winPer, Source: SourceAdapted}
	case a.rate >= 1:
		// Rounded to whole attempts per second, for reading.
		rate = Limit{Kind: LimitRate, N: int(math.Round(a.rate)), Per: time.Second, Source: SourceAdapted}
	case a.rate > 0:
		rate = Limit{Kind: LimitRate, N: 1, Per: time.Duration(float64(time.Second) / a.rate).Round(time.Millisecond), Source: SourceAdapted}
	}
	return conc, rate
}
