package throttle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
)

// Close ends the Transport's waiting: every caller still waiting for a
// slot, a token or a host pause returns at once with an error wrapping
// ErrClosed, and every RoundTrip made afterwards fails with ErrClosed.
// Attempts already handed to the base RoundTripper are not cancelled:
// they and their response bodies finish normally, and give back what
// they hold when they do. Close also closes the base RoundTripper's idle
// connections.
//
// Close starts nothing it waits for and is safe to call more than once
// and concurrently with RoundTrip. An error from a wait that Close ended
// wraps ErrClosed and not context.Canceled: the caller's context was not
// cancelled.
func (t *Transport) Close() error {
	t.closing.close()
	t.shared.close()
	t.detachObservers()
	t.CloseIdleConnections()
	return nil
}

func (t *Transport) isClosed() bool { return t.closing.closed.Load() }

// closeState is what Close ends: the waits under a waitContext, ended
// through their contexts, and the host waits, which watch done.
type closeState struct {
	closed atomic.Bool
	done   chan struct{} // closed by close
	mu     sync.Mutex
	// waits are the waitContexts in use, linked through prev and next;
	// an intrusive list, so that registering allocates nothing.
	waits *waitContext
}

// close ends every registered wait with cause ErrClosed. Cancelling a
// context only marks it and closes its channel, so close holds the lock
// briefly and starts nothing.
func (c *closeState) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return
	}
	c.closed.Store(true)
	close(c.done)
	for wc := c.waits; wc != nil; wc = wc.next {
		wc.cancel(ErrClosed)
	}
	c.waits = nil
}

// waitContext is a caller's context, also ended with cause ErrClosed when
// its Transport closes. Only waits run under it: the attempt itself is
// sent under send, the caller's own context, so that Close never cuts an
// attempt on the wire. The retry layer passes one down to the Transport on
// its request, so that one context bounds a call's backoff sleeps and its
// attempts' waits.
type waitContext struct {
	context.Context
	send       context.Context // the caller's
	t          *Transport
	cancel     context.CancelCauseFunc
	prev, next *waitContext // in t.closing.waits; guarded by its mu
	// attempt is the retry layer's index of the attempt being made (0 for
	// the first), and call what an observer is told of the call (nil when
	// nobody listens); see observe.go.
	attempt int
	call    *callObs
}

// waitContext returns ctx bounded by t's Close; release lets go of it.
// It costs three allocations and no goroutine.
func (t *Transport) waitContext(ctx context.Context) *waitContext {
	wc := &waitContext{send: ctx, t: t}
	wc.Context, wc.cancel = context.WithCancelCause(ctx)
	c := &t.closing
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		wc.cancel(ErrClosed)
		return wc
	}
	wc.next = c.waits
	if c.waits != nil {
		c.waits.prev = wc
	}
	c.waits = wc
	return wc
}

func (wc *waitContext) release() {
	c := &wc.t.closing
	c.mu.Lock()
	if !c.closed.Load() { // once closed, the list is gone
		if wc.prev != nil {
			wc.prev.next = wc.next
		} else {
			c.waits = wc.next
		}
		if wc.next != nil {
			wc.next.prev = wc.prev
		}
		wc.prev, wc.next = nil, nil
	}
	c.mu.Unlock()
	wc.cancel(context.Canceled)
}

// sendContext is the context an attempt is sent under: the caller's, also
// when ctx is a waitContext.
func sendContext(ctx context.Context) context.Context {
	if wc, ok := ctx.(*waitContext); ok {
		return wc.send
	}
	return ctx
}

// waiter is what one attempt waits under before it is sent. Waits that
// watch only their context (the limiters, the extra limiters, learned
// windows) get a context bounded by Close, made on first use, so that an
// attempt through a Transport with nothing to wait on pays nothing for it;
// host waits watch the closing channel directly (see hosts.wait).
type waiter struct {
	t      *Transport
	send   context.Context // the caller's: the attempt is sent under it
	ctx    context.Context // what the waits see: the caller's, bounded once bound is set
	bound  bool
	resend bool          // the request's context is not send: sending needs a copy
	size   int64         // the request body's length, for budgets (-1: unknown)
	req    *http.Request // the request, whose method and path name its route (routes.go)
	owned  *waitContext  // the bound this waiter made, let go by release
	obs    waitObs       // for the events and the host's Waiting count
}

func (t *Transport) newWaiter(ctx context.Context) waiter {
	if wc, ok := ctx.(*waitContext); ok && wc.t == t {
		return waiter{t: t, send: wc.send, ctx: wc, bound: true, resend: true}
	}
	return waiter{t: t, send: ctx, ctx: ctx}
}

// bounded returns the context to wait under, bounded by Close.
func (w *waiter) bounded() context.Context {
	if !w.bound {
		w.owned = w.t.waitContext(w.ctx)
		w.ctx, w.bound = w.owned, true
	}
	return w.ctx
}

func (w *waiter) release() {
	w.doneWaiting()
	if w.owned != nil {
		w.owned.release()
	}
}

// waitError is the error of a wait that failed with err. When Close ended
// the wait, and not the caller's context, it is an error wrapping
// ErrClosed in place of the context's error, whose text says what was
// waited for. This is the one place that decides it, for every wait that
// watches only its context.
func (t *Transport) waitError(caller context.Context, err error, what string) error {
	if !t.isClosed() || caller.Err() != nil || !errors.Is(err, context.Canceled) {
		return err
	}
	return closedWhile(what)
}

// closedWhile is the error of a caller that Close stopped while it was
// doing what.
func closedWhile(what string) error {
	return fmt.Errorf("throttle: %s: %w", what, ErrClosed)
}
