// Package otelthrottle reports what a throttle.Session's limits do as
// OpenTelemetry metrics and spans. It is its own package so that users who
// do not want OpenTelemetry do not import it: the core package knows
// nothing of it, and Observe plugs it in as one more throttle.Option.
//
//	s, err := throttle.NewSession(
//		throttle.WithHostConcurrency(8),
//		otelthrottle.Observe(), // the global meter and tracer providers
//	)
//
// The metrics, with the attributes of the OpenTelemetry HTTP semantic
// conventions where they apply (server.address, server.port,
// http.request.method, http.response.status_code, error.type):
//
//	http.client.request.duration    histogram, s    per attempt, from its send to the end of its body
//	http.client.active_requests     up-down counter attempts sent whose body is not done
//	throttle.client.wait.duration   histogram, s    time an attempt waited for the limits, by throttle.limit
//	throttle.client.queued_requests up-down counter callers waiting to send to a host
//	throttle.client.rejections      counter         responses that refused their request (429, 503, rate-limit 403)
//	throttle.client.pauses          counter         host pauses, by throttle.reason
//	throttle.client.retries         counter         retries, by throttle.outcome (made, refused)
//	throttle.client.limit           gauge           the limit in force per host, by throttle.limit.kind
//
// throttle.limit is the limit an attempt waited on longest (host.pause,
// host.concurrency, host.rate, session.concurrency, session.rate,
// budget, limiter: see throttle.Gate); throttle.reason a pause's reason
// (see throttle.Reason); throttle.client.limit reports concurrency as
// attempts in flight and rate as attempts per second, whether configured,
// stated by the server or adapted.
//
// With a tracer provider, the time an attempt waited for the limits is a
// span, throttle.wait, under the caller's span, with the limit it waited
// on longest (throttle.limit) and the time its host's pause took
// (throttle.pause, in seconds) as attributes. An attempt that waited for
// nothing has no such span. Give otelhttp's transport as the session's
// base (throttle.WithTransport(otelhttp.NewTransport(...))) for one client
// span per attempt: Observe sets http.request.resend_count on the client
// span of each retry that gets a response.
//
// Every host the session keeps state for is an attribute value of
// server.address: a crawl of many hosts makes many series.
package otelthrottle

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/internal/obshook"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/go-throttle/throttle/otelthrottle"

// An Option configures Observe.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	mp metric.MeterProvider
	tp trace.TracerProvider
}

// WithMeterProvider sets the meter provider; nil or no option means the
// global one (otel.GetMeterProvider).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}

// WithTracerProvider sets the tracer provider; nil or no option means
// the global one (otel.GetTracerProvider).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tp = tp })
}

// Observe returns a throttle.Option that reports the session's events as
// the metrics and spans the package doc lists. It creates the instruments
// at once; an instrument the meter cannot create is reported to
// otel.Handle and left out, as otelhttp does. The same Option may be
// given to several sessions: each reports its own hosts; Close stops a
// session's observable instruments.
func Observe(opts ...Option) throttle.Option {
	c := config{}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	o := newObserver(c)
	return obshook.Option(obshook.Hooks{
		Attach:   o.attach,
		Answered: o.answered,
		Options:  []any{throttle.WithObserver(o.observe)},
	}).(throttle.Option)
}
