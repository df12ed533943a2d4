package throttle

import (
	"fmt"
	"maps"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/semaphore"
)

// Runtime re-tuning: the Set... methods change a Session's limits while
// requests run. Each one changes the limiter in place where there is one
// (ratelimit.Window.SetLimit, semaphore.Throttler.SetCapacity), which
// wakes its waiters to look again under the new limit, so nothing held is
// lost and nobody waits on a stale limit; where there is none yet, it
// installs a new limiter where callers read it (atomically), so it
// applies to every attempt that reaches that step from then on.
//
// n <= 0 is an error wrapping ErrInvalidOption that names the value, as
// for the With... options: a limit is lowered, never removed. (To lift
// one in effect, set it far above what the session will ever send.)

// SetRateLimit changes the session-wide rate limit (see WithRateLimit) to
// at most n attempt starts in any window of length per, lengthened by the
// window guard, while requests run; n and per must be positive.
//
// Callers waiting for a token see the new limit at once: a higher one
// lets them in without waiting out the old window. Nothing counted is
// lost: the attempts already counted keep their stamps and count for the
// new per from them, so a lower limit holds back new attempts until
// enough of them expire. With WithBurst, the pacing follows the new rate
// (its burst is unchanged).
//
// On a Session made without WithRateLimit it creates the limit. The
// attempts sent before are not counted in it: its first window may let n
// more through on top of them.
func (s *Session) SetRateLimit(n int, per time.Duration) error {
	spec, err := positiveRate("SetRateLimit", n, per)
	if err != nil {
		return err
	}
	t := s.transport
	if err := setWindow(&t.rate, spec, t.guard, t.clock); err != nil {
		return fmt.Errorf("%w: SetRateLimit: %w", ErrInvalidOption, err)
	}
	if t.pace != nil {
		return t.pace.SetLimit(n, per)
	}
	return nil
}

// SetMaxConcurrency changes the session-wide concurrency limit (see
// WithMaxConcurrency) to n attempts in flight, while requests run; n must
// be positive.
//
// A higher limit admits waiting callers at once, in their order. A lower
// one takes nothing back: the attempts in flight finish, and nobody more
// is admitted until fewer than n are. The quotas of WithConsumerShare and
// WithPriorityShare, fractions of the limit, follow it.
//
// On a Session made without WithMaxConcurrency it creates the limit. The
// attempts already in flight do not hold slots of it: up to n more may
// start beside them.
func (s *Session) SetMaxConcurrency(n int) error {
	if n <= 0 {
		return invalidOption("SetMaxConcurrency", n, "n must be positive")
	}
	if err := setSlots(&s.transport.slots, n, s.cfg.semOpts); err != nil {
		return fmt.Errorf("%w: SetMaxConcurrency: %w", ErrInvalidOption, err)
	}
	return nil
}

// SetHostConcurrency changes every host's own concurrency limit (see
// WithHostConcurrency) to n attempts in flight, while requests run,
// except the hosts given a limit of their own (WithHostConcurrencyFor,
// SetHostConcurrencyFor); n must be positive. Each host's limit changes
// as SetMaxConcurrency describes, and a host that had none gets one.
//
// It needs the session's host table: a Session made with
// WithServerFeedback(false) and no per-host limit keeps nothing per host,
// and gets an error wrapping ErrInvalidOption.
func (s *Session) SetHostConcurrency(n int) error {
	if n <= 0 {
		return invalidOption("SetHostConcurrency", n, "n must be positive")
	}
	hosts, err := s.hostTable("SetHostConcurrency", n)
	if err != nil {
		return err
	}
	hosts.setConc("", n)
	return nil
}

// SetHostConcurrencyFor changes one host's concurrency limit (see
// WithHostConcurrencyFor) to n attempts in flight, while requests run,
// overriding SetHostConcurrency and WithHostConcurrency for it; n must be
// positive. The host is matched as in WithRateLimitFor. Its limit changes
// as SetMaxConcurrency describes, and is created if it had none; the table
// requirement of SetHostConcurrency applies.
func (s *Session) SetHostConcurrencyFor(host string, n int) error {
	key, err := hostOption("SetHostConcurrencyFor", host)
	if err != nil {
		return err
	}
	if n <= 0 {
		return invalidOption("SetHostConcurrencyFor", n, "n must be positive")
	}
	hosts, err := s.hostTable("SetHostConcurrencyFor", n)
	if err != nil {
		return err
	}
	hosts.setConc(key, n)
	return nil
}

// SetHostRateLimit changes every host's own rate limit (see
// WithHostRateLimit) to at most n attempt starts in any window of length
// per, while requests run, except the hosts given a limit of their own
// (WithRateLimitFor, SetRateLimitFor); n and per must be positive. Each
// host's window changes as SetRateLimit describes, and a host that had
// none gets one; the table requirement of SetHostConcurrency applies. The
// windows a server states (see WithServerFeedback) are not changed: they
// still hold on top.
func (s *Session) SetHostRateLimit(n int, per time.Duration) error {
	spec, err := positiveRate("SetHostRateLimit", n, per)
	if err != nil {
		return err
	}
	hosts, err := s.hostTable("SetHostRateLimit", n)
	if err != nil {
		return err
	}
	return hosts.setRate("", spec)
}

// SetRateLimitFor changes one host's own rate limit (see
// WithRateLimitFor) to at most n attempt starts in any window of length
// per, while requests run, overriding SetHostRateLimit and
// WithHostRateLimit for it; n and per must be positive. The host is
// matched as in WithRateLimitFor, and its window changes as
// SetHostRateLimit describes.
func (s *Session) SetRateLimitFor(host string, n int, per time.Duration) error {
	key, err := hostOption("SetRateLimitFor", host)
	if err != nil {
		return err
	}
	spec, err := positiveRate("SetRateLimitFor", n, per)
	if err != nil {
		return err
	}
	hosts, err := s.hostTable("SetRateLimitFor", n)
	if err != nil {
		return err
	}
	return hosts.setRate(key, spec)
}

// hostTable returns the session's host table, or the error of call(n) on
// a session without one.
func (s *Session) hostTable(call string, n int) (*hostTable, error) {
	if h := s.transport.hosts; h != nil {
		return h, nil
	}
	return nil, invalidOption(call, n, "the session keeps nothing per host: it was made with WithServerFeedback(false) and no per-host limit")
}

// setWindow changes the window at p to spec, or installs one if there is
// none. Two calls at once both end with one window, set by the later.
func setWindow(p interface {
	Load() *ratelimit.Window
	CompareAndSwap(old, new *ratelimit.Window) bool
}, spec rateSpec, guard windowGuard, clk ratelimit.Clock) error {
	per := guard.window(spec.per)
	if w := p.Load(); w != nil {
		return w.SetLimit(spec.n, per)
	}
	w, err := ratelimit.NewWindow(spec.n, per, ratelimit.WithClock(clk))
	if err != nil {
		return err
	}
	if !p.CompareAndSwap(nil, w) {
		return p.Load().SetLimit(spec.n, per)
	}
	return nil
}

// setSlots changes the semaphore at p to n slots, or installs one if there
// is none, as setWindow does.
func setSlots(p interface {
	Load() *semaphore.Throttler
	CompareAndSwap(old, new *semaphore.Throttler) bool
}, n int, opts []semaphore.Option) error {
	if s := p.Load(); s != nil {
		return s.SetCapacity(int64(n))
	}
	s, err := semaphore.NewThrottler(int64(n), opts...)
	if err != nil {
		return err
	}
	if !p.CompareAndSwap(nil, s) {
		return p.Load().SetCapacity(int64(n))
	}
	return nil
}

// setConc sets the concurrency limit of host key, or every host's default
// when key is "", and applies it to the hosts in their live form that it
// governs. A host kept as history gets it when it is next used, as one
// not seen yet does.
func (t *hostTable) setConc(key string, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if key == "" {
		t.conc = n
	} else {
		// A fresh map: the old one is the config's.
		t.concFor = maps.Clone(t.concFor)
		if t.concFor == nil {
			t.concFor = make(map[string]int)
		}
		t.concFor[key] = n
	}
	t.eachLiveLocked(key, func(k string, l *hostLive) {
		setSlots(&l.slots, t.slotsFor(k), t.semOpts) // checked by newHostTable
	})
}

// setRate sets the rate limit of host key, or every host's default when
// key is "", as setConc does.
func (t *hostTable) setRate(key string, spec rateSpec) (err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if key == "" {
		t.rate = spec
	} else {
		t.rateFor = maps.Clone(t.rateFor)
		if t.rateFor == nil {
			t.rateFor = make(map[string]rateSpec)
		}
		t.rateFor[key] = spec
	}
	t.eachLiveLocked(key, func(k string, l *hostLive) {
		if s, ok := t.rateOf(k); ok {
			if werr := setWindow(&l.rate, s, t.guard, t.clock); werr != nil && err == nil {
				err = fmt.Errorf("%w: %w", ErrInvalidOption, werr)
			}
		}
	})
	return err
}

// eachLiveLocked calls f for host key in its live form, or, when key is
// "", for every host in its live form.
func (t *hostTable) eachLiveLocked(key string, f func(key string, l *hostLive)) {
	if key != "" {
		if h := t.m[key]; h != nil && h.live != nil {
			f(key, h.live)
		}
		return
	}
	for k, h := range t.m {
		if h.live != nil {
			f(k, h.live)
		}
	}
}
