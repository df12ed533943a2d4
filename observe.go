package throttle

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/go-throttle/throttle/feedback"
	"github.com/go-throttle/throttle/internal/obshook"
	"github.com/go-throttle/throttle/semaphore"
)

// This file turns what the pipeline does into Events (see events.go) and
// keeps the per-host counts HostStats reads. Every hook is a nil check
// when nobody listens: the hot files call them in one line each, and the
// Events are built only behind that check.

// obsConfig is what the observing options gave.
type obsConfig struct {
	observers []func(Event)
	// hooks are the integrations' (otelthrottle's) asks, through
	// internal/obshook.
	hooks []obshook.Hooks
}

func init() {
	obshook.Option = func(h obshook.Hooks) any {
		return option(func(c *config) error {
			c.obs.hooks = append(c.obs.hooks, h)
			var errs []error
			for _, o := range h.Options {
				errs = append(errs, o.(Option).apply(c))
			}
			return errors.Join(errs...)
		})
	}
}

// observing is what a Transport's observers need.
type observing struct {
	emit     func(Event) // every observer in turn; nil when nobody listens
	answered []func(sent *http.Request, resp *http.Response, attempt int)
	detach   []func()
	detached sync.Once
}

// setupObservers wires the observers and the attached integrations; it
// runs last in newTransport, once nothing can fail.
func (t *Transport) setupObservers(c *config) {
	switch fs := slices.Clone(c.obs.observers); len(fs) {
	case 0:
	case 1:
		t.obs.emit = fs[0]
	default:
		t.obs.emit = func(e Event) {
			for _, f := range fs {
				f(e)
			}
		}
	}
	for _, h := range c.obs.hooks {
		if h.Answered != nil {
			t.obs.answered = append(t.obs.answered, h.Answered)
		}
		if h.Attach == nil {
			continue
		}
		if d := h.Attach(t); d != nil {
			t.obs.detach = append(t.obs.detach, d)
		}
	}
}

// detachObservers undoes the attached integrations, once (Close).
func (t *Transport) detachObservers() {
	t.obs.detached.Do(func() {
		for _, d := range t.obs.detach {
			d()
		}
	})
}

// observed reports whether anyone listens to the events.
func (t *Transport) observed() bool { return t.obs.emit != nil }

// emit delivers e, stamped now unless it has a time. Callers check
// observed first, so that nobody builds an Event nobody reads.
func (t *Transport) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = t.clock.Now()
	}
	t.obs.emit(e)
}

// waitObs is what a waiter notes for the events and the host's Waiting
// count.
type waitObs struct {
	start, last time.Time     // when the caller came, and its last mark
	longest     time.Duration // the longest time between two marks
	gate        Gate          // what was waited for then
	paused      time.Duration // the time spent at GateHostPause
	live        *hostLive     // where the caller counts as waiting
}

// begin notes when the caller came, if anyone listens.
func (w *waiter) begin() {
	if w.t.observed() {
		now := w.t.clock.Now()
		w.obs.start, w.obs.last = now, now
	}
}

// passed notes that the caller has passed gate g: the time since the
// previous mark was spent waiting at g.
func (w *waiter) passed(g Gate) {
	if !w.t.observed() {
		return
	}
	now := w.t.clock.Now()
	d := now.Sub(w.obs.last)
	if d > w.obs.longest {
		w.obs.longest, w.obs.gate = d, g
	}
	if g == GateHostPause {
		w.obs.paused += d
	}
	w.obs.last = now
}

// waitingAt counts the caller as waiting to send to st until
// doneWaiting. Only callers that must wait (acquire's slow path) come
// here.
func (w *waiter) waitingAt(st *host) {
	l := st.live
	if w.obs.live == l {
		return
	}
	w.doneWaiting()
	l.waiting.Add(1)
	w.obs.live = l
}

func (w *waiter) doneWaiting() {
	if w.obs.live != nil {
		w.obs.live.waiting.Add(-1)
		w.obs.live = nil
	}
}

// attemptObs is what an observed attempt notes for its events; an
// attempt nobody observes has none.
type attemptObs struct {
	ctx       context.Context
	method    string
	url       *url.URL
	key       string
	attempt   int
	sent      time.Time
	toHeaders time.Duration
	status    int
	err       error
	throttled bool
	bytes     int64
}

// attemptNumber is req's attempt of its request: 1, or more for a
// Session's retries (see retryLayer's RequestLogHook).
func attemptNumber(req *http.Request) int {
	if wc, ok := req.Context().(*waitContext); ok {
		return wc.attempt + 1
	}
	return 1
}

// sending runs as the attempt is handed to the base RoundTripper: it
// counts the attempt on its host and reports it.
func (h *hold) sending(w *waiter, req *http.Request, key string) {
	attempt := attemptNumber(req)
	if st := h.host; st != nil {
		st.live.active.Add(1)
		if attempt > 1 {
			st.figures().retries.Add(1)
		}
	}
	t := h.t
	if !t.observed() {
		return
	}
	now := t.clock.Now()
	h.ev = &attemptObs{ctx: w.send, method: req.Method, url: req.URL, key: key, attempt: attempt, sent: now}
	if st := h.host; st != nil {
		if f := st.fig.Load(); f != nil && f.announcedPause.CompareAndSwap(true, false) {
			// The attempt passed the host, so its pause is over.
			t.emit(Event{Kind: EventHostResumed, Time: now, Host: key})
		}
	}
	var wait time.Duration
	if !w.obs.start.IsZero() {
		wait = now.Sub(w.obs.start)
	}
	t.emit(Event{
		Kind: EventAttemptSent, Time: now, Host: key,
		Context: w.send, Method: req.Method, URL: req.URL, Attempt: attempt,
		Wait: wait, WaitedOn: w.obs.gate, PauseWait: w.obs.paused,
	})
}

// answered notes what the base RoundTripper returned for sent.
func (h *hold) answered(sent *http.Request, resp *http.Response, err error) {
	if resp != nil && h.host != nil {
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
			h.host.figures().tooMany.Add(1)
		case http.StatusServiceUnavailable:
			h.host.figures().unavailable.Add(1)
		}
	}
	e := h.ev
	if e == nil {
		return
	}
	e.toHeaders = h.t.clock.Now().Sub(e.sent)
	e.err = err
	if resp == nil {
		return
	}
	e.status = resp.StatusCode
	for _, f := range h.t.obs.answered {
		f(sent, resp, e.attempt)
	}
}

// received counts n body bytes for the attempt's event.
func (h *hold) received(n int) {
	if h.ev != nil {
		h.ev.bytes += int64(n)
	}
}

// bodyFailed notes that reading the response body failed with err.
func (h *hold) bodyFailed(err error) {
	if h.ev != nil {
		h.ev.err = err
	}
}

// ended runs in release, before the attempt leaves its host: an attempt
// that was sent is done.
func (h *hold) ended() {
	if !h.sent {
		return
	}
	if h.host != nil {
		h.host.live.active.Add(-1)
	}
	e := h.ev
	if e == nil {
		return
	}
	if h.parsed {
		e.throttled = h.throttled
	} else {
		// Nothing read the response's headers: judge by its status alone.
		e.throttled = e.status == http.StatusTooManyRequests || e.status == http.StatusServiceUnavailable
	}
	now := h.t.clock.Now()
	h.t.emit(Event{
		Kind: EventAttemptDone, Time: now, Host: e.key,
		Context: e.ctx, Method: e.method, URL: e.url, Attempt: e.attempt,
		StatusCode: e.status, Err: e.err, Throttled: e.throttled,
		TimeToHeaders: e.toHeaders, Duration: now.Sub(e.sent), BytesReceived: e.bytes,
	})
}

// noteResponse reports what the attempt's response changed on its host,
// once the host table has applied it (see hostTable.observe): a pause
// that now ends later than announced, a limit the server stated, a limit
// the client adapted. Each change is announced once, by the first
// response after it; the announced state lives in the host's figures.
func (h *hold) noteResponse(sig *feedback.Signal) {
	e := h.ev
	if e == nil || h.host == nil {
		return
	}
	hosts, st := h.t.hosts, h.host
	var evs [4]Event
	n := 0
	add := func(ev Event) { evs[n] = ev; n++ }
	hosts.mu.Lock()
	now := hosts.now()
	f := st.figures()
	if stated := hosts.statedLocked(st); stated != f.stated {
		add(Event{Kind: EventLimitLearned, Old: f.stated, New: stated, Reason: ReasonPolicy})
		f.stated = stated
	}
	why := ReasonIncrease
	if sig.Throttled {
		why = ReasonRejected
	}
	if ac, ar := st.adaptedLocked(); ac != f.adapted || ar != f.adRt {
		if ac != f.adapted {
			add(Event{Kind: EventLimitAdapted, Old: f.adapted, New: ac, Reason: why})
		}
		if ar != f.adRt {
			add(Event{Kind: EventLimitAdapted, Old: f.adRt, New: ar, Reason: why})
		}
		f.adapted, f.adRt = ac, ar
	}
	if until := st.blockedUntil(now); until > f.until {
		reason := ReasonRejected
		switch {
		case h.retryAfter:
			reason = ReasonRetryAfter
		case until != st.pausedUntil, sig.HasRemaining && sig.Remaining <= 0:
			// The budget blocks the host (counting the attempts still in
			// flight), or the server said it was spent.
			reason = ReasonBudget
		}
		add(Event{Kind: EventHostPaused, Until: hosts.epoch.Add(time.Duration(until)), Reason: reason})
		f.until = until
		f.announcedPause.Store(true)
	}
	hosts.mu.Unlock()
	for _, ev := range evs[:n] {
		ev.Host = e.key
		h.t.emit(ev)
	}
}

// rejected reports a caller that failed before its attempt was sent
// because a limit refused it, rather than because its context ended.
func (t *Transport) rejected(w *waiter, req *http.Request, key string, err error) {
	if !t.observed() {
		return
	}
	var why Reason
	switch {
	case errors.Is(err, ErrQueueFull):
		why = ReasonQueueFull
	case errors.Is(err, semaphore.ErrQuota):
		why = ReasonQuota
	case errors.Is(err, ErrHostPaused),
		errors.Is(err, context.DeadlineExceeded) && w.send.Err() == nil:
		why = ReasonDeadline
	default:
		return
	}
	t.emit(Event{
		Kind: EventCallerRejected, Host: key,
		Context: w.send, Method: req.Method, URL: req.URL, Attempt: attemptNumber(req),
		Err: err, Reason: why,
	})
}

// retryRefused reports a retry of a request to host key that was not
// made, for why (ReasonRetryBudget, ReasonDeadline), in an event, and
// counts it on the host when the budget refused it. ctx is the context
// the retry policy was called with; resp and err are what the last
// attempt got.
func (t *Transport) retryRefused(ctx context.Context, key string, resp *http.Response, err error, why Reason) {
	if t.hosts != nil && why == ReasonRetryBudget {
		t.hosts.mu.Lock()
		if st := t.hosts.m[key]; st != nil {
			st.figures().refused.Add(1)
		}
		t.hosts.mu.Unlock()
	}
	if !t.observed() {
		return
	}
	if ue, ok := err.(*url.Error); ok {
		err = ue.Err // it names the URL, credentials included
	}
	ev := Event{Kind: EventRetryRefused, Host: key, Err: err, Reason: why}
	if c := callOf(ctx); c != nil {
		ev.Context, ev.Method, ev.URL, ev.Attempt = c.ctx, c.method, c.url, c.attempt()
	}
	if resp != nil {
		ev.StatusCode = resp.StatusCode
	}
	t.emit(ev)
}

// respHost is the host key of resp's request; "" when it has none.
func respHost(resp *http.Response) string {
	if resp == nil || resp.Request == nil || resp.Request.URL == nil {
		return ""
	}
	return hostKey(resp.Request.URL)
}
