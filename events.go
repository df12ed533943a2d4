package throttle

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// An Event is something the limits did or saw: an attempt sent or done, a
// retry scheduled or refused, a host paused or resumed, a limit learned or
// adapted, a caller rejected. WithObserver delivers them; Kind says which
// fields are set, and the others are zero.
//
// It is plain data, passed by value. URL and Context point at the
// caller's request and context: an observer may read them during its call
// but must not modify them. URL is the request's URL as sent, credentials
// included: show it through RedactedURL.
type Event struct {
	Kind EventKind
	// Time is when it happened, on the session's clock (WithClock).
	Time time.Time
	// Host is the host key, as the per-host options name hosts
	// ("api.example.com", "localhost:8080"; see WithRateLimitFor).
	Host string

	// The request, for the attempt, retry and rejection events. Context
	// is the caller's: a tracer starts its spans under it.
	Context context.Context
	Method  string
	URL     *url.URL
	// Attempt counts the attempts of one request (of one redirect hop):
	// 1 for the first, 2 for the first retry.
	Attempt int

	// Wait is how long an attempt waited for the limits before it was
	// sent (EventAttemptSent), and WaitedOn the limit it waited on
	// longest; zero and "" when it waited for nothing.
	Wait     time.Duration
	WaitedOn Gate
	// PauseWait is how much of Wait the host's pause (GateHostPause)
	// took.
	PauseWait time.Duration

	// What an attempt got (EventAttemptDone): its status (0 without a
	// response) or its error; Throttled when the server said the request
	// was refused by a rate limit (a 429, a 503, a rate-limit 403; see
	// feedback.Signal.Throttled). TimeToHeaders runs from the send to the
	// response headers, Duration from the send to the end of the response
	// body (or the error); BytesReceived counts the body bytes the caller
	// read. A retry's event may also carry the status or error it follows.
	StatusCode    int
	Err           error
	Throttled     bool
	TimeToHeaders time.Duration
	Duration      time.Duration
	BytesReceived int64

	// Backoff is the wait before a retry (EventRetryScheduled).
	Backoff time.Duration
	// Until is when a pause ends (EventHostPaused).
	Until time.Time
	// Old and New are a limit before and after it was learned or adapted;
	// Old is zero when the host had no such limit.
	Old, New Limit
	// Reason says why, for the events that have one (see the Reason
	// constants).
	Reason Reason
}

// RedactedURL is URL as throttle's errors and logs show it: the password
// and the values of credential query parameters (key, token, sig,
// password, secret and the like) replaced (see Session.Do).
func (e Event) RedactedURL() string { return redactURL(e.URL) }

// EventKind says what an Event reports.
type EventKind uint8

// The kinds of Event.
const (
	// EventAttemptSent: an attempt passed every limit and is handed to
	// the base RoundTripper. Request fields, Wait and WaitedOn.
	EventAttemptSent EventKind = iota + 1
	// EventAttemptDone: an attempt that was sent ended, when its response
	// body was read to EOF, closed or failed, or when it failed without a
	// response. Exactly one follows each EventAttemptSent. Request fields,
	// StatusCode or Err, Throttled, TimeToHeaders, Duration,
	// BytesReceived.
	EventAttemptDone
	// EventRetryScheduled: the retry policy decided to retry; the retry
	// is sent after Backoff, through every limit again. Request fields
	// (Attempt is the failed attempt's), StatusCode or Err, Backoff, and
	// Reason: ReasonRetryAfter when the server directed the wait,
	// ReasonStatus or ReasonError otherwise.
	EventRetryScheduled
	// EventRetryRefused: a retry the policy wanted was not made. Request
	// fields, StatusCode or Err, and Reason: ReasonRetryBudget (the
	// host's retry budget is spent) or ReasonDeadline (the server's
	// Retry-After ends past the caller's deadline).
	EventRetryRefused
	// EventHostPaused: a response paused its host: no attempt starts
	// before Until. Reason: ReasonRetryAfter, ReasonBudget (a stated
	// remaining count reached 0; Until is its reset) or ReasonRejected (a
	// bare rejection, which slows the host). A later response may extend
	// the pause, with another event.
	EventHostPaused
	// EventHostResumed: the first attempt after a pause passed the host.
	// It comes when that attempt does, not when the pause ends: nothing
	// runs in the background.
	EventHostResumed
	// EventLimitLearned: the server stated a limit (New; Old is the one it
	// replaces, if any). Reason: ReasonPolicy.
	EventLimitLearned
	// EventLimitAdapted: the client changed a host's limit from what it
	// saw: Old and New, and Reason: ReasonRejected (decreased after a
	// rejection), ReasonIncrease or ReasonSlowStart (raised after
	// successes).
	EventLimitAdapted
	// EventCallerRejected: a caller failed before its attempt was sent,
	// without waiting (Err says why). Request fields and Reason:
	// ReasonQueueFull, ReasonQuota, or ReasonDeadline (its deadline falls
	// before the limits would let it go).
	EventCallerRejected
)

var eventKindNames = [...]string{
	EventAttemptSent:    "attempt sent",
	EventAttemptDone:    "attempt done",
	EventRetryScheduled: "retry scheduled",
	EventRetryRefused:   "retry refused",
	EventHostPaused:     "host paused",
	EventHostResumed:    "host resumed",
	EventLimitLearned:   "limit learned",
	EventLimitAdapted:   "limit adapted",
	EventCallerRejected: "caller rejected",
}

// String names the kind, as in "attempt sent".
func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && eventKindNames[k] != "" {
		return eventKindNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// A Gate is one of the limits an attempt waits at before it is sent. Its
// value is the one otelthrottle reports as throttle.limit.
type Gate string

// The gates, in the order an attempt passes them.
const (
	// GateHostPause: the host's pause, its first contact, its stated
	// budget.
	GateHostPause Gate = "host.pause"
	// GateHostConcurrency: the host's concurrency slot
	// (WithHostConcurrency, WithHostConcurrencyLimiter).
	GateHostConcurrency Gate = "host.concurrency"
	// GateHostRate: the host's rate (WithHostRateLimit, the policies its
	// server stated, WithHostLimiter).
	GateHostRate Gate = "host.rate"
	// GateSessionConcurrency: the session's concurrency slot
	// (WithMaxConcurrency, WithSharedConcurrency).
	GateSessionConcurrency Gate = "session.concurrency"
	// GateSessionRate: the session's rate and pacing (WithRateLimit,
	// WithBurst).
	GateSessionRate Gate = "session.rate"
	// GateBudget: a cost budget.
	GateBudget Gate = "budget"
	// GateLimiter: a limiter given with WithLimiter.
	GateLimiter Gate = "limiter"
)

// A Reason says why an event happened. Its value is the one otelthrottle
// reports as throttle.reason.
type Reason string

// The reasons; each event kind's doc says which it uses.
const (
	ReasonRetryAfter  Reason = "retry_after"  // the server's Retry-After
	ReasonBudget      Reason = "budget"       // a stated remaining count reached 0
	ReasonRejected    Reason = "rejected"     // a rejection (429, 503) without a stated wait
	ReasonStatus      Reason = "status"       // the response's status
	ReasonError       Reason = "error"        // the attempt's error
	ReasonRetryBudget Reason = "retry_budget" // the host's retry budget is spent
	ReasonDeadline    Reason = "deadline"     // the caller's deadline cannot be met
	ReasonQueueFull   Reason = "queue_full"   // WithQueueLimit
	ReasonQuota       Reason = "quota"        // WithConsumerShare, WithPriorityShare
	ReasonPolicy      Reason = "policy"       // a RateLimit-Policy the server stated
	ReasonIncrease    Reason = "increase"     // successes raised an adapted limit
	ReasonSlowStart   Reason = "slow_start"   // a new host ramping up
)

// A Limit is a host's concurrency or rate limit: at most N attempts in
// flight, or at most N attempt starts in any window of length Per. The
// zero Limit is no limit.
type Limit struct {
	Kind   LimitKind
	N      int
	Per    time.Duration // LimitRate only
	Source LimitSource
}

// LimitKind says what a Limit bounds.
type LimitKind uint8

// The kinds of Limit.
const (
	LimitConcurrency LimitKind = iota + 1 // attempts in flight
	LimitRate                             // attempt starts per window
)

// String is "concurrency" or "rate", as otelthrottle reports
// throttle.limit.kind.
func (k LimitKind) String() string {
	switch k {
	case LimitConcurrency:
		return "concurrency"
	case LimitRate:
		return "rate"
	}
	return "LimitKind(" + strconv.Itoa(int(k)) + ")"
}

// LimitSource says who set a Limit.
type LimitSource uint8

// The sources of a Limit.
const (
	SourceConfigured LimitSource = iota + 1 // an option (WithHostConcurrency, WithHostRateLimit...)
	SourceServer                            // stated by the server (RateLimit-Policy)
	SourceAdapted                           // adapted by the client from what it saw
)

// String is "configured", "server" or "adapted".
func (s LimitSource) String() string {
	switch s {
	case SourceConfigured:
		return "configured"
	case SourceServer:
		return "server"
	case SourceAdapted:
		return "adapted"
	}
	return "LimitSource(" + strconv.Itoa(int(s)) + ")"
}

// IsZero reports whether l is no limit.
func (l Limit) IsZero() bool { return l.N == 0 }

// PerSecond is a rate limit's long-run rate, in attempts per second; a
// concurrency limit's N.
func (l Limit) PerSecond() float64 {
	if l.Kind != LimitRate || l.Per <= 0 {
		return float64(l.N)
	}
	return float64(l.N) / l.Per.Seconds()
}

// String reads as "10 in flight" or "100 per 1m0s", with the source in
// brackets when it is set; "none" for the zero Limit.
func (l Limit) String() string {
	var s string
	switch {
	case l.IsZero():
		return "none"
	case l.Kind == LimitRate:
		s = strconv.Itoa(l.N) + " per " + l.Per.String()
	default:
		s = strconv.Itoa(l.N) + " in flight"
	}
	if l.Source != 0 {
		s += " (" + l.Source.String() + ")"
	}
	return s
}

// tighter reports whether l allows less than m; no limit allows most.
func (l Limit) tighter(m Limit) bool {
	switch {
	case l.IsZero():
		return false
	case m.IsZero():
		return true
	}
	return l.PerSecond() < m.PerSecond()
}

// WithObserver calls f with every Event of the Session (or Transport),
// synchronously, on the goroutine where it happens: a caller's, for most;
// the one that reads or closes a response body, for EventAttemptDone.
// Several WithObserver (and WithLogger) options all get every event, in
// the order given.
//
// f must not block, and must be safe for concurrent use: it runs inside
// the request's path, and a slow f slows every request. It is never
// called with a lock of the session held, so it may call the session's
// methods (Stats, HostStats), but not send requests through it. Events
// of one attempt come in order; events of different attempts may
// interleave. f must not be nil.
//
// With no observer (nor logger) set, the limits build no events: a
// request costs what it costs without this option.
func WithObserver(f func(Event)) Option {
	return option(func(c *config) error {
		if err := nilArg("WithObserver", "", f); err != nil {
			return err
		}
		c.obs.observers = append(c.obs.observers, f)
		return nil
	})
}
