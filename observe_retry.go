package throttle

import (
	"context"
	"net/http"
	"net/url"
	"time"

	retryablehttp "github.com/hashicorp/go-retryablehttp"
)

// callObs is what an observed call through the retry layer notes for its
// retry events. It lives on the call's waitContext (see clientFor).
type callObs struct {
	wc     *waitContext
	ctx    context.Context // the caller's
	method string
	url    *url.URL
	key    string
	err    error // the last attempt's error, as the retry policy saw it
}

// attempt is the number of the call's last attempt.
func (c *callObs) attempt() int { return c.wc.attempt + 1 }

// callOf is the observed call a retry policy's ctx belongs to, or nil.
func callOf(ctx context.Context) *callObs {
	if wc, ok := ctx.(*waitContext); ok {
		return wc.call
	}
	return nil
}

// noteCheck records what the retry policy is called with, for the event
// of the retry it may schedule. The *url.Error that go-retryablehttp's
// http.Client adds is dropped: it names the URL, credentials included,
// and the event has the URL already.
func noteCheck(ctx context.Context, err error) {
	if c := callOf(ctx); c != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		c.err = err
	}
}

// clientFor is the go-retryablehttp client for one call under wc. With
// no observer it is the layer's own. With one, it is a copy whose
// Backoff reports each retry it schedules: go-retryablehttp calls Backoff
// only for a retry it will make, with the wait it will sleep, but without
// the request, so the copy's Backoff closes over the call.
func (l *retryLayer) clientFor(wc *waitContext, req *http.Request) *retryablehttp.Client {
	if !l.t.observed() {
		return l.client
	}
	c := &callObs{wc: wc, ctx: wc.send, method: req.Method, url: req.URL, key: hostKey(req.URL)}
	wc.call = c
	rc := copyClient(l.client)
	backoff := l.client.Backoff
	rc.Backoff = func(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
		d := backoff(lo, hi, attempt, resp)
		l.scheduled(c, resp, d)
		return d
	}
	return rc
}

// copyClient copies every exported field of c (its unexported ones are
// sync.Onces that a new Client starts afresh).
func copyClient(c *retryablehttp.Client) *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient:      c.HTTPClient,
		Logger:          c.Logger,
		RetryWaitMin:    c.RetryWaitMin,
		RetryWaitMax:    c.RetryWaitMax,
		RetryMax:        c.RetryMax,
		RequestLogHook:  c.RequestLogHook,
		ResponseLogHook: c.ResponseLogHook,
		CheckRetry:      c.CheckRetry,
		Backoff:         c.Backoff,
		ErrorHandler:    c.ErrorHandler,
		PrepareRetry:    c.PrepareRetry,
	}
}

// scheduled reports the retry the call's last attempt will get after
// wait.
func (l *retryLayer) scheduled(c *callObs, resp *http.Response, wait time.Duration) {
	ev := Event{
		Kind: EventRetryScheduled, Host: c.key,
		Context: c.ctx, Method: c.method, URL: c.url, Attempt: c.attempt(),
		Err: c.err, Backoff: wait, Reason: ReasonError,
	}
	if resp != nil {
		ev.StatusCode, ev.Reason = resp.StatusCode, ReasonStatus
		if _, ok := directedWait(resp, l.clock); ok {
			ev.Reason = ReasonRetryAfter
		}
	}
	l.t.emit(ev)
}
