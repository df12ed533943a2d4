package throttle

import (
	"net/http"
)

// sessionRoundTripper is the Session as an http.RoundTripper: one
// redirect hop, with the session's limits and retries. Both the Session's
// own http.Client and HTTPClient's clients send through it.
type sessionRoundTripper struct {
	s *Session
	// addHeaders is set for HTTPClient's clients: their callers' requests
	// do not carry the session's headers (Session.Do adds them before its
	// client sees the request), so each hop gets them here, under
	// net/http's redirect rules.
	addHeaders bool
}

// RoundTrip sends one hop. A replayable body is reopened for each attempt;
// a one-shot stream is sent once, outside the retry loop, and if the
// policy would have retried it the caller gets a NotReplayableError.
// req.Body is closed in every case. The response's Request is the hop's
// request, as net/http's Transport sets it; redirectHeaders relies on it.
//
// Its errors do not name the URL: http.Client wraps each in a *url.Error
// that does.
func (rt sessionRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	s := rt.s
	if s.closed.Load() {
		closeRequestBody(req)
		return nil, ErrClosed
	}
	if rt.addHeaders {
		req = s.withHeaders(req, redirectHeaders(req))
	}
	resp, err := rt.send(req)
	if resp != nil {
		resp.Request = req
	}
	return resp, err
}

// send runs one hop through the retry layer, if there is one.
func (rt sessionRoundTripper) send(req *http.Request) (*http.Response, error) {
	s := rt.s
	if s.retry == nil {
		return s.transport.RoundTrip(req)
	}
	src := requestSource(req)
	if src != nil && !src.replayable() {
		return s.sendOnce(req)
	}
	resp, err := s.retry.do(req, src)
	if src != nil {
		src.close()
	}
	return resp, err
}

// sendOnce makes the one attempt a one-shot body allows, and reports the
// retry that the policy wanted but the body could not give.
func (s *Session) sendOnce(req *http.Request) (*http.Response, error) {
	resp, err := s.transport.RoundTrip(req)
	ctx := retryContext(req)
	retry, checkErr := s.retry.client.CheckRetry(ctx, resp, err)
	switch {
	case retry:
		nre := &NotReplayableError{Err: err}
		if resp != nil {
			nre.StatusCode = resp.StatusCode
			drainAndClose(resp.Body)
		}
		return nil, nre
	case checkErr != nil && err == nil:
		drainAndClose(resp.Body)
		return nil, checkErr
	}
	return resp, err
}

// CloseIdleConnections closes the session's idle connections.
func (rt sessionRoundTripper) CloseIdleConnections() { rt.s.transport.CloseIdleConnections() }
