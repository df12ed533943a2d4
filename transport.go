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

	"github.com/go-throttle/throttle/internal/admit"
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
// hold only among the requests that share it.
type Transport struct {
	base  http.RoundTripper
	clock ratelimit.Clock

	hosts    *hostTable           // everything per host; nil if nothing is
	slots    *semaphore.Throttler // session-wide concurrency; nil if none
	rate     *ratelimit.Window    // session-wide rate; nil if none
	pace     *ratelimit.Bucket    // pacing on top of rate; nil if none
	extra    []ratelimit.Limiter
	upload   *ratelimit.Bucket // all request bodies; nil if none
	download *ratelimit.Bucket // all response bodies; nil if none
	timeout  time.Duration
	guard    windowGuard // how the windows count an attempt (see hold.clientTrace)

	queue *admit.Queue // WithQueueLimit, shared by every wait; nil if none

	closing closeState // what Close ends

	stats counters
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
	t.closing.done = make(chan struct{})
	if c.hasQueueLimit {
		t.queue = admit.NewQueue(c.queueLimit)
	}
	if t.base == nil {
		t.base = defaultBase(c)
	}
	var err error
	if t.hosts, err = newHostTable(c, t.closing.done); err != nil {
		return nil, err
	}
	if c.maxConc > 0 {
		if t.slots, err = semaphore.NewThrottler(int64(c.maxConc), c.semOpts...); err != nil {
			return nil, fmt.Errorf("%w: WithMaxConcurrency: %w", ErrInvalidOption, err)
		}
	}
	if err = t.newSessionRate(c); err != nil {
		return nil, err
	}
	if t.upload, err = newByteBucket("WithUploadLimit", c.upload, c.clock); err != nil {
		return nil, err
	}
	if t.download, err = newByteBucket("WithDownloadLimit", c.download, c.clock); err != nil {
		return nil, err
	}
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
	h, err := t.acquire(&w, hostKey(req.URL))
	w.release()
	if err != nil {
		closeRequestBody(req)
		return nil, err
	}
	out := t.prepare(req, h, &w)
	h.send()
	resp, err := t.base.RoundTrip(out)
	h.roundTripped()
	h.endHost(resp)
	if err != nil {
		err = h.attemptError(err)
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
// needs. On failure it gives back whatever it had taken.
func (t *Transport) acquire(w *waiter, host string) (*hold, error) {
	h := &hold{t: t}
	t.stats.waiting.Add(1)
	defer t.stats.waiting.Add(-1)
	if t.queue != nil {
		// Every limiter below counts the caller against the queue limit
		// only if it really has to wait.
		w.ctx = admit.WithQueue(w.ctx, t.queue)
	}
	for {
		if err := t.acquireHost(w, host, h); err != nil {
			h.release()
			return nil, t.waitError(w.send, err, "waiting to send to "+host)
		}
		if err := t.acquireSession(w, h); err != nil {
			h.release()
			return nil, t.waitError(w.send, err, "waiting to send to "+host)
		}
		if t.isClosed() {
			// Close ran as the last grant came in: nothing goes out after it.
			h.release()
			return nil, closedWhile("waiting to send to " + host)
		}
		if h.host == nil || t.hosts.spend(h.host) {
			h.admitted = h.host != nil && t.hosts.feedback
			return h, nil
		}
		// The host was paused while this caller waited for its slots and
		// tokens: give them all back, so that nothing is held during the
		// pause, and queue again.
		h.release()
		h = &hold{t: t}
	}
}

// acquireHost takes what the host needs, in DESIGN's order: its pause,
// budget and first contact, then its slot, then its tokens (its own, then
// the policies its server stated), so that a host with a tight limit never
// holds anything the other hosts share while it waits.
func (t *Transport) acquireHost(w *waiter, key string, h *hold) (err error) {
	if t.hosts == nil {
		return nil
	}
	h.host = t.hosts.enter(key)
	var learned []*ratelimit.Window
	if learned, h.probe, err = t.hosts.admit(w.ctx, key, h.host); err != nil {
		return err
	}
	live := h.host.live
	if live.slots == nil && live.rate == nil && len(learned) == 0 {
		return nil
	}
	ctx := w.bounded()
	if live.slots != nil {
		if h.hostPermit, err = live.slots.Acquire(ctx, 1); err != nil {
			return fmt.Errorf("throttle: waiting for a concurrency slot of host %s: %w", key, err)
		}
	}
	if live.rate != nil {
		g, err := live.rate.Reserve(ctx, 1)
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
	return nil
}

// acquireSession takes the session-wide slot, then the session-wide
// tokens. The window grant stays pending until the attempt is handed to
// the base RoundTripper (see hold.commit), so whatever waits in between
// cannot make the wire exceed the window.
func (t *Transport) acquireSession(w *waiter, h *hold) (err error) {
	if t.slots == nil && t.rate == nil && t.pace == nil && len(t.extra) == 0 {
		return nil
	}
	ctx := w.bounded()
	if t.slots != nil {
		if h.permit, err = t.slots.Acquire(ctx, 1); err != nil {
			return fmt.Errorf("throttle: waiting for a session concurrency slot: %w", err)
		}
	}
	if t.rate != nil {
		g, err := t.rate.Reserve(ctx, 1)
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
	for _, l := range t.extra {
		if err = l.Acquire(ctx, 1); err != nil {
			return fmt.Errorf("throttle: waiting for limiter %T: %w", l, err)
		}
	}
	return nil
}

// prepare returns the request to send: req itself when nothing needs
// changing, otherwise a shallow copy with the caller's context (not the
// one the waits ran under), the attempt's timeout, a trace that stamps
// the window grants, and a counted, rate-limited body.
func (t *Transport) prepare(req *http.Request, h *hold, w *waiter) *http.Request {
	hasBody := req.Body != nil && req.Body != http.NoBody
	pending := h.ngrants > 0
	if t.timeout == 0 && !hasBody && !pending && !w.resend {
		return req
	}
	ctx := w.send
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
		h.parentCtx = ctx
		ctx, h.cancel = context.WithTimeout(ctx, t.timeout)
		h.attemptCtx = ctx
	}
	out := req.WithContext(ctx)
	if hasBody {
		out.Body = t.wrapRequestBody(ctx, req.Body)
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
