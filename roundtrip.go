package throttle

import (
	"fmt"
	"net/http"
)

// sessionRoundTripper is the Session as an http.RoundTripper: one
// redirect hop, with the session's headers, limits and retries. Both the
// Session's own http.Client and HTTPClient's clients send through it.
type sessionRoundTripper struct{ s *Session }

// RoundTrip sends one hop. A replayable body is reopened for each attempt;
// a one-shot stream is sent once, outside the retry loop, and if the
// policy would have retried it the caller gets a NotReplayableError.
// req.Body is closed in every case.
func (rt sessionRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	s := rt.s
	if s.closed.Load() {
		closeRequestBody(req)
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, ErrClosed)
	}
	req = s.withHeaders(req)
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

// withHeaders returns req with the session's default headers added where
// req does not set them: a copy, since a RoundTripper must not modify its
// request.
func (s *Session) withHeaders(req *http.Request) *http.Request {
	defaults := s.cfg.headers
	missing := false
	for k := range defaults {
		if _, ok := req.Header[k]; !ok {
			missing = true
			break
		}
	}
	if !missing {
		return req
	}
	r2 := *req
	r2.Header = req.Header.Clone()
	if r2.Header == nil {
		r2.Header = make(http.Header, len(defaults))
	}
	for k, vs := range defaults {
		if _, ok := r2.Header[k]; !ok {
			r2.Header[k] = vs
		}
	}
	return &r2
}

// CloseIdleConnections closes the session's idle connections.
func (rt sessionRoundTripper) CloseIdleConnections() { rt.s.transport.CloseIdleConnections() }
