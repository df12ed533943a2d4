package otelthrottle

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-throttle/throttle"
)

// The attributes of this package's own.
const (
	limitKey     = attribute.Key("throttle.limit")
	limitKindKey = attribute.Key("throttle.limit.kind")
	reasonKey    = attribute.Key("throttle.reason")
	outcomeKey   = attribute.Key("throttle.outcome")
	pauseKey     = attribute.Key("throttle.pause")
	attemptKey   = attribute.Key("throttle.attempt")
)

// durationBuckets are the HTTP semantic conventions' boundaries for
// http.client.request.duration, in seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// waitBuckets reach further than a request's: a host's pause can last
// minutes.
var waitBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600}

// observer turns a session's events into metrics and spans. It holds no
// state per session but the callbacks attach registers.
type observer struct {
	meter  metric.Meter
	tracer trace.Tracer

	duration metric.Float64Histogram
	active   metric.Int64UpDownCounter
	wait     metric.Float64Histogram
	queued   metric.Int64ObservableUpDownCounter
	rejected metric.Int64Counter
	pauses   metric.Int64Counter
	retries  metric.Int64Counter
	limit    metric.Float64ObservableGauge
}

func newObserver(c config) *observer {
	m := c.mp.Meter(ScopeName)
	o := &observer{meter: m, tracer: c.tp.Tracer(ScopeName)}
	var err error
	report := func(e error) {
		if e != nil {
			otel.Handle(e)
		}
	}
	o.duration, err = m.Float64Histogram("http.client.request.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of HTTP client requests."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	report(err)
	o.active, err = m.Int64UpDownCounter("http.client.active_requests",
		metric.WithUnit("{request}"), metric.WithDescription("Number of active HTTP requests."))
	report(err)
	o.wait, err = m.Float64Histogram("throttle.client.wait.duration",
		metric.WithUnit("s"), metric.WithDescription("Time an attempt waited for the limits before it was sent."),
		metric.WithExplicitBucketBoundaries(waitBuckets...))
	report(err)
	o.queued, err = m.Int64ObservableUpDownCounter("throttle.client.queued_requests",
		metric.WithUnit("{request}"), metric.WithDescription("Callers waiting for a limit to send to a host."))
	report(err)
	o.rejected, err = m.Int64Counter("throttle.client.rejections",
		metric.WithUnit("{response}"), metric.WithDescription("Responses that refused their request because of a rate limit."))
	report(err)
	o.pauses, err = m.Int64Counter("throttle.client.pauses",
		metric.WithUnit("{pause}"), metric.WithDescription("Pauses of a host, by reason."))
	report(err)
	o.retries, err = m.Int64Counter("throttle.client.retries",
		metric.WithUnit("{retry}"), metric.WithDescription("Retries made and refused."))
	report(err)
	o.limit, err = m.Float64ObservableGauge("throttle.client.limit",
		metric.WithDescription("The limit in force on a host: attempts in flight (concurrency) or attempts per second (rate)."))
	report(err)
	return o
}

// attach registers the observable instruments' callback for one
// Transport; Close unregisters it.
func (o *observer) attach(transport any) func() {
	t, ok := transport.(*throttle.Transport)
	if !ok || o.queued == nil || o.limit == nil {
		return nil
	}
	reg, err := o.meter.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		for hs := range t.Hosts() {
			host := hostAttrs(hs.Host)
			obs.ObserveInt64(o.queued, hs.Waiting, metric.WithAttributes(host...))
			for _, l := range []throttle.Limit{hs.Concurrency, hs.Rate} {
				if !l.IsZero() {
					obs.ObserveFloat64(o.limit, l.PerSecond(),
						metric.WithAttributes(append(host, limitKindKey.String(l.Kind.String()))...))
				}
			}
		}
		return nil
	}, o.queued, o.limit)
	if err != nil {
		otel.Handle(err)
		return nil
	}
	return func() {
		if err := reg.Unregister(); err != nil {
			otel.Handle(err)
		}
	}
}

// observe is the session's observer: each event updates the instruments
// it concerns.
func (o *observer) observe(e throttle.Event) {
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	switch e.Kind {
	case throttle.EventAttemptSent:
		o.sent(ctx, e)
	case throttle.EventAttemptDone:
		o.done(ctx, e)
	case throttle.EventRetryRefused:
		o.count(ctx, o.retries, hostAttrs(e.Host), outcomeKey.String("refused"))
	case throttle.EventHostPaused:
		o.count(ctx, o.pauses, hostAttrs(e.Host), reasonKey.String(string(e.Reason)))
	}
}

func (o *observer) sent(ctx context.Context, e throttle.Event) {
	if o.active != nil {
		o.active.Add(ctx, 1, metric.WithAttributes(requestAttrs(e)...))
	}
	host := hostAttrs(e.Host)
	if e.Attempt > 1 {
		o.count(ctx, o.retries, host, outcomeKey.String("made"))
	}
	if e.WaitedOn != "" {
		host = append(host, limitKey.String(string(e.WaitedOn)))
	}
	if o.wait != nil {
		o.wait.Record(ctx, e.Wait.Seconds(), metric.WithAttributes(host...))
	}
	if e.WaitedOn != "" {
		o.waitSpan(ctx, e)
	}
}

func (o *observer) done(ctx context.Context, e throttle.Event) {
	attrs := requestAttrs(e)
	if o.active != nil {
		o.active.Add(ctx, -1, metric.WithAttributes(attrs...))
	}
	if e.StatusCode != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(e.StatusCode))
	}
	switch {
	case e.Err != nil:
		attrs = append(attrs, semconv.ErrorType(e.Err))
	case e.StatusCode >= 400:
		attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(e.StatusCode)))
	}
	if o.duration != nil {
		o.duration.Record(ctx, e.Duration.Seconds(), metric.WithAttributes(attrs...))
	}
	if e.Throttled {
		o.count(ctx, o.rejected, hostAttrs(e.Host), semconv.HTTPResponseStatusCode(e.StatusCode))
	}
}

func (o *observer) count(ctx context.Context, c metric.Int64Counter, attrs []attribute.KeyValue, more attribute.KeyValue) {
	if c != nil {
		c.Add(ctx, 1, metric.WithAttributes(append(attrs, more)...))
	}
}

// waitSpan records the attempt's wait as a span under the caller's,
// after the fact: it ran from e.Time-e.Wait to e.Time.
func (o *observer) waitSpan(ctx context.Context, e throttle.Event) {
	attrs := []attribute.KeyValue{
		semconv.ServerAddress(hostAttrs(e.Host)[0].Value.AsString()),
		limitKey.String(string(e.WaitedOn)),
		attemptKey.Int(e.Attempt),
	}
	if e.PauseWait > 0 {
		attrs = append(attrs, pauseKey.Float64(e.PauseWait.Seconds()))
	}
	_, span := o.tracer.Start(ctx, "throttle.wait",
		trace.WithTimestamp(e.Time.Add(-e.Wait)),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attrs...))
	span.End(trace.WithTimestamp(e.Time))
}

// answered sets http.request.resend_count on the client span a tracing
// base RoundTripper (otelhttp's) made for a retry: that span is the one
// in the context of the response's request, if it is not the one the
// attempt was sent under.
func (o *observer) answered(sent *http.Request, resp *http.Response, attempt int) {
	if attempt <= 1 || resp.Request == nil {
		return
	}
	span := trace.SpanFromContext(resp.Request.Context())
	if !span.IsRecording() || span.SpanContext().SpanID() == trace.SpanContextFromContext(sent.Context()).SpanID() {
		return
	}
	span.SetAttributes(semconv.HTTPRequestResendCount(attempt - 1))
}

// requestAttrs are the attributes of http.client.active_requests, which
// http.client.request.duration extends.
func requestAttrs(e throttle.Event) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(method(e.Method)))
	if e.URL == nil {
		return append(attrs, hostAttrs(e.Host)...)
	}
	attrs = append(attrs, semconv.ServerAddress(e.URL.Hostname()))
	port := e.URL.Port()
	switch {
	case port != "":
	case e.URL.Scheme == "https":
		port = "443"
	default:
		port = "80"
	}
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	return attrs
}

// hostAttrs names a host by its host key ("api.example.com",
// "localhost:8080", "[::1]:8443"): server.address, and server.port when
// the key has one (a port other than 80 and 443), so that two servers on
// one machine stay apart.
func hostAttrs(key string) []attribute.KeyValue {
	host, port := key, ""
	switch i := strings.LastIndexByte(key, ':'); {
	case strings.HasPrefix(key, "["):
		if j := strings.IndexByte(key, ']'); j > 0 {
			host = key[1:j]
			port = strings.TrimPrefix(key[j+1:], ":")
		}
	case i >= 0 && strings.IndexByte(key, ':') == i:
		host, port = key[:i], key[i+1:]
	}
	attrs := make([]attribute.KeyValue, 1, 4)
	attrs[0] = semconv.ServerAddress(host)
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	return attrs
}

// method is the request's method as the semantic conventions name it: a
// known method, or _OTHER.
func method(m string) string {
	switch m {
	case "":
		return http.MethodGet
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}
