package throttle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/semaphore"
)

// Transport is an http.RoundTripper that passes every attempt through the
// configured limits before handing it to its base RoundTripper. It makes no
// retries and follows no redirects: wrapped in an http.Client, each
// redirect hop passes through the limits on its own; wrapped in a Session,
// so does each retry.
//
// For each attempt, narrowest first, it takes: the host's concurrency slot,
// then the host's rate token; the session-wide slot, then the session
// token, the pacing token and any extra limiters; then it wraps the bodies
// in the byte-rate limits. A slot comes before its token, so waiting for a
// slot never banks tokens that later burst; resources are always taken in
// this one order, so nothing deadlocks.
//
// A Transport is safe for concurrent use, and should be reused: its limits
// hold only among the requests that share it. A Transport must be made
// with NewTransport: the zero value is not usable.
type Transport struct {
	base  http.RoundTripper
	clock ratelimit.Clock

	hosts *hostTable // everything per host; nil if nothing is
	// The session-wide limits are atomic so that one set while the
	// Transport is in use (retune.go) can be installed.
	slots    atomic.Pointer[semaphore.Throttler] // session-wide concurrency; nil if none
	rate     atomic.Pointer[ratelimit.Window]    // session-wide rate; nil if none
	pace     *ratelimit.Bucket                   // pacing on top of rate; nil if none
	extra    []ratelimit.Limiter
	upload   []ratelimit.Limiter // the byte bucket of all request bodies; nil if none
	download []ratelimit.Limiter // the byte bucket of all response bodies; nil if none
	timeout  time.Duration
	guard    windowGuard // how the windows count an attempt (see hold.clientTrace)

	queue  *admission    // WithQueueLimit; nil if none
	shared *sharedLimits // limits given as interfaces; nil if none

	closing closeState // what Close ends

	budgets *costBudgets // cost budgets (budget.go); nil if none

	stats counters
	obs   observing // WithObserver's (see observe.go)
}

// counters are the Transport's live Stats.
type counters struct {
	requests      atomic.Int64
	retries       atomic.Int64
	inFlight      atomic.Int64
	waiting       atomic.Int64
	bytesSent     atomic.Int64
	bytesReceived atomic.Int64
	throttled     atomic.Int64

	retriesRefused atomic.Int64 // by the retry budget (retrybudget.go)
}

// NewTransport returns a Transport that sends attempts through base (nil
// means a transport that behaves as http.DefaultTransport) under the
// limits the options set. Session-only options (WithRetry, WithBaseURL,
// WithHeader, WithTransport) are reported as errors wrapping
// ErrInvalidOption, and so is a base that holds a nil pointer, map or
// func (a typed nil such as (*http.Transport)(nil)).
func NewTransport(base http.RoundTripper, opts ...Option) (*Transport, error) {
	c, err := newConfig(opts)
	if base != nil && isNil(base) { // a plain nil base means the default
		err = errors.Join(err, nilArg("NewTransport", "base", base))
	}
	for _, name := range c.sessionOnly {
		err = errors.Join(err, invalidOption(name, "...", "applies to a Session, not to a Transport"))
	}
	if err != nil {
		return nil, err
	}
	c.base = base
	return newTransport(c)
}

func newTransport(c *config) (*Transport, error) {
	t := &Transport{base: c.base, clock: c.clock, extra: c.limiters, timeout: c.timeout, guard: c.guard}
	t.shared = newSharedLimits(c)
	t.closing.done = make(chan struct{})
	if c.hasQueueLimit {
		t.queue = &admission{limit: int64(c.queueLimit)}
	}
	if t.base == nil {
		t.base = defaultBase(c)
	}
	var err error
	if t.hosts, err = newHostTable(c, t.closing.done); err != nil {
		return nil, err
	}
	if c.maxConc > 0 {
		slots, err := semaphore.NewThrottler(int64(c.maxConc), c.semOpts...)
		if err != nil {
			return nil, fmt.Errorf("%w: WithMaxConcurrency: %w", ErrInvalidOption, err)
		}
		t.slots.Store(slots)
	}
	if err = t.newSessionRate(c); err != nil {
		return nil, err
	}
	if t.budgets, err = newCostBudgets(c); err != nil {
		return nil, err
	}
	if t.upload, err = newBodyLimit("WithUploadLimit", c.upload, c.clock); err != nil {
		return nil, err
	}
	if t.download, err = newBodyLimit("WithDownloadLimit", c.download, c.clock); err != nil {
		return nil, err
	}
	t.setupObservers(c)
	return t, nil
}

// RoundTrip sends one attempt once it has passed every limit, and keeps
// the http.RoundTripper contract: it returns a nil error whenever it got a
// response, whatever its status; it does not follow redirects or retry;
// it does not modify req (it sends a shallow copy when it must replace the
// body or the context); and it closes req.Body, on errors too.
//
// The attempt's slots are held until the response body is read to EOF,
// closed, or fails to read, so the caller must close it, as with any
// RoundTripper. A waiting attempt whose context ends returns an error
// wrapping ctx.Err() and gives back everything it had taken; one that
// Close ends returns an error wrapping ErrClosed. After Close, RoundTrip
// fails with ErrClosed.
//
// RoundTrip owns req.Body once called: when the attempt's context (the
// caller's, or WithTimeout's) ends while the body is still being sent, it
// closes the body so that a Read blocked in it returns, and the attempt
// fails with an error wrapping ErrAttemptTimeout or the context's error.
// The body's Close must therefore be safe to call while a Read is blocked
// (as io.Pipe's, os.File's and net.Conn's are); it is called once. A body
// whose Close does not make a blocked Read return holds RoundTrip until
// that Read returns, because net/http waits for its write of the body.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeRequestBody(req)
		return nil, errors.New("throttle: http: nil Request.URL")
	}
	if t.isClosed() {
		closeRequestBody(req)
		return nil, ErrClosed
	}
	w := t.newWaiter(req.Context())
	w.size, w.req = req.ContentLength, req
	key := hostKey(req.URL)
	h, err := t.acquire(&w, key)
	w.release()
	if err != nil {
		t.rejected(&w, req, key, err)
		closeRequestBody(req)
		return nil, err
	}
	out := t.prepare(req, h, &w)
	h.send()
	h.sending(&w, req, key)
	resp, err := t.base.RoundTrip(out)
	h.roundTripped()
	t.observeBudgets(req, h, resp)
	h.answered(out, resp, err)
	h.endHost(resp, err)
	t.hosts.endRoute(h, resp)
	if err != nil {
		err = h.attemptError(err)
		h.bodyFailed(err)
		h.release()
		return nil, err
	}
	if resp == nil {
		h.release()
		return nil, fmt.Errorf("throttle: base RoundTripper %T returned a nil response and a nil error", t.base)
	}
	t.wrapResponse(resp, h)
	return resp, nil
}

// acquire takes, in the pipeline's order, everything one attempt to host
// needs. It is the admission step: a caller first tries every limit
// without waiting, and takes a queue place (WithQueueLimit) and a context
// bounded by Close only when it must wait. On failure it gives back
// whatever it had taken.
func (t *Transport) acquire(w *waiter, host string) (*hold, error) {
	if err := t.budgets.check(w.send, host); err != nil {
		return nil, err
	}
	t.stats.waiting.Add(1)
	defer t.stats.waiting.Add(-1)
	w.begin()
	if h := t.tryAcquire(w.send, host, w.size, w.req); h != nil {
		return h, nil
	}
	if !t.queue.enter() {
		return nil, fmt.Errorf("throttle: waiting to send to %s: %w", host, ErrQueueFull)
	}
	defer t.queue.leave()
	for {
		h := t.newHold()
		h.rt.req = w.req
		if err := t.acquireRoute(w, host, h); err != nil {
			h.release()
			return nil, t.waitError(w.send, err, "waiting to send to "+host)
		}
		if err := t.acquireHost(w, host, h); err != nil {
			h.release()
			return nil, t.waitError(w.send, err, "waiting to send to "+host)
		}
		w.passed(GateHostRate)
		if err := t.acquireHostBudgets(w, host, h); err != nil {
			h.release()
			return nil, t.waitError(w.send, err, "waiting to send to "+host)
		}
		w.passed(GateBudget)
		if err := t.acquireSession(w, h); err != nil {
			h.release()
			return nil, t.waitError(w.send, err, "waiting to send to "+host)
		}
		if err := t.acquireSessionBudgets(w, h); err != nil {
			h.release()
			return nil, t.waitError(w.send, err, "waiting to send to "+host)
		}
		w.passed(GateBudget)
		if t.isClosed() {
			// Close ran as the last grant came in: nothing goes out after it.
			h.release()
			return nil, closedWhile("waiting to send to " + host)
		}
		if t.spend(h) {
			return h, nil
		}
		// The host was paused while this caller waited for its slots and
		// tokens: give them all back, so that nothing is held during the
		// pause, and queue again.
		h.release()
	}
}

// tryAcquire takes everything one attempt to host needs if it can without
// waiting, and returns nil, having given back what it took, if it cannot.
// ctx only names the caller's consumer and priority, and its costs; size
// is the request body's length (-1: unknown); req names its route.
func (t *Transport) tryAcquire(ctx context.Context, host string, size int64, req *http.Request) *hold {
	h := t.newHold()
	h.rt.req = req
	if t.tryHost(ctx, host, h) && t.tryHostBudgets(ctx, host, size, h) &&
		t.trySession(ctx, h) && t.trySessionBudgets(ctx, h) && !t.isClosed() && t.spend(h) {
		return h
	}
	h.release()
	return nil
}

// spend is the host's last check before the attempt is sent (see
// hostTable.spend), after its route's, if its host keeps route buckets
// (see hostTable.spendRoute).
func (t *Transport) spend(h *hold) bool {
	if h.host != nil {
		if !t.hosts.spendRoute(h) {
			return false
		}
		tk, ok := t.hosts.spend(h.host)
		if !ok {
			t.hosts.unspendRoute(h)
			return false
		}
		h.tk = tk
	}
	h.setAdmitted(h.host != nil && t.hosts.feedback)
	return true
}

// tryHost is acquireHost without waiting: it reports false at the first
// thing the host cannot give at once.
func (t *Transport) tryHost(ctx context.Context, key string, h *hold) (ok bool) {
	if t.shared.perHost() {
		return false // a shared limiter cannot be tried without waiting
	}
	if t.hosts == nil {
		return true
	}
	st, learned, probe, ok := t.hosts.enterTry(key)
	h.enterHost(st)
	h.setProbe(probe)
	if !ok {
		return false
	}
	live := h.host.live
	if slots := live.slots.Load(); slots != nil {
		p, ok := slots.TryAcquire(ctx, 1)
		if h.setHostPermit(p); !ok {
			return false
		}
	}
	ad := h.host.ad
	if ad != nil && !ad.free.Load() {
		p, ok := ad.slots.TryAcquire(ctx, 1)
		if h.setAdaptPermit(p); !ok {
			return false
		}
	}
	if rate := live.rate.Load(); rate != nil && !h.tryReserve(rate.TryReserveInto) {
		return false
	}
	for _, w := range learned {
		if !h.tryReserve(w.TryReserveInto) {
			return false
		}
	}
	if ad != nil {
		if w := ad.window.Load(); w != nil && !h.tryReserve(w.TryReserveInto) {
			return false
		}
		if p := ad.pace.Load(); p != nil && !h.tryReserve(p.TryReserveInto) {
			return false
		}
	}
	return true
}

// trySession is acquireSession without waiting. A limiter given with
// WithLimiter is tried through its TryAcquire method; one without such a
// method counts as one the caller must wait for.
func (t *Transport) trySession(ctx context.Context, h *hold) (ok bool) {
	if t.shared.session() {
		return false // a shared slot cannot be tried without waiting
	}
	if slots := t.slots.Load(); slots != nil {
		p, ok := slots.TryAcquire(ctx, 1)
		if h.setPermit(p); !ok {
			return false
		}
	}
	if rate := t.rate.Load(); rate != nil && !h.tryReserve(rate.TryReserveInto) {
		return false
	}
	if t.pace != nil && !h.tryReserve(t.pace.TryReserveInto) {
		return false
	}
	for i, l := range t.extra {
		if !tryExtra(h, l, i == len(t.extra)-1) {
			return false
		}
	}
	return true
}

// tryExtra tries a limiter given with WithLimiter without waiting. A
// Window or Bucket reserves, and its grant is given back if a later limit
// makes the caller wait. A unit that another limiter grants through its
// TryAcquire cannot be given back, so such a limiter is tried only when it
// is the last one (last); before that, or without TryAcquire, the caller
// counts as one that must wait for it.
func tryExtra(h *hold, l ratelimit.Limiter, last bool) bool {
	switch l := l.(type) {
	case interface {
		TryReserveInto(g *ratelimit.Grant, n int) bool
	}:
		return h.canAddGrant() && h.tryReserve(l.TryReserveInto)
	case interface{ TryAcquire(n int) bool }:
		return last && l.TryAcquire(1)
	}
	return false
}

// admission counts the callers that must wait against WithQueueLimit.
// Callers that pass every limit at once never touch it. A nil admission
// lets everyone wait.
type admission struct {
	limit   int64
	waiting atomic.Int64
}

// enter takes a queue place, reporting false if none is free.
func (a *admission) enter() bool {
	if a == nil {
		return true
	}
	if a.waiting.Add(1) > a.limit {
		a.waiting.Add(-1)
		return false
	}
	return true
}

// leave gives the queue place back.
func (a *admission) leave() {
	if a != nil {
		a.waiting.Add(-1)
	}
}

// acquireHost takes what the host needs, in DESIGN's order: its pause,
// budget and first contact, then its slot, then its tokens (its own, then
// the policies its server stated), so that a host with a tight limit never
// holds anything the other hosts share while it waits.
func (t *Transport) acquireHost(w *waiter, key string, h *hold) (err error) {
	if t.hosts == nil {
		if !t.shared.perHost() {
			return nil
		}
		ctx := w.bounded()
		if err := t.acquireSharedHostSlot(ctx, key, h); err != nil {
			return err
		}
		return t.acquireSharedHostRate(ctx, key, h)
	}
	h.enterHost(t.hosts.enter(key))
	w.waitingAt(h.host)
	learned, probe, err := t.hosts.admit(w.ctx, key, h.host)
	if h.setProbe(probe); err != nil {
		return err
	}
	w.passed(GateHostPause)
	slots, rate, ad := h.host.live.slots.Load(), h.host.live.rate.Load(), h.host.ad
	if slots == nil && rate == nil && len(learned) == 0 && ad == nil && !t.shared.perHost() {
		return nil
	}
	ctx := w.bounded()
	if slots != nil {
		p, err := slots.Acquire(ctx, 1)
		if h.setHostPermit(p); err != nil {
			return fmt.Errorf("throttle: waiting for a concurrency slot of host %s: %w", key, err)
		}
	}
	if ad != nil && !ad.free.Load() {
		p, err := ad.slots.Acquire(ctx, 1)
		if h.setAdaptPermit(p); err != nil {
			return fmt.Errorf("throttle: waiting for the adapted in-flight limit of host %s: %w", key, err)
		}
	}
	if err := t.acquireSharedHostSlot(ctx, key, h); err != nil {
		return err
	}
	w.passed(GateHostConcurrency)
	if rate != nil {
		g, err := rate.Reserve(ctx, 1)
		if err != nil {
			return fmt.Errorf("throttle: waiting for the rate limit of host %s: %w", key, err)
		}
		h.addGrant(g)
	}
	for _, w := range learned {
		g, err := w.Reserve(ctx, 1)
		if err != nil {
			return fmt.Errorf("throttle: waiting for the rate limit host %s stated: %w", key, err)
		}
		h.addGrant(g)
	}
	if err := t.acquireAdaptedRate(ctx, key, h); err != nil {
		return err
	}
	return t.acquireSharedHostRate(ctx, key, h)
}

// acquireSession takes the session-wide slot, then the session-wide
// tokens. The window grant stays pending until the attempt is handed to
// the base RoundTripper (see hold.commit), so whatever waits in between
// cannot make the wire exceed the window.
func (t *Transport) acquireSession(w *waiter, h *hold) (err error) {
	slots, rate := t.slots.Load(), t.rate.Load()
	if slots == nil && rate == nil && t.pace == nil && len(t.extra) == 0 && !t.shared.session() {
		return nil
	}
	ctx := w.bounded()
	if slots != nil {
		p, err := slots.Acquire(ctx, 1)
		if h.setPermit(p); err != nil {
			return fmt.Errorf("throttle: waiting for a session concurrency slot: %w", err)
		}
	}
	if err := t.acquireSharedSlot(ctx, h); err != nil {
		return err
	}
	w.passed(GateSessionConcurrency)
	if rate != nil {
		g, err := rate.Reserve(ctx, 1)
		if err != nil {
			return fmt.Errorf("throttle: waiting for the session rate limit: %w", err)
		}
		h.addGrant(g)
	}
	if t.pace != nil {
		if err = t.pace.Acquire(ctx, 1); err != nil {
			return fmt.Errorf("throttle: waiting for the session pacing: %w", err)
		}
	}
	w.passed(GateSessionRate)
	for _, l := range t.extra {
		if err = h.reserve(ctx, l); err != nil {
			return fmt.Errorf("throttle: waiting for limiter %T: %w", l, err)
		}
	}
	w.passed(GateLimiter)
	return nil
}

// prepare returns the request to send: req itself when nothing needs
// changing, otherwise a shallow copy with the caller's context (not the
// one the waits ran under), the attempt's timeout, a trace that stamps
// the window grants, and a counted, rate-limited body.
func (t *Transport) prepare(req *http.Request, h *hold, w *waiter) *http.Request {
	hasBody := req.Body != nil && req.Body != http.NoBody
	pending := h.ngrants > 0 || h.costs != nil || h.timesConn()
	if t.timeout == 0 && !hasBody && !pending && !w.resend {
		return req
	}
	ctx := w.send
	if w.resend {
		// A Session's attempt: its retry layer reads the response's parse
		// through the request (see attemptOf).
		ctx = h.named(ctx)
	}
	if pending {
		// Stamp when the headers are written, not when the attempt is handed
		// over: dialling a new connection can take longer than the gaps
		// between starts, and a window counted before the dial lets the
		// requests that waited for it arrive at the server bunched up. A
		// request the server may have read late is stamped again when its
		// response arrives (see windowGuard).
		ctx = httptrace.WithClientTrace(ctx, h.clientTrace())
	}
	if t.timeout > 0 {
		ctx = h.withTimeout(ctx)
	}
	out := req.WithContext(ctx)
	if hasBody {
		out.Body = h.wrapRequestBody(ctx, req.Body)
	}
	return out
}

// Stats reports the Transport's counters now.
func (t *Transport) Stats() Stats {
	return Stats{
		Requests:      t.stats.requests.Load(),
		Retries:       t.stats.retries.Load(),
		InFlight:      t.stats.inFlight.Load(),
		Waiting:       t.stats.waiting.Load(),
		BytesSent:     t.stats.bytesSent.Load(),
		BytesReceived: t.stats.bytesReceived.Load(),
		Throttled:     t.stats.throttled.Load(),
		Paused:        t.pausedHosts(),

		RetriesRefused: t.stats.retriesRefused.Load(),
	}
}

func (t *Transport) pausedHosts() int64 { return t.hosts.paused() }

// CloseIdleConnections closes the base RoundTripper's idle connections, if
// it has a CloseIdleConnections method.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// defaultBase is http.DefaultTransport's behaviour, with enough idle
// connections per host for the concurrency the session allows: its
// default of 2 would close and redial all but two of a host's
// connections after every burst.
func defaultBase(c *config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	perHost := c.hostConc
	for _, n := range c.hostConcFor {
		perHost = max(perHost, n)
	}
	if perHost == 0 {
		perHost = c.maxConc
	}
	if perHost == 0 {
		perHost = defaultIdlePerHost
	}
	t.MaxIdleConnsPerHost = perHost
	t.MaxIdleConns = max(t.MaxIdleConns, c.maxConc, perHost)
	return t
}

// defaultIdlePerHost is the idle connections kept per host when no
// concurrency limit says how many will be in use.
const defaultIdlePerHost = 64

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

var _ io.Closer = (*responseBody)(nil)
