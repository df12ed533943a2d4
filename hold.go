package throttle

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/go-throttle/throttle/feedback"
	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/semaphore"
)

// hold is everything one attempt has taken. It is released exactly once:
// when the response body reaches EOF, is closed or fails, or when the
// attempt fails before it got a response.
type hold struct {
	t *Transport
	// host is the host's feedback state while the attempt is between
	// admission and its response headers; probe says it is the host's
	// first contact.
	host       *hostState
	admitted   bool // counted in flight by its host (see hosts.spend)
	probe      bool
	hostPermit semaphore.KeyedPermit
	permit     semaphore.Permit
	// grants are the window grants (the host's, the learned policies',
	// the session's), pending until the request is written.
	grants  [maxGrants]*ratelimit.Grant
	ngrants int
	// attemptCtx and cancel are the attempt's WithTimeout context, derived
	// from the caller's parentCtx; nil without a timeout.
	parentCtx  context.Context
	attemptCtx context.Context
	cancel     context.CancelFunc
	sent       bool
	released   atomic.Bool
	body       responseBody // the response body wrapper, when there is one
}

// send counts the attempt as sent and in flight: it is being handed to
// the base RoundTripper.
func (h *hold) send() {
	h.sent = true
	h.t.stats.requests.Add(1)
	h.t.stats.inFlight.Add(1)
}

// commit stamps the window grants with the time the request is written:
// from then on they count from that instant, not as pending. It may run
// more than once (from the trace and after RoundTrip); the grants keep
// the first stamp.
func (h *hold) commit() {
	for _, g := range h.grants[:h.ngrants] {
		g.Commit()
	}
}

// maxGrants is the most window grants one attempt takes: the host's own,
// one per learned policy, and the session's.
const maxGrants = 2 + feedback.MaxPolicies

func (h *hold) addGrant(g *ratelimit.Grant) { h.grants[h.ngrants] = g; h.ngrants++ }

// endHost ends the attempt's part in its host's feedback: what resp says
// is applied (resp is nil when the attempt got no response), a first
// contact is ended, and the host state is let go. Only the first call
// does anything.
func (h *hold) endHost(resp *http.Response) {
	st := h.host
	if st == nil {
		return
	}
	h.host = nil
	if h.t.hosts.finish(st, resp, h.probe, h.admitted) {
		h.t.stats.throttled.Add(1)
	}
}

// release gives back the slots and any grant not yet committed, and ends
// the attempt's timeout. Only the first call does anything.
func (h *hold) release() {
	if !h.released.CompareAndSwap(false, true) {
		return
	}
	h.endHost(nil)
	for _, g := range h.grants[:h.ngrants] {
		g.Cancel()
	}
	h.permit.Release()
	h.hostPermit.Release()
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
