package throttle

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	retryablehttp "github.com/hashicorp/go-retryablehttp"
	"github.com/stretchr/testify/require"
)

// eventLog is an observer that keeps every event.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func (l *eventLog) observe(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
}

// of returns the events of kind k, in order.
func (l *eventLog) of(k EventKind) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// kinds returns the kinds of every event, in order.
func (l *eventLog) kinds() []EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []EventKind
	for _, e := range l.evs {
		out = append(out, e.Kind)
	}
	return out
}

func observedSession(t *testing.T, opts ...Option) (*Session, *eventLog) {
	t.Helper()
	log := &eventLog{}
	return newTestSession(t, append(opts, WithObserver(log.observe))...), log
}

// An attempt that waits reports how long and on what; each sent attempt
// is followed by exactly one done, with its status, bytes and durations.
func TestEventsAttemptSentAndDone(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, nil)
	s, log := observedSession(t, WithClock(fake), WithHostRateLimit(1, time.Second))
	status, err := getOne(context.Background(), s, rec.URL+"/a?token=secret")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	done := make(chan error, 1)
	go func() { _, err := getOne(context.Background(), s, rec.URL+"/b"); done <- err }()
	waitFor(t, "a caller waiting for the host rate", func() bool { return s.Stats().Waiting == 1 })
	fake.Advance(guarded(time.Second))
	require.NoError(t, <-done)

	require.Equal(t, []EventKind{EventAttemptSent, EventAttemptDone, EventAttemptSent, EventAttemptDone}, log.kinds())
	sent, doneEvs := log.of(EventAttemptSent), log.of(EventAttemptDone)
	host := hostKey(mustURL(t, rec.URL))
	for i, e := range sent {
		require.Equal(t, host, e.Host)
		require.Equal(t, http.MethodGet, e.Method)
		require.Equal(t, 1, e.Attempt)
		require.NotNil(t, e.Context)
		require.Equal(t, e.URL, doneEvs[i].URL)
	}
	require.Contains(t, sent[0].RedactedURL(), "token=REDACTED")
	require.Zero(t, sent[0].Wait, "the first attempt waited for nothing")
	require.Empty(t, sent[0].WaitedOn)
	require.Equal(t, guarded(time.Second), sent[1].Wait)
	require.Equal(t, GateHostRate, sent[1].WaitedOn)
	require.Equal(t, t0.Add(guarded(time.Second)), sent[1].Time)
	for _, e := range doneEvs {
		require.Equal(t, http.StatusOK, e.StatusCode)
		require.NoError(t, e.Err)
		require.False(t, e.Throttled)
		require.EqualValues(t, 2, e.BytesReceived)
		require.GreaterOrEqual(t, e.Duration, e.TimeToHeaders)
	}
}

// An attempt that fails reports its error.
func TestEventsAttemptDoneWithError(t *testing.T) {
	s, log := observedSession(t, WithTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errBoom
	})))
	_, err := s.Get(context.Background(), "http://example.test/")
	require.ErrorIs(t, err, errBoom)
	done := log.of(EventAttemptDone)
	require.Len(t, done, 1)
	require.ErrorIs(t, done[0].Err, errBoom)
	require.Zero(t, done[0].StatusCode)
	require.Equal(t, "example.test", done[0].Host)
}

var errBoom = errors.New("boom")

// mustURL parses u.
func mustURL(t *testing.T, u string) *url.URL {
	t.Helper()
	p, err := url.Parse(u)
	require.NoError(t, err)
	return p
}

// A retry is scheduled with its backoff and reason, and sent as attempt 2.
func TestEventsRetryScheduled(t *testing.T) {
	var calls atomic.Int64
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	s, log := observedSession(t, WithRetry(RetryPolicy{MaxRetries: 2, MinWait: time.Millisecond, MaxWait: time.Millisecond}))
	status, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, []EventKind{EventAttemptSent, EventAttemptDone, EventRetryScheduled, EventAttemptSent, EventAttemptDone}, log.kinds())
	r := log.of(EventRetryScheduled)[0]
	require.Equal(t, 1, r.Attempt)
	require.Equal(t, http.StatusInternalServerError, r.StatusCode)
	require.Equal(t, ReasonStatus, r.Reason)
	require.LessOrEqual(t, r.Backoff, time.Millisecond)
	require.Equal(t, http.MethodGet, r.Method)
	sent := log.of(EventAttemptSent)
	require.Equal(t, 1, sent[0].Attempt)
	require.Equal(t, 2, sent[1].Attempt)

	hs, ok := s.HostStats(hostKey(mustURL(t, rec.URL)))
	require.True(t, ok)
	require.EqualValues(t, 1, hs.Retries)
}

// A connection error's retry carries the error as its reason.
func TestEventsRetryScheduledAfterError(t *testing.T) {
	var calls atomic.Int64
	s, log := observedSession(t,
		WithRetry(RetryPolicy{MaxRetries: 1, MinWait: time.Millisecond, MaxWait: time.Millisecond}),
		WithTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if calls.Add(1) == 1 {
				return nil, errBoom
			}
			return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: r}, nil
		})))
	_, err := getOne(context.Background(), s, "http://example.test/")
	require.NoError(t, err)
	r := log.of(EventRetryScheduled)
	require.Len(t, r, 1)
	require.Equal(t, ReasonError, r[0].Reason)
	require.ErrorIs(t, r[0].Err, errBoom)
	require.Equal(t, "example.test", r[0].Host)
}

// A Retry-After past the caller's deadline refuses the retry; the host is
// paused with the server's reason, and a caller whose deadline falls
// before the pause ends is rejected.
func TestEventsRetryRefusedAndPaused(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	s, log := observedSession(t, WithRetry(RetryPolicy{MaxRetries: 2}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := getOne(ctx, s, rec.URL)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	host := hostKey(mustURL(t, rec.URL))
	refused := log.of(EventRetryRefused)
	require.Len(t, refused, 1)
	require.Equal(t, ReasonDeadline, refused[0].Reason)
	require.Equal(t, http.StatusTooManyRequests, refused[0].StatusCode)
	require.Equal(t, host, refused[0].Host)
	require.Equal(t, 1, refused[0].Attempt)

	paused := log.of(EventHostPaused)
	require.Len(t, paused, 1)
	require.Equal(t, ReasonRetryAfter, paused[0].Reason)
	require.WithinDuration(t, time.Now().Add(time.Minute), paused[0].Until, 5*time.Second)
	done := log.of(EventAttemptDone)
	require.Len(t, done, 1)
	require.True(t, done[0].Throttled)

	_, err = getOne(ctx, s, rec.URL)
	require.ErrorIs(t, err, ErrHostPaused)
	rejected := log.of(EventCallerRejected)
	require.Len(t, rejected, 1, "a caller refused by the pause was retried")
	require.Equal(t, ReasonDeadline, rejected[0].Reason)
	require.ErrorIs(t, rejected[0].Err, ErrHostPaused)

	hs, ok := s.HostStats(host)
	require.True(t, ok)
	require.Zero(t, hs.RetriesRefused, "the budget refused nothing")
	require.EqualValues(t, 1, hs.TooManyRequests)
	require.Equal(t, paused[0].Until, hs.PausedUntil)
}

// A retry the host's retry budget refuses is reported and counted.
func TestEventsRetryRefusedByBudget(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	s, log := observedSession(t, WithRetry(RetryPolicy{MaxRetries: 2, Budget: &RetryBudget{Ratio: 1e-9, MinPerSecond: 1e-9}}))
	_, err := getOne(context.Background(), s, rec.URL+"?token=x")
	require.ErrorIs(t, err, ErrRetryBudget)
	refused := log.of(EventRetryRefused)
	require.Len(t, refused, 1)
	require.Equal(t, ReasonRetryBudget, refused[0].Reason)
	require.Equal(t, http.StatusBadGateway, refused[0].StatusCode)
	require.Equal(t, 1, refused[0].Attempt)
	require.Equal(t, http.MethodGet, refused[0].Method)
	require.Empty(t, log.of(EventRetryScheduled))
	hs, ok := s.HostStats(hostKey(mustURL(t, rec.URL)))
	require.True(t, ok)
	require.EqualValues(t, 1, hs.RetriesRefused)
	require.EqualValues(t, 1, s.Stats().RetriesRefused)
}

// A pause is announced once, and its end when the next attempt passes the
// host; the attempt waited on the pause.
func TestEventsHostPausedAndResumed(t *testing.T) {
	fake := clock.NewFake(t0)
	var calls atomic.Int64
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	s, log := observedSession(t, WithClock(fake))
	status, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, status)

	wait := getAll(context.Background(), s, rec.URL, 3)
	waitFor(t, "3 callers paused", func() bool { return s.Stats().Waiting == 3 })
	hs, _ := s.HostStats(hostKey(mustURL(t, rec.URL)))
	require.EqualValues(t, 3, hs.Waiting)
	require.EqualValues(t, 1, hs.Unavailable)
	require.Equal(t, t0.Add(2*time.Second), hs.PausedUntil)
	fake.Advance(2 * time.Second)
	noErrors(t, wait())

	paused := log.of(EventHostPaused)
	require.Len(t, paused, 1)
	require.Equal(t, ReasonRetryAfter, paused[0].Reason)
	require.Equal(t, t0.Add(2*time.Second), paused[0].Until)
	resumed := log.of(EventHostResumed)
	require.Len(t, resumed, 1)
	require.Equal(t, t0.Add(2*time.Second), resumed[0].Time)
	sent := log.of(EventAttemptSent)
	require.Len(t, sent, 4)
	for _, e := range sent[1:] {
		require.Equal(t, 2*time.Second, e.Wait)
		require.Equal(t, GateHostPause, e.WaitedOn)
		require.Equal(t, 2*time.Second, e.PauseWait)
	}
	kinds := log.kinds()
	require.Equal(t, EventHostResumed, kinds[3], "resumed before the next attempt is sent: %v", kinds)
}

// A stated budget at 0 pauses the host until its reset, for that reason.
func TestEventsHostPausedByBudget(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit", `"default";r=0;t=3`)
	})
	s, log := observedSession(t, WithClock(fake))
	_, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)
	paused := log.of(EventHostPaused)
	require.Len(t, paused, 1)
	require.Equal(t, ReasonBudget, paused[0].Reason)
	require.Equal(t, t0.Add(3*time.Second), paused[0].Until)
	hs, ok := s.HostStats(hostKey(mustURL(t, rec.URL)))
	require.True(t, ok)
	require.True(t, hs.HasBudget)
	require.Zero(t, hs.Remaining)
	require.Equal(t, t0.Add(3*time.Second), hs.PausedUntil)
}

// A policy the server states is a limit learned, announced once; it is
// in force when tighter than the configured one.
func TestEventsLimitLearned(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Policy", `"burst";q=10;w=1`)
	})
	s, log := observedSession(t, WithClock(fake), WithHostRateLimit(100, time.Second), WithHostConcurrency(4))
	host := hostKey(mustURL(t, rec.URL))
	_, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)
	hs, _ := s.HostStats(host)
	require.Equal(t, Limit{Kind: LimitConcurrency, N: 4, Source: SourceConfigured}, hs.Concurrency)
	require.Equal(t, Limit{Kind: LimitRate, N: 10, Per: time.Second, Source: SourceServer}, hs.Rate)
	_, err = getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)

	learned := log.of(EventLimitLearned)
	require.Len(t, learned, 1, "announced once")
	require.Equal(t, ReasonPolicy, learned[0].Reason)
	require.True(t, learned[0].Old.IsZero())
	require.Equal(t, hs.Rate, learned[0].New)
	require.Equal(t, "10 per 1s (server)", learned[0].New.String())
	require.Equal(t, host, learned[0].Host)
}

// A caller that would wait while the queue is full is rejected.
func TestEventsCallerRejectedQueueFull(t *testing.T) {
	latch, open := newLatch()
	defer open()
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { <-latch })
	s, log := observedSession(t, WithHostConcurrency(1), WithQueueLimit(0))
	first := getAll(context.Background(), s, rec.URL, 1)
	waitFor(t, "the first request in the handler", func() bool { return rec.active.Load() == 1 })
	_, err := getOne(context.Background(), s, rec.URL)
	require.ErrorIs(t, err, ErrQueueFull)
	open()
	noErrors(t, first())
	rejected := log.of(EventCallerRejected)
	require.Len(t, rejected, 1)
	require.Equal(t, ReasonQueueFull, rejected[0].Reason)
	require.Equal(t, hostKey(mustURL(t, rec.URL)), rejected[0].Host)
	require.Len(t, log.of(EventAttemptSent), 1)
}

// A caller whose context ends while it waits is not a rejection.
func TestEventsCancelledCallerIsNoRejection(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, nil)
	s, log := observedSession(t, WithClock(fake), WithHostRateLimit(1, time.Hour))
	_, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := getOne(ctx, s, rec.URL); done <- err }()
	waitFor(t, "a caller waiting", func() bool { return s.Stats().Waiting == 1 })
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Empty(t, log.of(EventCallerRejected))
}

// Every observer gets every event, in the order given; a nil one is an
// error.
func TestWithObserverSeveral(t *testing.T) {
	var order []int
	var mu sync.Mutex
	obs := func(i int) func(Event) {
		return func(Event) { mu.Lock(); order = append(order, i); mu.Unlock() }
	}
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithObserver(obs(1)), WithObserver(obs(2)))
	_, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 1, 2}, order)

	_, err = NewSession(WithObserver(nil))
	require.ErrorIs(t, err, ErrInvalidOption)
	require.ErrorContains(t, err, "WithObserver(")
}

// A Transport used on its own reports its attempts too, each attempt 1.
func TestEventsTransport(t *testing.T) {
	rec := newRecorder(t, nil)
	log := &eventLog{}
	tr, err := NewTransport(nil, WithObserver(log.observe))
	require.NoError(t, err)
	defer tr.Close()
	resp, err := (&http.Client{Transport: tr}).Get(rec.URL)
	require.NoError(t, err)
	drain(resp)
	require.Equal(t, []EventKind{EventAttemptSent, EventAttemptDone}, log.kinds())
	require.Equal(t, 1, log.of(EventAttemptSent)[0].Attempt)
}

// An observer may call the session's methods: it is called with no lock
// held.
func TestObserverMayCallSession(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	var s *Session
	var seen atomic.Int64
	s = newTestSession(t, WithObserver(func(e Event) {
		if _, ok := s.HostStats(e.Host); ok {
			seen.Add(1)
		}
		for range s.Hosts() {
		}
		s.Stats()
	}))
	_, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)
	require.EqualValues(t, 3, seen.Load()) // sent, paused, done
}

// The observed client's copy of go-retryablehttp's client has every
// exported field of the layer's own (a field added by a new version must
// be copied too) and its own Backoff.
func TestCopyClientCopiesEveryField(t *testing.T) {
	c := &retryablehttp.Client{
		HTTPClient: &http.Client{}, Logger: struct{}{}, RetryWaitMin: 1, RetryWaitMax: 2, RetryMax: 3,
		RequestLogHook:  func(retryablehttp.Logger, *http.Request, int) {},
		ResponseLogHook: func(retryablehttp.Logger, *http.Response) {},
		CheckRetry:      retryablehttp.DefaultRetryPolicy, Backoff: retryablehttp.DefaultBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		PrepareRetry: func(*http.Request) error { return nil },
	}
	cp := copyClient(c)
	v, w := reflect.ValueOf(c).Elem(), reflect.ValueOf(cp).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		a, b := v.Field(i), w.Field(i)
		require.False(t, a.IsZero(), "set %s in this test", f.Name)
		if a.Kind() == reflect.Func {
			require.Equal(t, a.Pointer(), b.Pointer(), f.Name)
		} else {
			require.Equal(t, a.Interface(), b.Interface(), f.Name)
		}
	}
}

func TestEventKindString(t *testing.T) {
	require.Equal(t, "attempt sent", EventAttemptSent.String())
	require.Equal(t, "caller rejected", EventCallerRejected.String())
	require.Equal(t, "EventKind(0)", EventKind(0).String())
	require.Equal(t, "rate", LimitRate.String())
	require.Equal(t, "adapted", SourceAdapted.String())
	require.Equal(t, "none", Limit{}.String())
	require.Equal(t, "3 in flight", Limit{Kind: LimitConcurrency, N: 3}.String())
	require.InDelta(t, 0.5, Limit{Kind: LimitRate, N: 30, Per: time.Minute}.PerSecond(), 1e-9)
}
