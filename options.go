package throttle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/semaphore"
)

// An Option configures a Session or a Transport. Options are a closed set,
// made only by the With... functions of this package; each checks its own
// arguments, and NewSession and NewTransport report every bad option at
// once (joined with errors.Join, each wrapping ErrInvalidOption).
//
// An option that is left out means no limit of that kind. The zero value,
// a nil Option, is reported as an error wrapping ErrInvalidOption.
type Option interface {
	apply(*config) error
}

type option func(*config) error

func (o option) apply(c *config) error { return o(c) }

// rateSpec is "at most n per window of length per".
type rateSpec struct {
	n   int
	per time.Duration
}

// config is what the options describe; defaults live in newConfig.
type config struct {
	rate        rateSpec // session-wide; zero n means none
	burst       int      // pacing on top of the session rate; 0 means none
	hostRate    rateSpec // every host's own default
	hostRates   map[string]rateSpec
	maxConc     int // all hosts together; 0 means none
	hostConc    int // each host; 0 means none
	hostConcFor map[string]int
	upload      int64 // bytes per second over all request bodies
	download    int64 // bytes per second over all response bodies
	timeout     time.Duration
	guard       windowGuard // of every window; the zero value is the default
	limiters    []ratelimit.Limiter
	clock       ratelimit.Clock
	budgets     []budgetSpec // WithBudget, WithBudgetFor (budget_options.go)
	obs         obsConfig    // WithObserver, WithLogger, otelthrottle

	// Limits given as interfaces, often shared with other processes.
	sharedConc      ConcurrencyLimiter
	hostLimiter     func(host string) ratelimit.Limiter
	hostConcLimiter func(host string) ConcurrencyLimiter

	// Server feedback, admission and quotas.
	noFeedback    bool
	noAdaptive    bool
	adaptLatency  float64 // AdaptLatency's tolerance; 0: latency is no signal
	maxPause      time.Duration
	queueLimit    int
	hasQueueLimit bool
	semOpts       []semaphore.Option // quotas, for every concurrency limit

	// Session-only settings.
	base    http.RoundTripper
	retry   *RetryPolicy
	baseURL *url.URL
	headers http.Header
	// sessionOnly names the session-only options that were given, so that
	// NewTransport can reject them instead of ignoring them silently.
	sessionOnly []string
}

func newConfig(opts []Option) (*config, error) {
	c := &config{clock: clock.Real{}, maxPause: defaultMaxPause}
	var errs []error
	for _, o := range opts {
		if o == nil {
			errs = append(errs, invalidOption("Option", "nil", "option must not be nil"))
			continue
		}
		if err := o.apply(c); err != nil {
			errs = append(errs, err)
		}
	}
	if c.burst > 0 && c.rate.n == 0 {
		errs = append(errs, invalidOption("WithBurst", c.burst, "needs WithRateLimit, whose rate it paces"))
	}
	return c, errors.Join(errs...)
}

func positiveRate(name string, n int, per time.Duration) (rateSpec, error) {
	if n <= 0 {
		return rateSpec{}, invalidOption(name, "n="+itoa(int64(n)), "n must be positive")
	}
	if per <= 0 {
		return rateSpec{}, invalidOption(name, "per="+per.String(), "per must be positive")
	}
	return rateSpec{n, per}, nil
}

// WithRateLimit lets at most n attempts start in any window of length per,
// over the whole session. It is strict at the wire: an attempt counts from
// when its token is granted until its headers are written, and then for per
// plus a small guard, so that the limit holds where the server counts too
// (see WithWindowGuard, also for when an attempt counts from its response
// instead). Any positive per is honoured, up to the largest time.Duration.
// Without it, the session has no rate limit.
func WithRateLimit(n int, per time.Duration) Option {
	return option(func(c *config) (err error) {
		c.rate, err = positiveRate("WithRateLimit", n, per)
		return err
	})
}

// WithWindowGuard sets how much later than its write a server may read a
// request and still count it in the window the client counted it in. Every
// window (WithRateLimit, WithHostRateLimit, WithRateLimitFor and the
// policies a server states) counts each attempt for per plus d, so that
// "at most n in any window of per" holds where the server counts too; it
// costs d/per of the throughput. The default is 1% of per, at most 10 ms.
// What d must cover is how much the server's reading of requests on
// established connections varies: network jitter, and the server's own
// queue when a burst of requests arrives at once. Raise it for a server
// further away or one that works through a burst slowly.
//
// On a new plain-TCP connection the server reads a request only once it has
// accepted the connection, and while it accepts a burst of new connections
// it reads even established ones late, tens of milliseconds after the
// write. So an attempt that opened a plain connection, or was in flight
// while others to its host opened connections, counts from when its
// response headers arrive (if its window has not ended by then), plus per
// plus d. A TLS handshake shows the server has accepted the connection.
//
// d = 0 turns the guard off: every attempt counts for exactly per from the
// write of its headers, on every connection, so the limit holds where the
// client writes and a server that reads requests late may count more. A
// negative d is an error; a d so large that per+d passes the largest
// time.Duration makes the windows that long.
func WithWindowGuard(d time.Duration) Option {
	return option(func(c *config) error {
		if d < 0 {
			return invalidOption("WithWindowGuard", d, "guard must not be negative")
		}
		c.guard = windowGuard{d: d, set: true}
		return nil
	})
}

// WithBurst paces the session rate on top of WithRateLimit(n, per): at most
// b attempts may start back to back, and after that they are spaced per/n
// apart (b = 1 spaces every start evenly). It needs WithRateLimit.
func WithBurst(b int) Option {
	return option(func(c *config) error {
		if b <= 0 {
			return invalidOption("WithBurst", b, "burst must be positive")
		}
		c.burst = b
		return nil
	})
}

// WithHostRateLimit gives every host its own limit of at most n attempt
// starts in any window of length per. WithRateLimitFor overrides it for one
// host. Without it, hosts have no rate limit of their own.
func WithHostRateLimit(n int, per time.Duration) Option {
	return option(func(c *config) (err error) {
		c.hostRate, err = positiveRate("WithHostRateLimit", n, per)
		return err
	})
}

// WithRateLimitFor gives one host its own limit, overriding
// WithHostRateLimit for it.
//
// host is a host name or IP address, without scheme or path, with a port
// when it is not 80 or 443 ("api.example.com", "localhost:8080",
// "[::1]:8443"; a bare IPv6 address such as "::1" has no port). It is
// normalised exactly as each request's host is, so that it names the
// requests it is meant for: the name lower-cased, an internationalised
// name in its ASCII form as net/http dials it ("bücher.example" is
// "xn--bcher-kva.example"), an IPv6 address in canonical form.
//
// Ports 80 and 443 are a host's standard web ports and count as one host,
// whatever the scheme: "api.example.com", "api.example.com:443" and
// "api.example.com:80" are the same host, and its limit holds for
// https://api.example.com, http://api.example.com and
// http://api.example.com:443 together. Any other port names a host of its
// own: "localhost:8080" is not "localhost:9090", nor "localhost". A host
// that could never match a request (empty, with spaces, a scheme, a path
// or a bad port) is an error wrapping ErrInvalidOption.
func WithRateLimitFor(host string, n int, per time.Duration) Option {
	return option(func(c *config) error {
		key, err := hostOption("WithRateLimitFor", host)
		if err != nil {
			return err
		}
		spec, err := positiveRate("WithRateLimitFor", n, per)
		if err != nil {
			return err
		}
		if c.hostRates == nil {
			c.hostRates = make(map[string]rateSpec)
		}
		c.hostRates[key] = spec
		return nil
	})
}

// WithMaxConcurrency lets at most n attempts, to all hosts together, be in
// flight at once. An attempt holds its slot until its response body is read
// to EOF, closed, or fails. Without it, there is no session-wide limit.
func WithMaxConcurrency(n int) Option {
	return option(func(c *config) error {
		if n <= 0 {
			return invalidOption("WithMaxConcurrency", n, "n must be positive")
		}
		c.maxConc = n
		return nil
	})
}

// WithHostConcurrency lets at most n attempts to each host be in flight at
// once, as aiohttp's limit_per_host does. WithHostConcurrencyFor overrides
// it for one host. Without it, hosts have no concurrency limit of their own.
func WithHostConcurrency(n int) Option {
	return option(func(c *config) error {
		if n <= 0 {
			return invalidOption("WithHostConcurrency", n, "n must be positive")
		}
		c.hostConc = n
		return nil
	})
}

// WithHostConcurrencyFor lets at most n attempts to one host be in flight
// at once, overriding WithHostConcurrency for it. The host is matched as in
// WithRateLimitFor.
func WithHostConcurrencyFor(host string, n int) Option {
	return option(func(c *config) error {
		key, err := hostOption("WithHostConcurrencyFor", host)
		if err != nil {
			return err
		}
		if n <= 0 {
			return invalidOption("WithHostConcurrencyFor", n, "n must be positive")
		}
		if c.hostConcFor == nil {
			c.hostConcFor = make(map[string]int)
		}
		c.hostConcFor[key] = n
		return nil
	})
}

// WithUploadLimit caps all request bodies together at bytesPerSecond,
// charged as the base RoundTripper reads them. It holds together with each
// Payload's own rate. Without it, uploads are not limited session-wide.
//
// The burst a byte limit allows: in any window of 1 s, the first one
// included, at most bytesPerSecond plus one chunk pass, a chunk being
// 100 ms of transfer, at most 64 KiB and at least 4 KiB (or the rate, if
// less). Above 6.25 MiB/s
// the limit keeps 10 ms of transfer in hand, so that a reader whose timer
// fires late does not lose throughput, and its long-run rate is lower by
// what it keeps beyond a chunk (at most 1%) so that the 1 s promise holds.
// WithDownloadLimit and NewPayload allow the same burst.
func WithUploadLimit(bytesPerSecond int64) Option {
	return option(func(c *config) error {
		if bytesPerSecond <= 0 {
			return invalidOption("WithUploadLimit", bytesPerSecond, "bytes per second must be positive")
		}
		c.upload = bytesPerSecond
		return nil
	})
}

// WithDownloadLimit caps all response bodies together at bytesPerSecond,
// charged as the caller reads them, with the burst described at
// WithUploadLimit. Without it, downloads are not limited.
func WithDownloadLimit(bytesPerSecond int64) Option {
	return option(func(c *config) error {
		if bytesPerSecond <= 0 {
			return invalidOption("WithDownloadLimit", bytesPerSecond, "bytes per second must be positive")
		}
		c.download = bytesPerSecond
		return nil
	})
}

// WithTimeout bounds each attempt from the moment it is sent to the end of
// its response body. Time spent waiting for slots and tokens does not
// count; the caller's context bounds everything. Without it, attempts have
// no timeout of their own.
//
// The timeout runs on the session's clock (WithClock): on the wall clock
// it is a context deadline; a clock with an
// AfterFunc(d time.Duration, f func()) (stop func() bool) method, such as
// a test's fake clock, ends the attempt through it (the attempt's context
// then has no Deadline, and its cause is context.DeadlineExceeded).
//
// An attempt that times out while its request body is still being sent
// has its body closed, so that a Read blocked in it returns and the call
// ends with an error wrapping ErrAttemptTimeout; the same holds when the
// caller's context ends (the error then wraps the context's). A body whose
// Close does not make a blocked Read return keeps the call waiting until
// that Read returns, since net/http waits for it (see Transport.RoundTrip).
func WithTimeout(d time.Duration) Option {
	return option(func(c *config) error {
		if d <= 0 {
			return invalidOption("WithTimeout", d, "timeout must be positive")
		}
		c.timeout = d
		return nil
	})
}

// WithLimiter adds a limiter that every attempt also waits on, for one
// unit, after the session's own limits: a custom or distributed limiter.
// l must not be nil, nor hold a nil pointer, map or func.
//
// Like every limit, it counts against WithQueueLimit only for callers that
// must wait. A caller tries it first without waiting: a ratelimit.Window
// or Bucket reserves a unit that is given back if a later limit makes the
// caller wait; any other limiter is tried through its TryAcquire(n int)
// bool method, if it has one, but only when it is the last limiter given
// (a unit granted through TryAcquire cannot be given back). A limiter
// that cannot be tried cannot say whether it would wait, so every caller
// counts as waiting for it and takes a queue place before calling its
// Acquire.
//
// A limiter with a Reserve(ctx, n) (*ratelimit.Grant, error) method (a
// ratelimit.Window or Bucket, a redislimit.Window) holds the unit pending
// until the attempt's headers are written, as the session's own window
// does, and gets it back if the attempt is never sent (its caller gave
// up, its host was paused while it waited). A unit another limiter has
// granted is not given back: the Limiter interface has no way to.
func WithLimiter(l ratelimit.Limiter) Option {
	return option(func(c *config) error {
		if err := nilArg("WithLimiter", "", l); err != nil {
			return err
		}
		c.limiters = append(c.limiters, l)
		return nil
	})
}

// WithSharedConcurrency adds a session-wide concurrency limit kept outside
// the session, such as a redislimit.Semaphore that many processes share:
// at most its capacity of attempts are in flight across all of them. It
// takes the session slot's place in the pipeline, right after
// WithMaxConcurrency's slot and before the session's tokens, and is held,
// as that slot is, until the response body is read to EOF, closed, or
// fails. An attempt that gives up its turn gives the slot back. Every
// caller waits for it through its Acquire (it cannot be tried without
// waiting), so every caller counts against WithQueueLimit. l must not be
// nil.
func WithSharedConcurrency(l ConcurrencyLimiter) Option {
	return option(func(c *config) error {
		if err := nilArg("WithSharedConcurrency", "", l); err != nil {
			return err
		}
		c.sharedConc = l
		return nil
	})
}

// WithHostLimiter gives each host a rate limiter that f makes, on the
// host's first attempt: a limit shared across processes per host (a
// redislimit.Window keyed by the host, say). host is the host key the
// per-host options use (see WithRateLimitFor); f returns nil for a host
// that has no such limit. Every attempt to the host takes one unit of it,
// after the host's own tokens and before anything session-wide; a limiter
// with a Reserve method holds it pending until the headers are written
// (see WithLimiter). f is called under a lock, once per host while the
// host's limiter is kept, and must not block nor call into the session.
//
// A host's limiter is dropped once no attempt uses it and it reports
// IdleAt(now) true (redislimit's do when they hold nothing in this
// process; their state lives on Redis), and closed if it has a Close
// method, as is every limiter f made when the Transport closes. A limiter
// without IdleAt is kept for the session's life. f must not be nil.
func WithHostLimiter(f func(host string) ratelimit.Limiter) Option {
	return option(func(c *config) error {
		if err := nilArg("WithHostLimiter", "", f); err != nil {
			return err
		}
		c.hostLimiter = f
		return nil
	})
}

// WithHostConcurrencyLimiter gives each host a concurrency limiter that f
// makes, on the host's first attempt: a per-host limit shared across
// processes (a redislimit.Semaphore keyed by the host, say). Its slot is
// taken after the host's own slot and before the host's tokens, and held
// until the response body is done. f returns nil for a host with no such
// limit; what WithHostLimiter says of f and of dropping and closing the
// limiters holds here too. f must not be nil.
func WithHostConcurrencyLimiter(f func(host string) ConcurrencyLimiter) Option {
	return option(func(c *config) error {
		if err := nilArg("WithHostConcurrencyLimiter", "", f); err != nil {
			return err
		}
		c.hostConcLimiter = f
		return nil
	})
}

// WithClock sets the clock the limiters read and wait on. Tests use it
// with a fake clock; the default is the wall clock. clk must not be nil,
// nor hold a nil pointer, map or func.
func WithClock(clk ratelimit.Clock) Option {
	return option(func(c *config) error {
		if err := nilArg("WithClock", "", clk); err != nil {
			return err
		}
		c.clock = clk
		return nil
	})
}

// WithTransport sets the RoundTripper that sends each attempt once it has
// passed every limit. The default behaves as http.DefaultTransport. It is a
// Session option; NewTransport takes its base as an argument instead. rt
// must not be nil, nor hold a nil pointer, map or func.
func WithTransport(rt http.RoundTripper) Option {
	return sessionOption("WithTransport", func(c *config) error {
		if err := nilArg("WithTransport", "", rt); err != nil {
			return err
		}
		c.base = rt
		return nil
	})
}

// WithRetry retries failed attempts under the policy. Without it, a
// Session makes one attempt per request (and per redirect hop).
func WithRetry(p RetryPolicy) Option {
	return sessionOption("WithRetry", func(c *config) error {
		p, err := p.withDefaults()
		if err != nil {
			return err
		}
		c.retry = &p
		return nil
	})
}

// WithBaseURL resolves the relative URLs given to the Session's verbs and
// to Do against base, as aiohttp's base_url does: with base
// "https://api.example.com/v1", "items" becomes ".../v1/items" and "/items"
// becomes "https://api.example.com/items".
func WithBaseURL(base string) Option {
	return sessionOption("WithBaseURL", func(c *config) error {
		u, err := url.Parse(base)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return invalidOption("WithBaseURL", quote(base), "must be an absolute URL with scheme and host")
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		c.baseURL = u
		return nil
	})
}

// WithHeader adds a header sent with every request that does not set that
// header itself. Redirects treat it as one the caller set on the request:
// as net/http's Client does, a credential (Authorization, Cookie, Cookie2,
// Proxy-Authorization, WWW-Authenticate, Proxy-Authenticate) follows a
// redirect only to the first request's host and its subdomains, whatever
// the port, and the Content-* headers are dropped once a 301, 302 or 303
// drops the body. This holds for Session.Do and its verbs and for the
// clients of HTTPClient alike.
//
// A key that is not a valid header name, or a value with a control
// character (CR, LF, NUL; a tab is allowed), is an error wrapping
// ErrInvalidOption; the error names the key but never shows the value.
func WithHeader(key, value string) Option {
	return sessionOption("WithHeader", func(c *config) error {
		if problem := headerNameProblem(key); problem != "" {
			return invalidOption("WithHeader", quote(key), problem)
		}
		if problem := headerValueProblem(value); problem != "" {
			return invalidOption("WithHeader", quote(key)+", ...", problem)
		}
		if c.headers == nil {
			c.headers = make(http.Header)
		}
		c.headers.Add(key, value)
		return nil
	})
}

func sessionOption(name string, apply func(*config) error) Option {
	return option(func(c *config) error {
		c.sessionOnly = append(c.sessionOnly, name)
		return apply(c)
	})
}

// nilArg refuses v, the argument called arg (empty for an option's only
// argument) of option, if it is nil or an interface holding a nil
// pointer, map, func or channel: its methods would dereference nil at the
// first request or at Close, far from the mistake. The error names the
// dynamic type, as in "WithLimiter((*ratelimit.Window)(nil))". Reflection
// runs at construction only.
func nilArg(option, arg string, v any) error {
	if !isNil(v) {
		return nil
	}
	value := "nil"
	if v != nil {
		value = fmt.Sprintf("(%T)(nil)", v)
	}
	if arg != "" {
		value = arg + "=" + value
	}
	return invalidOption(option, value, "must not be nil")
}

// isNil reports whether v is nil or holds a nil pointer, map, func or
// channel. A nil slice is not reported: ranging over it is safe.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}

// defaultMaxPause caps every pause a server can impose on a host.
const defaultMaxPause = 10 * time.Minute

// WithServerFeedback turns listening to the server on or off; it is on by
// default. While on, what a response says about its host applies to every
// caller of that host:
//
//   - Retry-After on a 429, a 503 or a 403 (delta seconds, decimal seconds
//     such as "2.0", or an HTTP date) pauses the host until then, and takes
//     precedence over every other field: a reset stated beside it is
//     ignored, as the IETF draft says, so the host resumes when
//     Retry-After says;
//   - a stated remaining count (IETF RateLimit r=;t=, RateLimit-Remaining,
//     X-RateLimit-Remaining with its reset) is a budget: no more attempts
//     than that start before the reset, counting those in flight that the
//     server had not counted yet, and at 0 the host waits for the reset;
//     once it has passed, the new window is taken to hold what the last
//     one did until a response says what it holds;
//   - a leaky bucket's fill and size (Shopify's
//     X-Shopify-Shop-Api-Call-Limit: 32/40) is kept from overflowing:
//     attempts go as the bucket has room, less those in flight, and then
//     at the rate it leaks, which the client measures from the fills;
//     the Retry-After of a 429 beside it delays that request's retry
//     only, not the host, since the fill says when there is room;
//   - a count that names its route bucket (Discord's X-RateLimit-Bucket)
//     is that bucket's budget, not the host's: each route (a method and a
//     path) learns its bucket from its responses, and waits for that
//     bucket's budget and pause only; a route's first request goes alone
//     until its bucket is known; a refusal of the global limit
//     (X-RateLimit-Global) pauses the host;
//   - RateLimit-Policy quotas (q per w seconds) become strict windows on
//     the host, on top of any limit of yours, so a server can only tighten
//     your limits, never loosen them;
//   - first contact: until a host has answered once, its first request goes
//     alone and the others wait for its response headers, for at most 2 s
//     (a first request to a slow endpoint must not hold the host back).
//
// A 403 with a usable Retry-After or a remaining count of 0 (GitHub's
// secondary and primary rate limits) is throttling, like a 429: it pauses
// the host, counts in Stats.Throttled, and is retried as a 429 is (see
// DefaultRetryPolicy). A 403 with neither is a plain refusal.
//
// Malformed fields are ignored, and every pause is capped by WithMaxPause.
// With or without feedback, a retry the server delays with Retry-After
// waits at most WithMaxPause too (see RetryPolicy).
func WithServerFeedback(on bool) Option {
	return option(func(c *config) error {
		c.noFeedback = !on
		return nil
	})
}

// WithAdaptive turns the adaptive limits on or off; they are on by
// default whenever server feedback is (WithServerFeedback). While on,
// every host's answers set its limits, for hosts that state none and on
// top of those that do:
//
//   - slow start: after a host's first contact, its attempts go 10 at a
//     time, and the number in flight grows by one per accepted attempt
//     (doubling per round trip, as TCP's window does), so that the callers
//     waiting for a new host are not all released at once;
//   - a rejection (a 429, 503 or 529, or a refused or reset connection
//     while others are in flight) halves the host's in-flight limit from
//     what was in flight, and paces its attempts evenly: at half the pace
//     kept, or 90% of a window the client kept to (so that a server that
//     counts differently gets a learned margin), or half the rate the
//     rejected burst went at; a rejection under a pace the host accepted
//     several times cuts it by a tenth only. The attempts of one burst cut
//     once. A bare rejection (no Retry-After) of an unpaced burst pauses
//     the host for 50 ms to 2 s with jitter, longer for each such cut in a
//     row, so that the retries of its callers do not come back together;
//     while nothing is accepted, the pace stops halving at 10 attempts a
//     second for 20 cuts, so that a host that reopens is found quickly;
//   - a host that accepted a burst of attempts and then rejected until
//     some time had passed gets a window of that many per that time, as a
//     fixed-window server's stated policy would have given;
//   - a host that rejects only above some number in flight (a 503 with
//     Retry-After while others are in flight, or a bare 429 above what it
//     accepted: nginx's limit_conn) gets a ceiling just under what was in
//     flight, tried one higher every 2 s to 30 s; such a 503's Retry-After
//     holds that attempt's retry only, not the whole host;
//   - while callers wait, the pace grows every 100 ms: back 30% of the way
//     to 90% of the rate a rejection came at, then by 5%; a pace cut from a
//     burst's rate, which measures nothing, grows by half.
//
// The limits never rise above any limit of yours or of the server's,
// which still hold, and never fall below one attempt in flight. A host's
// adapted limits are forgotten 10 minutes after its last rejection;
// HostStats reports them with SourceAdapted, and the observer gets
// EventLimitAdapted.
//
// opts tune the adaptive limits; AdaptLatency makes a host's latency a
// signal too. Each WithAdaptive sets them all: a later one without opts
// turns them off. While the adaptive limits are off they do nothing,
// but bad ones are still reported.
func WithAdaptive(on bool, opts ...AdaptiveOption) Option {
	return option(func(c *config) error {
		c.noAdaptive = !on
		c.adaptLatency = 0
		var errs []error
		for _, o := range opts {
			if o == nil {
				errs = append(errs, invalidOption("WithAdaptive", "nil", "AdaptiveOption must not be nil"))
				continue
			}
			if err := o.applyAdaptive(c); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
}

// WithMaxPause caps every wait a server can direct (default 10 minutes),
// so that a hostile or broken server cannot stall the client: the pause of
// a host (Retry-After, a spent budget's reset), the window of a learned
// policy, and the wait before a retry that the server delays with
// Retry-After, which RetryPolicy.MaxWait does not bound (MaxWait bounds
// only the backoff the client chooses itself). A server-directed wait
// never runs past the caller's context deadline either: a caller whose
// deadline falls before the capped wait ends fails at once, with an error
// wrapping context.DeadlineExceeded.
func WithMaxPause(d time.Duration) Option {
	return option(func(c *config) error {
		if d <= 0 {
			return invalidOption("WithMaxPause", d, "pause cap must be positive")
		}
		c.maxPause = d
		return nil
	})
}

// WithQueueLimit lets at most n callers wait at once, for a slot, a token
// or a host's pause; one more fails at once with an error wrapping
// ErrQueueFull. Callers that do not have to wait are not counted. Without
// it, the queue is unbounded. n = 0 means nobody may wait.
func WithQueueLimit(n int) Option {
	return option(func(c *config) error {
		if n < 0 {
			return invalidOption("WithQueueLimit", n, "n must not be negative")
		}
		c.queueLimit = n
		c.hasQueueLimit = true
		return nil
	})
}

// WithConsumerShare lets no consumer (named by WithConsumer on the
// request's context) hold more than fraction f of any concurrency limit's
// slots, as aio-throttle's MaxFractionCapacityQuota does. 0 < f <= 1.
// Callers with no consumer name are not bound by it.
func WithConsumerShare(f float64) Option {
	return option(func(c *config) error {
		if !(f > 0 && f <= 1) {
			return invalidOption("WithConsumerShare", f, "f must be in (0, 1]")
		}
		c.semOpts = append(c.semOpts, semaphore.WithConsumerShare(f))
		return nil
	})
}

// WithPriorityShare lets callers of priority p and lower together hold at
// most fraction f of any concurrency limit's slots, so that a reserve
// stays free for higher priorities. 0 < f <= 1.
func WithPriorityShare(p Priority, f float64) Option {
	return option(func(c *config) error {
		if !(f > 0 && f <= 1) {
			return invalidOption("WithPriorityShare", f, "f must be in (0, 1]")
		}
		c.semOpts = append(c.semOpts, semaphore.WithPriorityShare(p, f))
		return nil
	})
}

// Priority orders waiting callers: higher priorities go first, FIFO
// within a priority. The zero value is PriorityNormal.
type Priority = semaphore.Priority

// The priorities, from the semaphore package.
const (
	PriorityHigh   = semaphore.PriorityHigh
	PriorityNormal = semaphore.PriorityNormal
	PriorityLow    = semaphore.PriorityLow
)

// WithPriority returns a context whose requests wait at priority p for
// slots and tokens: interactive calls marked PriorityHigh overtake a bulk
// job at PriorityLow sharing the same session.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return semaphore.WithPriority(ctx, p)
}

// WithConsumer returns a context whose requests count against consumer
// name's share (see WithConsumerShare).
func WithConsumer(ctx context.Context, name string) context.Context {
	return semaphore.WithConsumer(ctx, name)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func quote(s string) string { return strconv.Quote(s) }
