package throttle

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle/feedback"
	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/semaphore"
)

// hold is everything one attempt has taken. It is released exactly once:
// when the response body reaches EOF, is closed or fails, or when the
// attempt fails before it got a response. Only the methods in this file
// write its fields: the Transport's steps record what they took through
// them (enterHost, setPermit, addGrant...).
type hold struct {
	t *Transport
	// host is the attempt's host, in use by it until release; nil when
	// nothing is per host. Of the flags below, probe says the attempt is
	// the host's first contact; observed, that its response (or lack of
	// one) was observed.
	host       *host
	hostPermit semaphore.Permit
	// adaptPermit is its slot of the host's adaptive in-flight limit, tk
	// what its admission recorded for the adaptive limits (adaptive.go).
	adaptPermit semaphore.Permit
	tk          ticket
	permit      semaphore.Permit
	// shared is what it holds of the limits given as interfaces (see
	// shared_limits.go, whose steps record it there).
	shared sharedHeld
	// costs is what it holds of the cost budgets (budget.go); nil if none.
	costs *costHold
	// rt is what it holds of its route, when its host keeps route
	// buckets (routes.go).
	rt routeHold
	// grants are the window grants (the host's, the learned policies',
	// the session's), pending until the request is written. The first
	// ones taken without waiting live in held, part of the hold: no
	// allocation each.
	grants [maxGrants]*ratelimit.Grant
	held   [heldGrants]ratelimit.Grant
	// attemptCtx and cancel are the attempt's WithTimeout context, derived
	// from the caller's parentCtx; nil without a timeout.
	parentCtx  context.Context
	attemptCtx context.Context
	cancel     context.CancelFunc
	body       responseBody   // the response body wrapper, when there is one
	actx       attemptContext // the context naming the attempt (see named)
	// until is what a usable Retry-After of the response names, if
	// retryAfter (see answer).
	until time.Time

	// trace stamps the grants (see clientTrace); it is part of the hold,
	// one allocation less per attempt.
	trace httptrace.ClientTrace
	// What gotConn saw, for roundTripped (net/http calls both on the
	// caller's goroutine): whether the attempt opened its connection
	// (newConn), without TLS (plain); and, for the host's count of opened
	// connections, its value then (opened) and whether other attempts'
	// new connections were awaiting their responses (busy); the flags are
	// below.
	opened uint64

	// The flags, together so that they pack. admitted: counted in flight
	// by its host (see hostTable.spend). For answer: parsed, the response
	// was parsed; retryAfter and throttled, what it said. For
	// roundTripped: sawConn, newConn, plain and busy (see gotConn).
	admitted, probe, observed, sent bool
	parsed, retryAfter, throttled   bool
	sawConn, newConn, plain, busy   bool
	ngrants                         uint8 // in grants (at most maxGrants)
	released                        atomic.Bool

	ev *attemptObs // what an observer is told; nil when nobody listens
}

// newHold returns an attempt of t that holds nothing yet.
func (t *Transport) newHold() *hold { return &hold{t: t} }

// enterHost records the attempt's host, in use by it until release.
func (h *hold) enterHost(st *host) { h.host = st }

// setProbe records whether the attempt is its host's first contact.
func (h *hold) setProbe(probe bool) { h.probe = probe }

// setAdmitted records whether the host counts the attempt in flight.
func (h *hold) setAdmitted(admitted bool) { h.admitted = admitted }

// setHostPermit and setPermit record the host's and the session's slot
// (the zero Permit when none was taken: releasing it does nothing).
func (h *hold) setHostPermit(p semaphore.Permit)  { h.hostPermit = p }
func (h *hold) setAdaptPermit(p semaphore.Permit) { h.adaptPermit = p }
func (h *hold) setPermit(p semaphore.Permit)      { h.permit = p }

// withTimeout returns ctx bounded by WithTimeout: the attempt's context,
// ended by release at the latest. The timeout runs on the Transport's
// clock: a clock with an AfterFunc method (clock.Fake has one) ends the
// context through it, with cause context.DeadlineExceeded, so that a test
// expires an attempt by advancing its clock; any other clock, the wall
// clock included, gets a real context.WithTimeout, which costs no timer
// goroutine and sets the context's Deadline.
func (h *hold) withTimeout(ctx context.Context) context.Context {
	h.parentCtx = ctx
	af, ok := h.t.clock.(afterFuncClock)
	if !ok {
		h.attemptCtx, h.cancel = context.WithTimeout(ctx, h.t.timeout)
		return h.attemptCtx
	}
	actx, cancel := context.WithCancelCause(ctx)
	stop := af.AfterFunc(h.t.timeout, func() { cancel(context.DeadlineExceeded) })
	h.attemptCtx = actx
	h.cancel = func() {
		stop()
		cancel(context.Canceled)
	}
	return actx
}

// afterFuncClock is a clock that can call a function once a duration has
// passed on it, as time.AfterFunc does on the wall clock.
type afterFuncClock interface {
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// send counts the attempt as sent and in flight: it is being handed to
// the base RoundTripper.
func (h *hold) send() {
	h.sent = true
	h.t.stats.requests.Add(1)
	h.t.stats.inFlight.Add(1)
}

// commit stamps the window grants now: from then on they count from that
// instant, not as pending. It may run more than once (from the trace and
// after RoundTrip); the grants keep the first stamp.
func (h *hold) commit() {
	for _, g := range h.grants[:h.ngrants] {
		g.Commit()
	}
	h.costs.commit()
}

// clientTrace returns the trace that stamps the grants when the request's
// headers are written and, unless the guard is off, notes the connection
// for roundTripped.
func (h *hold) clientTrace() *httptrace.ClientTrace {
	h.trace.WroteHeaders = h.commit
	if !h.t.guard.off() {
		h.trace.GotConn = h.gotConn
	}
	return &h.trace
}

// gotConn notes whether the attempt opened its connection, and what its
// host's other attempts were opening (see readLate). net/http may call it
// again for a retry on another connection.
func (h *hold) gotConn(info httptrace.GotConnInfo) {
	st := h.host
	if !info.Reused && !h.newConn {
		_, handshaken := info.Conn.(*tls.Conn)
		h.newConn, h.plain = true, !handshaken
		if st != nil {
			st.live.accepting.Add(1)
			st.live.opened.Add(1)
		}
	}
	h.sawConn = true
	h.latencyFromConn()
	if st != nil {
		h.opened = st.live.opened.Load()
		h.busy = h.busy || st.live.accepting.Load() > h.own()
	}
}

// own is how many of its host's accepting attempts are this one.
func (h *hold) own() int32 {
	if h.newConn {
		return 1
	}
	return 0
}

// readLate reports whether the server may have read the request later than
// the guard covers, so that its grants must count from its response (the
// server has read it by then) rather than from its write. That is so if
// the attempt opened a plain-TCP connection, which the server reads only
// once its accept loop gets to it (a TLS connection's handshake shows it
// has); or if other attempts to the host opened connections while this one
// was in flight, since a server busy accepting them reads even its
// established connections late. Called on the caller's goroutine, after
// the base RoundTripper returned.
func (h *hold) readLate() bool {
	if !h.sawConn {
		return false // no trace events: nothing is known
	}
	if h.plain {
		return true
	}
	st := h.host
	return st != nil && (h.busy || st.live.opened.Load() != h.opened || st.live.accepting.Load() > h.own())
}

// roundTripped runs once the base RoundTripper has returned, with the
// response headers or an error. It stamps the grants if the trace did not
// (a base RoundTripper that reports no trace events), and stamps them
// again now if the server may have read the request late (see readLate):
// an attempt's grants count until per plus the guard after its response
// then, or after its write otherwise. A failed attempt is stamped too: its
// request may have reached the server.
func (h *hold) roundTripped() {
	h.commit()
	if h.readLate() {
		for _, g := range h.grants[:h.ngrants] {
			g.Restamp()
		}
		h.costs.restamp()
	}
	if h.newConn && h.host != nil {
		h.host.live.accepting.Add(-1)
	}
}

// maxGrants is the most grants one attempt takes: the host's own window,
// one per learned policy, the host's adaptive pace and window, the
// session's window and its pacing, the host's shared limiter and one
// limiter of WithLimiter (the others, if any, are taken through their
// Acquire: see canAddGrant).
const maxGrants = 7 + feedback.MaxPolicies

func (h *hold) addGrant(g *ratelimit.Grant) { h.grants[h.ngrants] = g; h.ngrants++ }

// canAddGrant reports whether the attempt has room for another grant.
func (h *hold) canAddGrant() bool { return int(h.ngrants) < maxGrants }

// heldGrants is how many grants the hold itself has room for: enough for
// the host's window, the session's window and its pacing. An attempt that
// takes more (its server stated policies) allocates the rest.
const heldGrants = 3

// tryReserve adds the grant try gives, reporting whether it gave one.
func (h *hold) tryReserve(try func(g *ratelimit.Grant, n int) bool) bool {
	var g *ratelimit.Grant
	if h.ngrants < heldGrants {
		g = &h.held[h.ngrants]
	} else {
		g = new(ratelimit.Grant)
	}
	ok := try(g, 1)
	if ok {
		h.addGrant(g)
	}
	return ok
}

// endHost ends the attempt's admission to its host: what resp says is
// applied (resp is nil when the attempt got no response, err then says
// why, if it was sent) and a first contact is ended. Only the first call
// does anything.
func (h *hold) endHost(resp *http.Response, err error) {
	if h.host == nil || h.observed {
		return
	}
	h.observed = true
	hosts := h.t.hosts
	if resp == nil || !hosts.feedback {
		hosts.observe(h.host, nil, time.Time{}, h.probe, h.admitted, outcomeOf(h.tk, 0, err))
		return
	}
	sig, at := h.parse(resp)
	hosts.observe(h.host, &sig, at, h.probe, h.admitted, outcomeOf(h.tk, resp.StatusCode, nil))
	h.noteResponse(&sig)
	if sig.Throttled {
		h.t.stats.throttled.Add(1)
	}
}

// parse parses resp, the attempt's response, on the Transport's clock,
// once: its first reader is the host table (endHost), or the retry layer
// when nothing per host reads responses. The hold keeps only the few words
// the retry layer needs of it (see answer).
func (h *hold) parse(resp *http.Response) (sig feedback.Signal, at time.Time) {
	at = h.t.clock.Now()
	sig, h.retryAfter = feedback.ParseRetry(resp.Header, resp.StatusCode, at)
	h.until, h.throttled, h.parsed = sig.Until, sig.Throttled, true
	return sig, at
}

// answer parses resp, the attempt's response, if nothing did yet. The
// attempt's readers take turns (RoundTrip, then the retry layer on the
// same goroutine), so it needs no lock.
func (h *hold) answer(resp *http.Response) {
	if !h.parsed {
		h.parse(resp)
	}
}

// rateLimited reports whether the attempt's response said its request was
// refused by a rate limit (feedback.Signal.Throttled).
func (h *hold) rateLimited(resp *http.Response) bool {
	h.answer(resp)
	return h.throttled
}

// serverWait is the wait the attempt's response directs with Retry-After,
// from now on the Transport's clock, and whether it directs one.
func (h *hold) serverWait(resp *http.Response) (time.Duration, bool) {
	h.answer(resp)
	if !h.retryAfter {
		return 0, false
	}
	return max(h.until.Sub(h.t.clock.Now()), 0), true
}

// attemptKey finds an attempt's hold in the context of the request it
// sent (see attemptContext).
type attemptKey struct{}

// attemptContext is the context a Session's attempt is sent under: the
// caller's, also naming the attempt, so that the retry layer finds the
// attempt's parse of its response through resp.Request. It is part of the
// hold, so it costs no allocation.
type attemptContext struct {
	context.Context
	h *hold
}

func (c *attemptContext) Value(key any) any {
	if key == (attemptKey{}) {
		return c.h
	}
	return c.Context.Value(key)
}

// named returns ctx naming the attempt h.
func (h *hold) named(ctx context.Context) context.Context {
	h.actx = attemptContext{Context: ctx, h: h}
	return &h.actx
}

// attemptOf is the attempt that got resp, when a Transport sent it for a
// Session; nil otherwise (a response made elsewhere, or sent by a
// Transport used on its own).
func attemptOf(resp *http.Response) *hold {
	if resp == nil || resp.Request == nil {
		return nil
	}
	h, _ := resp.Request.Context().Value(attemptKey{}).(*hold)
	return h
}

// release gives back the slots and any grant not yet committed, and ends
// the attempt's timeout. Only the first call does anything.
func (h *hold) release() {
	if !h.released.CompareAndSwap(false, true) {
		return
	}
	h.endHost(nil, nil)
	h.t.hosts.endRoute(h, nil)
	for _, g := range h.grants[:h.ngrants] {
		g.Cancel()
	}
	h.permit.Release()
	h.adaptPermit.Release()
	h.hostPermit.Release()
	h.shared.release(h.t.shared)
	h.costs.release()
	h.ended()
	if h.host != nil {
		h.t.hosts.leave(h.host)
	}
	if h.cancel != nil {
		h.cancel()
	}
	if h.sent {
		h.t.stats.inFlight.Add(-1)
	}
}

// attemptError marks err as a WithTimeout expiry when the attempt's own
// deadline, not the caller's context, is what ended it.
func (h *hold) attemptError(err error) error {
	if err == nil || h.attemptCtx == nil || h.attemptCtx.Err() == nil {
		return err
	}
	if h.parentCtx.Err() != nil {
		return err // the caller's context ended first: report it as is
	}
	return fmt.Errorf("%w after %v: %w", ErrAttemptTimeout, h.t.timeout, err)
}

// wrapRequestBody counts the bytes the base RoundTripper reads from body
// and holds them to the session's upload limit, waiting under ctx, the
// attempt's context. When ctx ends, body is closed: net/http waits for
// its write of the body before it returns, and closing the body is the
// only way to end a Read that blocks (a stalled pipe, say).
// The wrapper holds its rate-limited reader: one allocation for both. (It
// is not part of the hold, so that requests without a body do not carry
// it.)
func (h *hold) wrapRequestBody(ctx context.Context, body io.ReadCloser) io.ReadCloser {
	t := h.t
	rb := &requestBody{rc: body, r: body, sent: &t.stats.bytesSent, ctx: ctx}
	if t.upload != nil {
		rb.lim = *ratelimit.NewReader(ctx, body, t.upload...)
		rb.r = &rb.lim
	}
	if ctx.Done() != nil {
		rb.stop = context.AfterFunc(ctx, rb.end)
	}
	return rb
}

// requestBody is the attempt's request body. It is closed exactly once,
// by whichever comes first: the base RoundTripper, or the end of the
// attempt's context.
type requestBody struct {
	rc     io.ReadCloser
	r      io.Reader
	lim    ratelimit.Reader // r, with an upload limit
	sent   *atomic.Int64
	ctx    context.Context
	stop   func() bool // stops end; nil when ctx never ends
	closed atomic.Bool
	ended  atomic.Bool // closed because ctx ended
}

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.sent.Add(int64(n))
	if err != nil && b.ended.Load() {
		// The read failed because the body was closed under it: report
		// why, so that the attempt's error says its context ended.
		err = context.Cause(b.ctx)
	}
	return n, err
}

func (b *requestBody) Close() error {
	if b.stop != nil {
		b.stop()
	}
	return b.close()
}

// end closes the body when the attempt's context ends.
func (b *requestBody) end() {
	b.ended.Store(true)
	b.close()
}

func (b *requestBody) close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	return b.rc.Close()
}

// wrapResponse makes resp.Body release the attempt's hold at EOF, on Close
// or on a read error, counting the bytes read and holding them to the
// session's download limit. A response with no body releases at once:
// there is nothing for the caller to read, so nothing to wait for.
func (t *Transport) wrapResponse(resp *http.Response, h *hold) {
	if resp.Body == nil || resp.Body == http.NoBody {
		h.release()
		if resp.Body == nil {
			resp.Body = http.NoBody
		}
		return
	}
	rb := &h.body // part of the hold: one allocation less per attempt
	rb.rc, rb.r, rb.h = resp.Body, resp.Body, h
	if t.download != nil {
		ctx := context.Background()
		if resp.Request != nil {
			ctx = resp.Request.Context() // the attempt's, with its timeout
		}
		rb.lim = *ratelimit.NewReader(ctx, resp.Body, t.download...)
		rb.r = &rb.lim
	}
	resp.Body = rb
}

// responseBody is the attempt's response body. Like net/http's
// cancelTimerBody, it ends the attempt when the body ends: whatever the
// attempt held is released exactly once.
type responseBody struct {
	rc  io.ReadCloser
	r   io.Reader
	h   *hold
	lim ratelimit.Reader // r, with a download limit: part of the hold
}

func (b *responseBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.h.t.stats.bytesReceived.Add(int64(n))
	b.h.received(n)
	if err != nil {
		if err != io.EOF {
			err = b.h.attemptError(err)
			b.h.bodyFailed(err)
		}
		b.h.release()
	}
	return n, err
}

func (b *responseBody) Close() error {
	err := b.rc.Close()
	b.h.release()
	return err
}
