package throttle

import (
	"iter"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle/feedback"
)

// HostStats is a snapshot of one host's figures: what is in flight and
// waiting, what its server said, and the limits in force on it now. It is
// plain data; its zero value is the snapshot of a host the session knows
// nothing about.
//
// The figures live in the host's entry in the session's host table, and
// go with it: a host nobody has used for a while, that is not paused and
// whose windows have run out, is forgotten, and its counts start again
// from zero if it is used again.
type HostStats struct {
	// Host is the host key, as the per-host options name hosts.
	Host string
	// InFlight counts the attempts sent to the host whose response body
	// is not done; Waiting, the callers waiting for a limit to send to it.
	InFlight, Waiting int64
	// TooManyRequests and Unavailable count the 429 and 503 responses
	// seen from the host.
	TooManyRequests, Unavailable int64
	// PausedUntil is when the host's pause ends (a Retry-After, a
	// rejection, a spent stated budget), on the session's clock; zero when
	// it is not paused now.
	PausedUntil time.Time
	// Remaining is what is left of the budget the server stated, until
	// ResetAt; HasBudget is false when no stated budget runs now.
	Remaining int64
	ResetAt   time.Time
	HasBudget bool
	// Concurrency and Rate are the limits in force now: the tightest of
	// what the options configured, what the server stated and what the
	// client adapted, each with its Source. A zero Limit is none.
	Concurrency, Rate Limit
	// Retries counts the retries sent to the host; RetriesRefused, the
	// retries its retry budget refused (see RetryBudget).
	Retries, RetriesRefused int64
}

// hostFigures are the counts of a host that has had something to count:
// made on its first 429, 503, retry or announced event, so that a host
// that answers well costs one pointer. The counters are atomics; the
// announced state is guarded by hostTable.mu.
type hostFigures struct {
	tooMany, unavailable  atomic.Int64
	retries, refused      atomic.Int64
	announcedPause        atomic.Bool // a pause was announced, its end not yet
	until                 int64       // the end of the pause last announced
	stated, adapted, adRt Limit       // the limits last announced (see noteResponse)
}

// figures returns h's figures, making them on first use.
func (h *host) figures() *hostFigures {
	if f := h.fig.Load(); f != nil {
		return f
	}
	h.fig.CompareAndSwap(nil, new(hostFigures))
	return h.fig.Load()
}

// adaptedLocked is what the client adapted on h from what it saw (the
// adaptive limits of DESIGN's politeness section): an in-flight limit
// and a rate, each zero when none holds. Called with hostTable.mu held,
// by HostStats and by the events; the adaptive code fills it in.
func (h *host) adaptedLocked() (conc, rate Limit) { return h.ad.limits() }

// statedLocked is the tightest rate the server stated for h (its
// RateLimit-Policy), as applied: a window no longer than WithMaxPause.
func (t *hostTable) statedLocked(h *host) Limit {
	var rate Limit
	for _, p := range h.policiesLocked() {
		l := Limit{Kind: LimitRate, N: p.Quota, Per: min(p.Window, t.maxPause), Source: SourceServer}
		if l.tighter(rate) {
			rate = l
		}
	}
	return rate
}

// policiesLocked are the policies h's server stated, from its live form
// or its history.
func (h *host) policiesLocked() []feedback.Policy {
	if h.live != nil {
		return h.live.policies
	}
	if len(h.kept) < 2 || h.kept[1] == 0 {
		return nil
	}
	ps := make([]feedback.Policy, h.kept[1])
	for i := range ps {
		ps[i] = feedback.Policy{Quota: int(h.kept[2+2*i]), Window: time.Duration(h.kept[3+2*i])}
	}
	return ps
}

// limitsLocked are the limits in force on key's host h now: the tightest
// of the configured, stated and adapted ones.
func (t *hostTable) limitsLocked(key string, h *host) (conc, rate Limit) {
	if n := t.slotsFor(key); n > 0 {
		conc = Limit{Kind: LimitConcurrency, N: n, Source: SourceConfigured}
	}
	if spec, ok := t.rateOf(key); ok {
		rate = Limit{Kind: LimitRate, N: spec.n, Per: spec.per, Source: SourceConfigured}
	}
	if s := t.statedLocked(h); s.tighter(rate) {
		rate = s
	}
	ac, ar := h.adaptedLocked()
	if ac.tighter(conc) {
		conc = ac
	}
	if ar.tighter(rate) {
		rate = ar
	}
	return conc, rate
}

// statsLocked fills s with key's host h's figures at now.
func (t *hostTable) statsLocked(key string, h *host, now int64, s *HostStats) {
	s.Host = key
	if l := h.live; l != nil {
		s.InFlight, s.Waiting = int64(l.active.Load()), int64(l.waiting.Load())
	}
	if f := h.fig.Load(); f != nil {
		s.TooManyRequests, s.Unavailable = f.tooMany.Load(), f.unavailable.Load()
		s.Retries, s.RetriesRefused = f.retries.Load(), f.refused.Load()
	}
	if now < h.pausedUntil {
		s.PausedUntil = t.epoch.Add(time.Duration(h.pausedUntil))
	}
	if h.hasBudget && now < h.resetAt {
		s.HasBudget, s.Remaining, s.ResetAt = true, int64(h.remaining), t.epoch.Add(time.Duration(h.resetAt))
		if h.remaining <= 0 && s.ResetAt.After(s.PausedUntil) {
			s.PausedUntil = s.ResetAt
		}
	}
	s.Concurrency, s.Rate = t.limitsLocked(key, h)
}

// stats reports key's host, if the table holds it.
func (t *hostTable) stats(key string) (HostStats, bool) {
	var s HostStats
	if t == nil {
		return s, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.m[key]
	if h == nil {
		return s, false
	}
	t.statsLocked(key, h, t.now(), &s)
	return s, true
}

// keys are the hosts the table holds now.
func (t *hostTable) keys() []string {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.m))
	for k := range t.m {
		keys = append(keys, k)
	}
	return keys
}

// HostStats reports the figures of host, named as the per-host options
// name hosts (see WithRateLimitFor: "api.example.com",
// "localhost:8080"), and whether the session has state for it: a host it
// has never sent to, or has forgotten, or a name that is not a host,
// reports false. A Session with no per-host limit and WithServerFeedback
// off keeps no host state.
func (s *Session) HostStats(host string) (HostStats, bool) { return s.transport.HostStats(host) }

// Hosts yields the figures of every host the session has state for, one
// at a time, in no particular order. It takes the list of hosts at once
// and each host's figures as it yields them: a host forgotten meanwhile
// is skipped, a host first used meanwhile is not listed. It holds no
// lock while the loop's body runs.
func (s *Session) Hosts() iter.Seq[HostStats] { return s.transport.Hosts() }

// HostStats is Session.HostStats.
func (t *Transport) HostStats(host string) (HostStats, bool) {
	key, err := normalHost(host)
	if err != nil {
		return HostStats{}, false
	}
	return t.hosts.stats(key)
}

// Hosts is Session.Hosts.
func (t *Transport) Hosts() iter.Seq[HostStats] {
	return func(yield func(HostStats) bool) {
		for _, key := range t.hosts.keys() {
			if s, ok := t.hosts.stats(key); ok && !yield(s) {
				return
			}
		}
	}
}
