package otelthrottle_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/internal/testserver"
	"github.com/go-throttle/throttle/otelthrottle"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// telemetry is an SDK meter provider read by a manual reader, and a
// tracer provider that keeps its spans in memory.
type telemetry struct {
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
	spans  *tracetest.InMemoryExporter
	tp     *sdktrace.TracerProvider
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{reader: sdkmetric.NewManualReader(), spans: tracetest.NewInMemoryExporter()}
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(tel.spans))
	t.Cleanup(func() {
		require.NoError(t, tel.mp.Shutdown(context.Background()))
		require.NoError(t, tel.tp.Shutdown(context.Background()))
	})
	return tel
}

func (tel *telemetry) observe() throttle.Option {
	return otelthrottle.Observe(otelthrottle.WithMeterProvider(tel.mp), otelthrottle.WithTracerProvider(tel.tp))
}

// metrics collects the instruments by name.
func (tel *telemetry) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, otelthrottle.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

func newSession(t *testing.T, opts ...throttle.Option) *throttle.Session {
	t.Helper()
	s, err := throttle.NewSession(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func get(ctx context.Context, t *testing.T, s *throttle.Session, u string) (int, error) {
	t.Helper()
	resp, err := s.Get(ctx, u)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// hostOf is the server.address and server.port of a test server.
func hostOf(t *testing.T, raw string) (string, int) {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	return u.Hostname(), port
}

func set(kvs ...attribute.KeyValue) attribute.Set { return attribute.NewSet(kvs...) }

// Every instrument has its name, kind, unit and attributes: a 429 that
// pauses the host and states a policy, then a retry that succeeds.
func TestInstruments(t *testing.T) {
	tel := newTelemetry(t)
	var calls atomic.Int64
	srv := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Policy", `"p";q=10;w=1`)
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0.05")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "ok")
	}))
	s := newSession(t, throttle.WithHostConcurrency(4), throttle.WithRetry(throttle.RetryPolicy{MaxRetries: 2}), tel.observe())
	status, err := get(context.Background(), t, s, srv.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	addr, port := hostOf(t, srv.URL)
	host := []attribute.KeyValue{attribute.String("server.address", addr), attribute.Int("server.port", port)}
	with := func(kvs ...attribute.KeyValue) *attribute.Set {
		s := set(append(append([]attribute.KeyValue{}, host...), kvs...)...)
		return &s
	}
	get := attribute.String("http.request.method", "GET")
	ms := tel.metrics(t)

	d := ms["http.client.request.duration"]
	require.Equal(t, "s", d.Unit)
	hist, ok := d.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%T", d.Data)
	require.Len(t, hist.DataPoints, 2)
	got := map[attribute.Distinct]uint64{}
	for _, p := range hist.DataPoints {
		got[p.Attributes.Equivalent()] = p.Count
		require.Equal(t, []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}, p.Bounds)
	}
	require.Equal(t, map[attribute.Distinct]uint64{
		with(get, attribute.Int("http.response.status_code", 429), attribute.String("error.type", "429")).Equivalent(): 1,
		with(get, attribute.Int("http.response.status_code", 200)).Equivalent():                                        1,
	}, got)

	requireSum(t, ms["http.client.active_requests"], "{request}", false, map[*attribute.Set]int64{with(get): 0})
	requireSum(t, ms["throttle.client.queued_requests"], "{request}", false, map[*attribute.Set]int64{with(): 0})
	requireSum(t, ms["throttle.client.rejections"], "{response}", true, map[*attribute.Set]int64{
		with(attribute.Int("http.response.status_code", 429)): 1,
	})
	requireSum(t, ms["throttle.client.pauses"], "{pause}", true, map[*attribute.Set]int64{
		with(attribute.String("throttle.reason", "retry_after")): 1,
	})
	requireSum(t, ms["throttle.client.retries"], "{retry}", true, map[*attribute.Set]int64{
		with(attribute.String("throttle.outcome", "made")): 1,
	})

	w := ms["throttle.client.wait.duration"]
	require.Equal(t, "s", w.Unit)
	wh, ok := w.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%T", w.Data)
	var n uint64
	for _, p := range wh.DataPoints {
		n += p.Count
		for _, kv := range p.Attributes.ToSlice() {
			require.Contains(t, []attribute.Key{"server.address", "server.port", "throttle.limit"}, kv.Key)
		}
	}
	require.EqualValues(t, 2, n, "one per attempt")

	requireGauge(t, ms["throttle.client.limit"], map[*attribute.Set]float64{
		// Adapted after the 429, below the 4 configured and the 10 per
		// second stated: 1 in flight, grown to 2 by the 200, and 90% of
		// the stated rate.
		with(attribute.String("throttle.limit.kind", "concurrency")): 2,
		with(attribute.String("throttle.limit.kind", "rate")):        9,
	})
	require.Len(t, ms, 8)
}

func requireSum(t *testing.T, m metricdata.Metrics, unit string, monotonic bool, want map[*attribute.Set]int64) {
	t.Helper()
	require.Equal(t, unit, m.Unit, m.Name)
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s: %T", m.Name, m.Data)
	require.Equal(t, monotonic, sum.IsMonotonic, m.Name)
	got := map[attribute.Distinct]int64{}
	for _, p := range sum.DataPoints {
		got[p.Attributes.Equivalent()] = p.Value
	}
	wantD := map[attribute.Distinct]int64{}
	for s, v := range want {
		wantD[s.Equivalent()] = v
	}
	require.Equal(t, wantD, got, m.Name)
}

func requireGauge(t *testing.T, m metricdata.Metrics, want map[*attribute.Set]float64) {
	t.Helper()
	g, ok := m.Data.(metricdata.Gauge[float64])
	require.True(t, ok, "%s: %T", m.Name, m.Data)
	got := map[attribute.Distinct]float64{}
	for _, p := range g.DataPoints {
		got[p.Attributes.Equivalent()] = p.Value
	}
	wantD := map[attribute.Distinct]float64{}
	for s, v := range want {
		wantD[s.Equivalent()] = v
	}
	require.Equal(t, wantD, got, m.Name)
}

// A retry the budget refuses counts as refused; a configured rate is
// reported in attempts per second.
func TestRetriesRefusedAndConfiguredRate(t *testing.T) {
	tel := newTelemetry(t)
	srv := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	s := newSession(t,
		throttle.WithAdaptive(false), // the configured rate, not one adapted below it
		throttle.WithHostRateLimit(300, time.Minute),
		throttle.WithRetry(throttle.RetryPolicy{MaxRetries: 2, Budget: &throttle.RetryBudget{Ratio: 1e-9, MinPerSecond: 1e-9}}),
		tel.observe())
	_, err := get(context.Background(), t, s, srv.URL)
	require.ErrorIs(t, err, throttle.ErrRetryBudget)
	addr, port := hostOf(t, srv.URL)
	with := func(kv attribute.KeyValue) *attribute.Set {
		s := set(attribute.String("server.address", addr), attribute.Int("server.port", port), kv)
		return &s
	}
	ms := tel.metrics(t)
	requireSum(t, ms["throttle.client.retries"], "{retry}", true, map[*attribute.Set]int64{
		with(attribute.String("throttle.outcome", "refused")): 1,
	})
	requireSum(t, ms["throttle.client.rejections"], "{response}", true, map[*attribute.Set]int64{
		with(attribute.Int("http.response.status_code", 503)): 1,
	})
	requireGauge(t, ms["throttle.client.limit"], map[*attribute.Set]float64{
		with(attribute.String("throttle.limit.kind", "rate")): 5,
	})
}

// With otelhttp's transport as the base, each attempt has its client span
// under the caller's, a retry's with http.request.resend_count; the time
// the retry waited for the host's rate is a throttle.wait span beside
// them.
func TestSpansComposeWithOtelhttp(t *testing.T) {
	tel := newTelemetry(t)
	var calls atomic.Int64
	srv := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		io.WriteString(w, "ok")
	}))
	inner := &http.Transport{}
	defer inner.CloseIdleConnections()
	s := newSession(t,
		throttle.WithTransport(otelhttp.NewTransport(inner, otelhttp.WithTracerProvider(tel.tp), otelhttp.WithMeterProvider(tel.mp))),
		throttle.WithHostRateLimit(1, 200*time.Millisecond),
		throttle.WithRetry(throttle.RetryPolicy{MaxRetries: 1, MinWait: time.Millisecond, MaxWait: time.Millisecond}),
		tel.observe())
	ctx, root := tel.tp.Tracer("test").Start(context.Background(), "root")
	status, err := get(ctx, t, s, srv.URL)
	root.End()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	var clients, waits []sdktrace.ReadOnlySpan
	for _, sp := range tel.spans.GetSpans().Snapshots() {
		switch {
		case sp.SpanKind() == trace.SpanKindClient:
			clients = append(clients, sp)
		case sp.Name() == "throttle.wait":
			waits = append(waits, sp)
		}
	}
	rootID := root.SpanContext().SpanID()
	require.Len(t, clients, 2)
	for i, sp := range clients {
		require.Equal(t, rootID, sp.Parent().SpanID(), "client span %d under the caller's", i)
		resend, has := attr(sp, "http.request.resend_count")
		if i == 0 {
			require.False(t, has, "the first attempt is no resend")
		} else {
			require.True(t, has)
			require.EqualValues(t, 1, resend.AsInt64())
		}
	}
	require.Len(t, waits, 1)
	w := waits[0]
	require.Equal(t, rootID, w.Parent().SpanID())
	limit, _ := attr(w, "throttle.limit")
	require.Equal(t, "host.rate", limit.AsString())
	attempt, _ := attr(w, "throttle.attempt")
	require.EqualValues(t, 2, attempt.AsInt64())
	addr, _ := hostOf(t, srv.URL)
	a, _ := attr(w, "server.address")
	require.Equal(t, addr, a.AsString())
	require.Greater(t, w.EndTime().Sub(w.StartTime()), 100*time.Millisecond, "it waited for the window")
	require.True(t, w.EndTime().Before(clients[1].StartTime()) || w.EndTime().Equal(clients[1].StartTime()))
}

func attr(sp sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range sp.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// Close stops the session's observable instruments: the gauge no longer
// reports its hosts.
func TestCloseUnregisters(t *testing.T) {
	tel := newTelemetry(t)
	srv := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	s, err := throttle.NewSession(throttle.WithHostConcurrency(2), tel.observe())
	require.NoError(t, err)
	_, err = get(context.Background(), t, s, srv.URL)
	require.NoError(t, err)
	g := tel.metrics(t)["throttle.client.limit"].Data.(metricdata.Gauge[float64])
	require.Len(t, g.DataPoints, 1)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, ok := tel.metrics(t)["throttle.client.limit"]
	require.False(t, ok)
}
