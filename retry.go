package throttle

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/go-throttle/throttle/feedback"
	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
	retryablehttp "github.com/hashicorp/go-retryablehttp"
)

// RetryPolicy says how a Session retries a failed attempt. Every retry is
// a new attempt that passes through every limit again; the backoff sleep
// between attempts holds no slot and no token.
//
// Two kinds of wait come before a retry, each with one cap. A wait the
// server directs, with Retry-After on a 429, a 503 or a rate-limit 403, is
// honoured up to WithMaxPause (the same cap as the host's pause), read on
// the session's clock, and never past the caller's context deadline: when
// the capped wait would end after the deadline, the Session gives up at
// once with an error wrapping context.DeadlineExceeded instead of sleeping
// into it. Any other wait is the backoff the client chooses itself, which
// Backoff computes and MaxWait bounds.
//
// It is plain data. Its zero value is not a valid policy (WithRetry
// requires MaxRetries > 0), but every other zero field means a default.
type RetryPolicy struct {
	// MaxRetries is how many retries follow the first attempt; it must be
	// positive.
	MaxRetries int
	// MinWait and MaxWait bound the backoff the client chooses itself
	// (zero means 100 ms and 5 s). They do not bound a wait the server
	// directs with Retry-After: WithMaxPause does.
	MinWait, MaxWait time.Duration
	// CheckRetry decides whether to retry; nil means DefaultRetryPolicy.
	// As in go-retryablehttp, the client closes the response body before a
	// retry; a CheckRetry that stops the retries leaves it to the caller.
	// Whatever it decides, a retry whose server-directed wait falls past
	// the context's deadline is not made.
	CheckRetry retryablehttp.CheckRetry
	// Backoff says how long to wait before a retry the server directed no
	// wait for (no usable Retry-After); nil means DefaultBackoff. It is
	// called with MinWait and MaxWait, and what it returns is held to
	// [0, MaxWait].
	Backoff retryablehttp.Backoff
	// Budget bounds the retries to each host (see RetryBudget); nil means
	// the default budget, NoRetryBudget none.
	Budget *RetryBudget
}

func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	switch {
	case p.MaxRetries <= 0:
		return p, invalidOption("WithRetry", fmt.Sprintf("MaxRetries=%d", p.MaxRetries), "MaxRetries must be positive")
	case p.MinWait < 0:
		return p, invalidOption("WithRetry", "MinWait="+p.MinWait.String(), "MinWait must not be negative")
	case p.MaxWait < 0:
		return p, invalidOption("WithRetry", "MaxWait="+p.MaxWait.String(), "MaxWait must not be negative")
	}
	if p.MinWait == 0 {
		p.MinWait = 100 * time.Millisecond
	}
	if p.MaxWait == 0 {
		p.MaxWait = max(5*time.Second, p.MinWait)
	}
	if p.MinWait > p.MaxWait {
		return p, invalidOption("WithRetry", "MinWait="+p.MinWait.String(), "MinWait must not exceed MaxWait="+p.MaxWait.String())
	}
	if p.CheckRetry == nil {
		p.CheckRetry = DefaultRetryPolicy
	}
	if p.Backoff == nil {
		p.Backoff = DefaultBackoff
	}
	b, err := p.Budget.withDefaults()
	if err != nil {
		return p, err
	}
	if p.Budget = b; b == nil {
		p.Budget = &RetryBudget{Ratio: -1} // off
	}
	return p, nil
}

// DefaultRetryPolicy retries idempotent methods (GET, HEAD, OPTIONS, PUT,
// DELETE, TRACE, or any request with an Idempotency-Key header) after a
// connection error or a 429, 500, 502, 503, 504 or 529 (Anthropic's
// overloaded_error). It retries any method,
// POST and PATCH included, after a 429 or a 403 that says it is a rate
// limit (with Retry-After, or a remaining count of 0, as GitHub sends; see
// feedback.Signal.Throttled): such a response says the request was not
// processed. So a POST or PATCH is retried after a 500, 502, 503, 504 or a
// connection error only if it carries an Idempotency-Key header. A plain
// 403 is never retried. A response's x-should-retry header, which OpenAI
// and Anthropic send, overrides all of this: "false" stops the retry,
// "true" allows it whatever the method.
//
// It never retries once the context has ended, after an error from the
// limits themselves (such as ErrExceedsLimit or ErrQueueFull), after
// ErrHostPaused (the host's pause outlasts the caller's deadline), or after a
// local failure of the request body (ErrRequestBody). It decides whether,
// not when: it does not read Retry-After, and used on its own with
// go-retryablehttp it leaves the wait to the Backoff. Used on its own, it
// reads a 403's headers itself; given a response a Session's attempt got,
// it reuses that attempt's parse. A Session adds the
// rule on server-directed waits (see RetryPolicy) to whatever CheckRetry it
// is given.
func DefaultRetryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		if err != nil {
			return false, err
		}
		return false, ctx.Err()
	}
	idempotent := isIdempotent(ctx, resp)
	if err != nil {
		return idempotent && retryableError(err), nil
	}
	if retry, stated := feedback.ShouldRetry(resp.Header); stated {
		return retry, nil // the server knows whether the request was processed
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true, nil
	case http.StatusForbidden:
		return rateLimited(resp), nil
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
		feedback.StatusOverloaded:
		return idempotent, nil
	}
	return false, nil
}

// rateLimited reports whether resp says its request was refused by a rate
// limit, as feedback.Parse decides (which does not depend on the instant):
// from the attempt's own parse when a Session's Transport got resp,
// otherwise from the headers.
func rateLimited(resp *http.Response) bool {
	if h := attemptOf(resp); h != nil {
		return h.rateLimited(resp)
	}
	return feedback.Parse(resp.Header, resp.StatusCode, time.Time{}).Throttled
}

// idempotentKey carries whether a request is idempotent to the retry
// policy, which go-retryablehttp calls without the request when an attempt
// got no response.
type idempotentKey struct{}

// retryContext is req's context, telling the retry policy whether req is
// idempotent.
func retryContext(req *http.Request) context.Context {
	return context.WithValue(req.Context(), idempotentKey{}, idempotentRequest(req))
}

func isIdempotent(ctx context.Context, resp *http.Response) bool {
	if resp != nil && resp.Request != nil {
		return idempotentRequest(resp.Request)
	}
	idem, _ := ctx.Value(idempotentKey{}).(bool)
	return idem
}

func idempotentRequest(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	_, hasKey := req.Header["Idempotency-Key"]
	return hasKey
}

// retryableError reports whether an attempt's error may pass if tried
// again: not the limits' own refusals, not a local failure of the request
// body (the server is not at fault), and not the errors that a retry would
// only repeat (a bad URL scheme, too many redirects, an untrusted
// certificate). A host paused past the caller's deadline is one of those:
// the context has not ended yet, but no backoff that fits before the
// deadline can outlast the pause.
func retryableError(err error) bool {
	var (
		unknownAuth x509.UnknownAuthorityError
		certInvalid x509.CertificateInvalidError
		hostname    x509.HostnameError
	)
	switch {
	case errors.Is(err, ErrExceedsLimit), errors.Is(err, ErrQueueFull), errors.Is(err, ErrClosed), errors.Is(err, ErrHostPaused),
		errors.Is(err, ErrInvalidOption), errors.Is(err, ErrNotReplayable), errors.Is(err, ErrRequestBody),
		errors.As(err, &unknownAuth), errors.As(err, &certInvalid), errors.As(err, &hostname):
		return false
	}
	return true
}

// DefaultBackoff waits what the server's Retry-After says on a 429, a 503
// or a 403 (delta seconds, decimal seconds such as "2.0", or an HTTP date,
// read on the wall clock), capped at max; otherwise min·2^attempt, capped
// at max, with equal jitter (half fixed, half random) so that callers who
// failed together do not retry together.
//
// That is what it does on its own, with go-retryablehttp: it reads the
// headers itself, on the wall clock. A Session honours a Retry-After
// itself, up to WithMaxPause (see RetryPolicy), and asks its Backoff only
// for the waits the client chooses; given a response a Session's attempt
// got, DefaultBackoff reuses that attempt's parse, on the session's clock.
func DefaultBackoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if wait, ok := directedWait(resp, clock.Real{}); ok {
		return clampDuration(wait, 0, max)
	}
	d := max
	if 0 <= attempt && attempt < 63 && min > 0 && min <= max>>attempt { // min<<attempt <= max, without overflow
		d = clampDuration(min<<attempt, min, max)
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

func clampDuration(d, lo, hi time.Duration) time.Duration {
	return min(max(d, lo), hi)
}

// directedWait is the wait resp's Retry-After directs from now on: the
// attempt's own parse, on its Transport's clock, when a Session's
// Transport got resp (see hold.answer); otherwise the header read now on
// c.
func directedWait(resp *http.Response, c ratelimit.Clock) (time.Duration, bool) {
	if h := attemptOf(resp); h != nil {
		return h.serverWait(resp)
	}
	return retryAfter(resp, c.Now())
}

// retryAfter is the wait resp's Retry-After directs, read at now (see
// feedback.RetryAfter for the statuses it is read on).
func retryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	until, ok := feedback.RetryAfter(resp.Header, resp.StatusCode, now)
	return until.Sub(now), ok
}

// retryLayer runs one request (one redirect hop) through go-retryablehttp.
// It wraps the policy's CheckRetry and Backoff with the one rule on waits
// the server directs (see RetryPolicy), since it alone knows the session's
// clock and WithMaxPause.
type retryLayer struct {
	client   *retryablehttp.Client
	stats    *counters
	t        *Transport
	policy   RetryPolicy
	clock    ratelimit.Clock
	maxPause time.Duration
	budget   *retryBudgets // nil: no retry budget
}

func newRetryLayer(p RetryPolicy, t *Transport, maxPause time.Duration) *retryLayer {
	l := &retryLayer{stats: &t.stats, t: t, policy: p, clock: t.clock, maxPause: maxPause}
	if p.Budget != nil && p.Budget.Ratio >= 0 { // set by withDefaults
		l.budget = newRetryBudgets(p.Budget, t.clock)
	}
	l.client = &retryablehttp.Client{
		// Its HTTPClient sends one attempt and follows no redirect: the
		// Session's own http.Client above follows them, hop by hop. The
		// transport hides CloseIdleConnections, which go-retryablehttp calls
		// whenever it gives up (its #85, #237) and which would empty the
		// pool every caller of the session shares.
		HTTPClient: &http.Client{
			Transport:     hideCloseIdle{t},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		RetryWaitMin: p.MinWait,
		RetryWaitMax: p.MaxWait,
		RetryMax:     p.MaxRetries,
		CheckRetry:   l.checkRetry,
		Backoff:      l.backoff,
		ErrorHandler: finalError,
		RequestLogHook: func(_ retryablehttp.Logger, req *http.Request, attempt int) {
			if wc, ok := req.Context().(*waitContext); ok {
				wc.attempt = attempt // for the host's figures and the events
			}
			if c := retryCallOf(req.Context()); c != nil {
				c.attempt = attempt
			}
			if attempt > 0 {
				l.stats.retries.Add(1)
			}
		},
	}
	return l
}

// serverWait is the wait resp's Retry-After directs, read on the session's
// clock and capped by WithMaxPause, as the host's pause is. The attempt
// that got resp parsed it already (see directedWait).
func (l *retryLayer) serverWait(resp *http.Response) (time.Duration, bool) {
	wait, ok := directedWait(resp, l.clock)
	return min(wait, l.maxPause), ok
}

// checkRetry is the policy's CheckRetry, except that a retry whose
// server-directed wait ends past the context's deadline is not made: the
// caller learns at once instead of sleeping into its deadline.
func (l *retryLayer) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	noteCheck(ctx, err)
	callCtx := ctx
	// The policy sees the caller's context, not the one do bounds by
	// Close: an attempt that was on the wire when Close ran keeps its
	// outcome.
	ctx = sendContext(ctx)
	retry, checkErr := l.policy.CheckRetry(ctx, resp, err)
	if !retry {
		return false, checkErr
	}
	if wait, ok := l.serverWait(resp); ok {
		if d, has := ctx.Deadline(); has && l.clock.Now().Add(wait).After(d) {
			l.t.retryRefused(callCtx, respHost(resp), resp, err, ReasonDeadline)
			return false, fmt.Errorf("throttle: the server asked to wait %v before retrying, past the context deadline: %w",
				wait.Round(time.Millisecond), context.DeadlineExceeded)
		}
	}
	if budgetErr := l.spendBudget(ctx, err); budgetErr != nil {
		l.t.retryRefused(callCtx, retryCallOf(ctx).host, resp, err, ReasonRetryBudget)
		return false, budgetErr
	}
	return true, checkErr
}

// backoff is the server-directed wait when there is one, and otherwise the
// policy's Backoff held to [0, MaxWait].
func (l *retryLayer) backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if wait, ok := l.serverWait(resp); ok {
		return wait
	}
	return clampDuration(l.policy.Backoff(lo, hi, attempt, resp), 0, hi)
}

// do sends req, whose body is src (nil for none), with retries. It hands
// go-retryablehttp only a replayable body, through a ReaderFunc that opens
// src afresh for each attempt: never a plain io.Reader, which it would
// read whole into memory (its #145).
//
// go-retryablehttp sleeps between attempts on the request's context, so
// the request carries a waitContext: Close ends the sleep, and the
// Transport sends each attempt under the caller's own context.
func (l *retryLayer) do(req *http.Request, src source) (*http.Response, error) {
	ctx := retryContext(req)
	if l.budget != nil {
		host := hostKey(req.URL)
		l.budget.deposit(host)
		ctx = withRetryCall(ctx, &retryCall{host: host})
	}
	wc := l.t.waitContext(ctx)
	defer wc.release()
	rreq := &retryablehttp.Request{Request: req.WithContext(wc)}
	rreq.Body, rreq.GetBody = nil, nil
	if src != nil {
		if err := rreq.SetBody(retryablehttp.ReaderFunc(func() (io.Reader, error) { return src.open() })); err != nil {
			return nil, err
		}
		rreq.ContentLength = max(src.size(), 0)
	}
	resp, err := l.clientFor(wc, req).Do(rreq)
	if err != nil {
		// go-retryablehttp hands back the previous attempt's response,
		// already drained and closed, when the body cannot be reopened for
		// a retry; a RoundTripper returns one or the other.
		resp = nil
		err = l.t.waitError(ctx, err, "waiting to retry")
	}
	if ue, ok := err.(*url.Error); ok {
		err = ue.Err // the Session's own http.Client adds its own
	}
	if re, ok := err.(*RetryError); ok {
		re.Method, re.URL = req.Method, redactURL(req.URL)
		if ue, ok := re.Err.(*url.Error); ok {
			re.Err = ue.Err
		}
	}
	return resp, err
}

// finalError is the ErrorHandler: it closes the last response and returns
// an error that names the attempts and the last status and wraps the last
// error.
func finalError(resp *http.Response, err error, attempts int) (*http.Response, error) {
	if resp == nil && attempts <= 1 {
		return nil, err
	}
	re := &RetryError{Attempts: attempts, Err: err}
	if resp != nil {
		re.StatusCode = resp.StatusCode
		drainAndClose(resp.Body)
	}
	return nil, re
}

// drainAndClose reads a little of body so its connection can be reused,
// then closes it.
func drainAndClose(body io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(body, 4<<10))
	body.Close()
}

// hideCloseIdle passes RoundTrip through and nothing else.
type hideCloseIdle struct{ rt http.RoundTripper }

func (h hideCloseIdle) RoundTrip(req *http.Request) (*http.Response, error) {
	return h.rt.RoundTrip(req)
}
