package throttle

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
	"github.com/stretchr/testify/require"
)

// callResult is what a call run in the background returned; body is the
// response body, read to its end.
type callResult struct {
	status int
	body   string
	err    error
}

// runCall runs do in the background and reports its result.
func runCall(do func() (*http.Response, error)) <-chan callResult {
	ch := make(chan callResult, 1)
	go func() {
		resp, err := do()
		if err != nil {
			ch <- callResult{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		ch <- callResult{status: resp.StatusCode, body: string(b), err: err}
	}()
	return ch
}

func runGet(s *Session, url string) <-chan callResult {
	return runCall(func() (*http.Response, error) { return s.Get(context.Background(), url) })
}

// awaitCall returns the result of a background call, failing the test (not
// hanging it) if none comes within a generous bound.
func awaitCall(t *testing.T, ch <-chan callResult, what string) callResult {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case o := <-ch:
		return o
	case <-timer.C:
		t.Fatalf("%s did not return within 10s", what)
		return callResult{}
	}
}

// requireClosed checks that err says Close ended the call, and not a
// cancelled context: the caller cancelled nothing.
func requireClosed(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, ErrClosed)
	require.NotErrorIs(t, err, context.Canceled)
}

// blockingServer answers "done" once release is called; release runs
// before the server's Close, which waits for its handlers.
func blockingServer(t *testing.T) (rec *recorder, release func()) {
	t.Helper()
	ch := make(chan struct{})
	rec = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		<-ch
		io.WriteString(w, "done")
	})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(release) // registered after the server's Close, so it runs first
	return rec, release
}

// Close ends the wait for a slot at once; the attempt that holds the slot
// is on the wire and finishes normally, its body included.
func TestCloseEndsSlotWait(t *testing.T) {
	rec, release := blockingServer(t)
	s := newTestSession(t, WithMaxConcurrency(1))
	onWire := runGet(s, rec.URL)
	waitFor(t, "one attempt in the handler", func() bool { return rec.active.Load() == 1 })
	waiting := []<-chan callResult{runGet(s, rec.URL), runGet(s, rec.URL)}
	waitFor(t, "two callers waiting", func() bool { return s.Stats().Waiting == 2 })

	require.NoError(t, s.Close())
	for _, ch := range waiting {
		requireClosed(t, awaitCall(t, ch, "a caller waiting for a slot").err)
	}
	release()
	o := awaitCall(t, onWire, "the attempt on the wire")
	require.NoError(t, o.err)
	require.Equal(t, "done", o.body)
	require.EqualValues(t, 1, rec.count.Load())
	require.Zero(t, s.Stats().InFlight)
}

// Close ends waits for a token (the session window, an extra limiter, a
// window the server stated) and for a host pause, under a stopped clock.
func TestCloseEndsTokenAndPauseWaits(t *testing.T) {
	cases := []struct {
		name   string
		header map[string]string
		status int
		opts   func(fake *clock.Fake) []Option
	}{
		{"session window", nil, 200, func(fake *clock.Fake) []Option {
			return []Option{WithRateLimit(1, time.Hour)}
		}},
		{"extra limiter", nil, 200, func(fake *clock.Fake) []Option {
			w, err := ratelimit.NewWindow(1, time.Hour, ratelimit.WithClock(fake))
			require.NoError(t, err)
			return []Option{WithLimiter(w)}
		}},
		{"learned window", map[string]string{"RateLimit-Policy": `"p";q=1;w=60`}, 200, nil},
		{"host pause", map[string]string{"Retry-After": "60"}, http.StatusTooManyRequests, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := clock.NewFake(t0)
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
			})
			opts := []Option{WithClock(fake)}
			if tc.opts != nil {
				opts = append(opts, tc.opts(fake)...)
			}
			s := newTestSession(t, opts...)
			first := awaitCall(t, runGet(s, rec.URL), "the first call")
			require.NoError(t, first.err)
			require.Equal(t, tc.status, first.status)

			waiting := runGet(s, rec.URL)
			waitFor(t, "a caller waiting", func() bool { return s.Stats().Waiting == 1 })
			require.True(t, fake.BlockUntilTimers(1, 10*time.Second), "the caller waits on the clock")
			require.NoError(t, s.Close())
			requireClosed(t, awaitCall(t, waiting, "the waiting caller").err)
			fake.Advance(2 * time.Hour)
			require.EqualValues(t, 1, rec.count.Load(), "nothing is sent after Close")
			require.Zero(t, s.Stats().Waiting)
		})
	}
}

// Close ends a retry's backoff at once, and the retry is not made.
func TestCloseEndsRetryBackoff(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	backingOff := make(chan struct{})
	var once sync.Once
	s := newTestSession(t, WithRetry(RetryPolicy{
		MaxRetries: 3,
		Backoff: func(_, _ time.Duration, _ int, _ *http.Response) time.Duration {
			once.Do(func() { close(backingOff) })
			return time.Hour
		},
	}))
	call := runGet(s, rec.URL)
	select {
	case <-backingOff:
	case <-time.After(10 * time.Second):
		t.Fatal("no backoff was scheduled")
	}
	require.NoError(t, s.Close())
	requireClosed(t, awaitCall(t, call, "the caller in its backoff").err)
	require.EqualValues(t, 1, rec.count.Load(), "the scheduled retry is not made")
}

// With a retry policy too, an attempt on the wire when Close runs keeps
// its callResult: Close does not make the policy give up on it.
func TestCloseKeepsAttemptOnWireWithRetry(t *testing.T) {
	rec, release := blockingServer(t)
	s := newTestSession(t, WithRetry(RetryPolicy{MaxRetries: 2}), WithTimeout(time.Minute), WithRateLimit(100, time.Second))
	onWire := runGet(s, rec.URL)
	waitFor(t, "the attempt in the handler", func() bool { return rec.active.Load() == 1 })
	require.NoError(t, s.Close())
	release()
	o := awaitCall(t, onWire, "the attempt on the wire")
	require.NoError(t, o.err)
	require.Equal(t, http.StatusOK, o.status)
	require.Equal(t, "done", o.body)
}

// closingLimiter closes the session while granting: the grant races with
// Close and must not go out.
type closingLimiter struct{ s *Session }

func (l *closingLimiter) Acquire(ctx context.Context, n int) error {
	l.s.Close()
	return nil
}

func TestGrantRacingCloseIsNotSent(t *testing.T) {
	rec := newRecorder(t, nil)
	l := &closingLimiter{}
	s := newTestSession(t, WithLimiter(l))
	l.s = s
	_, err := s.Get(context.Background(), rec.URL)
	requireClosed(t, err)
	require.Zero(t, rec.count.Load())
	require.Zero(t, s.Stats().InFlight)
}

// Transport.Close has the same meaning, and RoundTrip after it fails.
func TestTransportClose(t *testing.T) {
	rec, release := blockingServer(t)
	tr, err := NewTransport(nil, WithMaxConcurrency(1))
	require.NoError(t, err)
	client := &http.Client{Transport: tr}
	get := func() (*http.Response, error) { return client.Get(rec.URL) }
	onWire := runCall(get)
	waitFor(t, "one attempt in the handler", func() bool { return rec.active.Load() == 1 })
	waiting := runCall(get)
	waitFor(t, "a caller waiting", func() bool { return tr.Stats().Waiting == 1 })

	require.NoError(t, tr.Close())
	requireClosed(t, awaitCall(t, waiting, "the caller waiting for a slot").err)
	release()
	o := awaitCall(t, onWire, "the attempt on the wire")
	require.NoError(t, o.err)
	require.Equal(t, "done", o.body)

	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, rec.URL, nil)
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	requireClosed(t, err)
	require.NoError(t, tr.Close(), "a second Close")
	require.EqualValues(t, 1, rec.count.Load())
}
