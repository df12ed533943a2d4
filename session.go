package throttle

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
)

// Session is Go's answer to aiohttp's ClientSession: one client that puts
// every request through a request-rate limit, global and per-host
// concurrency limits, byte-rate limits on request and response bodies, and
// retries, as the options set. Every attempt, retry and redirect hop takes
// its slots and tokens when it is sent, not when it is queued.
//
// A Session is safe for concurrent use; make one and share it, since its
// limits hold only among the requests that share it. Close it when done.
// A Session must be made with NewSession: the zero value is not usable.
type Session struct {
	transport *Transport
	retry     *retryLayer // nil without WithRetry
	client    *http.Client
	cfg       *config
	closed    atomic.Bool
}

// Stats is a snapshot of a Session's or a Transport's counters: plain
// data, whose zero value is the snapshot of one that has done nothing.
type Stats struct {
	Requests      int64 // attempts sent (retries and redirect hops included)
	Retries       int64 // retries made
	InFlight      int64 // attempts sent whose response body is not yet done
	Waiting       int64 // callers waiting for a slot or a token now
	BytesSent     int64 // request body bytes sent
	BytesReceived int64 // response body bytes read
	Throttled     int64 // 429, 503 and rate-limit 403 responses seen (see feedback.Signal.Throttled)
	Paused        int64 // hosts paused by their server now

	RetriesRefused int64 // retries the retry budget refused (see RetryBudget)
}

// NewSession returns a Session with the options' limits. Invalid options
// are reported together, each wrapping ErrInvalidOption.
func NewSession(opts ...Option) (*Session, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	t, err := newTransport(c)
	if err != nil {
		return nil, err
	}
	s := &Session{transport: t, cfg: c}
	if c.retry != nil {
		s.retry = newRetryLayer(*c.retry, t, c.maxPause)
	}
	s.client = &http.Client{Transport: sessionRoundTripper{s: s}}
	return s, nil
}

// Do sends req through the session's limits and retry policy, following
// redirects as an http.Client does. A relative URL is resolved against
// WithBaseURL; WithHeader's headers are added where req does not set them,
// to a copy of req, before redirects are followed, so they follow
// net/http's redirect rules as req's own headers do.
//
// Do keeps http.Client.Do's rules about bodies: a nil error means a
// non-nil response whose Body the caller must close (an attempt holds its
// slots until its body is read to EOF or closed), and req.Body is always
// closed, on errors too. Every call gets exactly one outcome, a response
// or an error. After Close, Do fails with an error wrapping ErrClosed.
//
// As with http.Client.Do, an error is a *url.Error, which names the URL
// once. Its URL is redacted: the password is replaced, and so are the
// values of query parameters named as credentials (key, api_key, apikey,
// token, access_token, sig, signature, password, secret, client_secret
// and a few more, in any case), which read "REDACTED".
func (s *Session) Do(req *http.Request) (*http.Response, error) {
	if s.closed.Load() {
		closeRequestBody(req)
		return nil, &url.Error{Op: urlErrorOp(req.Method), URL: redactURL(req.URL), Err: ErrClosed}
	}
	if s.cfg.baseURL != nil && req.URL != nil && !req.URL.IsAbs() {
		r2 := *req
		r2.URL = s.cfg.baseURL.ResolveReference(req.URL)
		r2.Host = ""
		req = &r2
	}
	resp, err := s.client.Do(s.withHeaders(req, redirectDrop{}))
	if ue, ok := err.(*url.Error); ok {
		ue.URL = redactURLString(ue.URL) // http.Client hides only the password
	}
	return resp, err
}

// Get sends a GET request to url, with opts applied to it.
func (s *Session) Get(ctx context.Context, url string, opts ...RequestOption) (*http.Response, error) {
	return s.send(ctx, http.MethodGet, url, "", nil, opts)
}

// Head sends a HEAD request to url, with opts applied to it.
func (s *Session) Head(ctx context.Context, url string, opts ...RequestOption) (*http.Response, error) {
	return s.send(ctx, http.MethodHead, url, "", nil, opts)
}

// Delete sends a DELETE request to url, with opts applied to it.
func (s *Session) Delete(ctx context.Context, url string, opts ...RequestOption) (*http.Response, error) {
	return s.send(ctx, http.MethodDelete, url, "", nil, opts)
}

// Post sends a POST request with body, with opts (such as
// WithRequestHeader) applied to it. Bytes, strings, files, seekable
// readers, a Payload or a Multipart are streamed with their length set and
// replayed on retry; any other reader is streamed once (see
// NotReplayableError). body is closed if it is an io.Closer, on errors
// too.
//
// With WithRetry and the DefaultRetryPolicy, a POST (and a PATCH) is
// retried after a 429 or a rate-limit 403, which say the request was not
// processed, but after a 500, 502, 503 or 504 or a connection error only
// if it carries an Idempotency-Key header: without one, the server may
// have acted on it. Set one with WithRequestHeader("Idempotency-Key", key).
func (s *Session) Post(ctx context.Context, url, contentType string, body io.Reader, opts ...RequestOption) (*http.Response, error) {
	return s.send(ctx, http.MethodPost, url, contentType, body, opts)
}

// Put sends a PUT request with body, as Post does. PUT is idempotent, so
// it is retried as GET is.
func (s *Session) Put(ctx context.Context, url, contentType string, body io.Reader, opts ...RequestOption) (*http.Response, error) {
	return s.send(ctx, http.MethodPut, url, contentType, body, opts)
}

// Patch sends a PATCH request with body, as Post does, and is retried as
// Post is.
func (s *Session) Patch(ctx context.Context, url, contentType string, body io.Reader, opts ...RequestOption) (*http.Response, error) {
	return s.send(ctx, http.MethodPatch, url, contentType, body, opts)
}

func (s *Session) send(ctx context.Context, method, url, contentType string, body io.Reader, opts []RequestOption) (*http.Response, error) {
	req, err := newRequest(ctx, method, url, body)
	if err != nil {
		if c, ok := body.(io.Closer); ok {
			c.Close()
		}
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if err := applyRequestOptions(req, opts); err != nil {
		closeRequestBody(req)
		return nil, err
	}
	return s.Do(req)
}

// newRequest builds a request whose body keeps its replayable form: a
// source becomes Body and GetBody (so a 307/308 redirect resends it), with
// its length when known.
func newRequest(ctx context.Context, method, url string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil || body == nil {
		return req, err
	}
	src := newSource(body)
	rc, err := src.open()
	if err != nil {
		return nil, err
	}
	req.Body = ownedBody{rc, src}
	if src.replayable() {
		req.GetBody = src.open
	}
	if n := src.size(); n >= 0 {
		req.ContentLength = n
		if n == 0 {
			req.Body.Close()
			req.Body = http.NoBody
		}
	}
	return req, nil
}

// ownedBody is a request body opened from a source: closing it also
// releases the source.
type ownedBody struct {
	io.ReadCloser
	src source
}

func (b ownedBody) Close() error {
	err := b.ReadCloser.Close()
	if cerr := b.src.close(); err == nil {
		err = cerr
	}
	return err
}

// HTTPClient returns an *http.Client that sends through the session: its
// limits, retries and default headers. Give it to any SDK that takes an
// *http.Client and that SDK is throttled too. Its CloseIdleConnections
// closes the session's idle connections.
//
// The default headers go on each hop under the rules net/http applies to
// a request's own headers (see WithHeader). The client's errors are built
// by net/http: their URL hides the password but not the query.
func (s *Session) HTTPClient() *http.Client {
	return &http.Client{Transport: sessionRoundTripper{s: s, addHeaders: true}}
}

// Transport returns the session's Transport: its limits without retries.
func (s *Session) Transport() *Transport { return s.transport }

// Stats reports the session's counters now.
func (s *Session) Stats() Stats { return s.transport.Stats() }

// Close closes the session and its Transport (see Transport.Close), and
// closes its idle connections. Calls made afterwards fail with an error
// wrapping ErrClosed, and so does every call still waiting for a slot, a
// token, a host pause or a retry's backoff: it returns at once, and the
// retry it was waiting for is not made. Attempts already sent are not
// cancelled: they and their response bodies finish normally. Close starts
// nothing it waits for; it is safe to call more than once.
func (s *Session) Close() error {
	s.closed.Store(true)
	return s.transport.Close()
}

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
