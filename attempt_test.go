package throttle

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/stretchr/testify/require"
)

// blockingRecorder is a recorder whose requests to "?block" wait in the
// handler until release is called; release also runs at cleanup, before
// the server closes, so a failing test never leaves a handler blocked.
func blockingRecorder(t *testing.T) (rec *recorder, release func()) {
	t.Helper()
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	rec = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "block" {
			<-gate
		}
		w.Write([]byte("ok"))
	})
	t.Cleanup(release) // runs before the recorder's Close
	return rec, release
}

// recv returns what ch delivers, failing the test instead of hanging if
// nothing comes.
func recv[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// idleTrace returns a context whose request reports, on the returned
// channel, that its connection went back to the idle pool.
func idleTrace() (context.Context, <-chan struct{}) {
	idle := make(chan struct{}, 1)
	return httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		PutIdleConn: func(err error) {
			if err == nil {
				select {
				case idle <- struct{}{}:
				default:
				}
			}
		},
	}), idle
}

// reuseTrace returns a context whose request reports on the returned
// channel whether its connection was reused.
func reuseTrace() (context.Context, <-chan bool) {
	reused := make(chan bool, 1)
	return httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			select {
			case reused <- info.Reused:
			default: // a retry on another connection: the first one counts
			}
		},
	}), reused
}

// goGet runs getOne in the background and returns the channel its error
// arrives on.
func goGet(ctx context.Context, s *Session, url string) <-chan error {
	done := make(chan error, 1)
	go func() { _, err := getOne(ctx, s, url); done <- err }()
	return done
}

// Issue 7, item 10: a server reads a request on a new connection only once
// it has accepted the connection, possibly long after the write; the
// client knows it has read it once the response begins. So an attempt on a
// new connection counts from its response, not from its write.
func TestNewConnectionCountsFromResponse(t *testing.T) {
	fake := clock.NewFake(t0)
	rec, release := blockingRecorder(t)
	s := newTestSession(t, WithClock(fake), WithRateLimit(1, time.Second), WithServerFeedback(false))
	w := s.Transport().rate.Load()

	first := goGet(context.Background(), s, rec.URL+"?block")
	waitFor(t, "the first request in the handler", func() bool { return rec.active.Load() == 1 })
	fake.Advance(500 * time.Millisecond) // the server is slow to answer
	release()
	require.NoError(t, recv(t, "the first request", first))

	fake.Set(t0.Add(guarded(time.Second)))
	require.False(t, w.HasCapacity(1), "the window counted the new connection's attempt from its write")
	fake.Set(t0.Add(500*time.Millisecond + guarded(time.Second)))
	require.True(t, w.HasCapacity(1), "the window counted the attempt past its response plus the window")
}

// A response that comes after the window has ended is too late to count
// the attempt again from: its slot may have been granted anew, so it is
// left as it was.
func TestLateResponseIsNotRestamped(t *testing.T) {
	fake := clock.NewFake(t0)
	rec, release := blockingRecorder(t)
	s := newTestSession(t, WithClock(fake), WithRateLimit(1, time.Second), WithServerFeedback(false))
	w := s.Transport().rate.Load()

	first := goGet(context.Background(), s, rec.URL+"?block")
	waitFor(t, "the first request in the handler", func() bool { return rec.active.Load() == 1 })
	fake.Set(t0.Add(guarded(time.Second)))
	_, err := getOne(context.Background(), s, rec.URL) // the slot, free again
	require.NoError(t, err)
	fake.Set(t0.Add(1500 * time.Millisecond))
	release()
	require.NoError(t, recv(t, "the first request", first))
	fake.Set(t0.Add(2 * guarded(time.Second)))
	require.True(t, w.HasCapacity(1), "a response after the window counted its attempt again")
}

// A server busy accepting new connections reads even established ones
// late: an attempt on an established connection, in flight while another
// attempt to its host opened a connection, counts from its response.
func TestBurstOfNewConnectionsRestampsEstablished(t *testing.T) {
	fake := clock.NewFake(t0)
	rec, release := blockingRecorder(t)
	s := newTestSession(t, WithClock(fake), WithRateLimit(3, time.Second))
	w := s.Transport().rate.Load()

	// The first request (the host's first contact) opens a connection;
	// wait until it is idle, so that the next request reuses it.
	ctx, idle := idleTrace()
	_, err := getOne(ctx, s, rec.URL)
	require.NoError(t, err)
	recv(t, "the connection to be idle", idle)

	ctx, reused := reuseTrace()
	established := goGet(ctx, s, rec.URL+"?block")
	require.True(t, recv(t, "a connection", reused), "the second request did not reuse the connection")
	waitFor(t, "the second request in the handler", func() bool { return rec.active.Load() == 1 })
	// A third request must open a connection of its own.
	_, err = getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)
	fake.Advance(500 * time.Millisecond)
	release()
	require.NoError(t, recv(t, "the request on the established connection", established))

	fake.Set(t0.Add(guarded(time.Second)))
	require.False(t, w.HasCapacity(3), "the established connection's attempt counted from its write")
	fake.Set(t0.Add(500*time.Millisecond + guarded(time.Second)))
	require.True(t, w.HasCapacity(3))
}

// A new TLS connection is established once its handshake is done: the
// server's own handler ran it, so the request is read as promptly as on a
// reused connection, and the attempt counts from its write.
func TestNewTLSConnectionCountsFromWrite(t *testing.T) {
	fake := clock.NewFake(t0)
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	arrived := make(chan struct{}, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-gate
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(release) // before srv.Close
	s := newTestSession(t, WithClock(fake), WithRateLimit(1, time.Second), WithServerFeedback(false),
		WithTransport(srv.Client().Transport))
	w := s.Transport().rate.Load()

	first := goGet(context.Background(), s, srv.URL)
	recv(t, "the request in the handler", arrived)
	fake.Advance(500 * time.Millisecond)
	release()
	require.NoError(t, recv(t, "the first request", first))
	fake.Set(t0.Add(guarded(time.Second)))
	require.True(t, w.HasCapacity(1), "the attempt on a new TLS connection counted from its response")
}

// On a connection the server is already reading, an attempt still counts
// from its write: its cost is the guard alone, however slow the response.
func TestReusedConnectionCountsFromWrite(t *testing.T) {
	fake := clock.NewFake(t0)
	rec, release := blockingRecorder(t)
	s := newTestSession(t, WithClock(fake), WithRateLimit(1, time.Second), WithServerFeedback(false))
	w := s.Transport().rate.Load()

	// The first request only opens a connection: wait until it is idle in
	// the pool, so that the next request reuses it.
	ctx, idle := idleTrace()
	_, err := getOne(ctx, s, rec.URL)
	require.NoError(t, err)
	recv(t, "the connection to be idle", idle)
	start := t0.Add(guarded(time.Second))
	fake.Set(start)

	ctx, reused := reuseTrace()
	second := goGet(ctx, s, rec.URL+"?block")
	require.True(t, recv(t, "a connection", reused), "the second request did not reuse the connection")
	waitFor(t, "the second request in the handler", func() bool { return rec.active.Load() == 1 })
	fake.Advance(500 * time.Millisecond) // the server is slow to answer
	release()
	require.NoError(t, recv(t, "the second request", second))
	require.False(t, w.HasCapacity(1))
	fake.Set(start.Add(guarded(time.Second)))
	require.True(t, w.HasCapacity(1), "an attempt on a reused connection counted past its write plus the window")
}

// WithWindowGuard(0): every attempt counts for exactly per from its write,
// on a new connection too.
func TestWindowGuardZero(t *testing.T) {
	fake := clock.NewFake(t0)
	rec, release := blockingRecorder(t)
	s := newTestSession(t, WithClock(fake), WithRateLimit(1, time.Second), WithServerFeedback(false), WithWindowGuard(0))
	w := s.Transport().rate.Load()

	first := goGet(context.Background(), s, rec.URL+"?block")
	waitFor(t, "the first request in the handler", func() bool { return rec.active.Load() == 1 })
	fake.Advance(500 * time.Millisecond)
	release()
	require.NoError(t, recv(t, "the first request", first))
	fake.Set(t0.Add(time.Second - time.Nanosecond))
	require.False(t, w.HasCapacity(1))
	fake.Set(t0.Add(time.Second))
	require.True(t, w.HasCapacity(1), "the window was longer than per, or counted from the response")
}

// WithWindowGuard(d) lengthens every window by exactly d.
func TestWindowGuardSetsTheGuard(t *testing.T) {
	fake := clock.NewFake(t0)
	rec := newRecorder(t, nil)
	s := newTestSession(t, WithClock(fake), WithRateLimit(1, time.Second), WithServerFeedback(false),
		WithWindowGuard(250*time.Millisecond))
	_, err := getOne(context.Background(), s, rec.URL)
	require.NoError(t, err)
	w := s.Transport().rate.Load()
	fake.Set(t0.Add(1250*time.Millisecond - time.Nanosecond))
	require.False(t, w.HasCapacity(1))
	fake.Set(t0.Add(1250 * time.Millisecond))
	require.True(t, w.HasCapacity(1))
}

func TestWindowGuardInvalid(t *testing.T) {
	_, err := NewSession(WithWindowGuard(-time.Millisecond))
	require.ErrorIs(t, err, ErrInvalidOption)
	require.ErrorContains(t, err, "WithWindowGuard(-1ms)")
}

// Issue 8: WithTimeout runs on the session's clock. Advancing a fake clock
// past it expires an attempt waiting for its response headers, and one
// whose response body is being read, with an error wrapping
// ErrAttemptTimeout; short of it, the attempt goes on. The timeout is an
// hour, so only the fake clock can end these attempts within the test's
// real-time guard.
func TestTimeoutRunsOnTheSessionClock(t *testing.T) {
	fake := clock.NewFake(t0)
	entered := make(chan *http.Request, 1)
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		entered <- req
		if req.URL.Path == "/headers" {
			<-req.Context().Done()
			return nil, context.Cause(req.Context())
		}
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: ctxBody{req.Context()}, Request: req}, nil
	})
	s := newTestSession(t, WithClock(fake), WithTransport(base), WithTimeout(time.Hour))
	within := func(errs <-chan error) error {
		select {
		case err := <-errs:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("the attempt did not end when the session's clock passed its timeout")
		}
	}

	errs := make(chan error, 1)
	go func() {
		_, err := s.Get(context.Background(), "http://a.example/headers")
		errs <- err
	}()
	req := <-entered
	fake.Advance(time.Hour - 1)
	require.NoError(t, req.Context().Err(), "the timeout has not passed on the session's clock")
	fake.Advance(1)
	require.ErrorIs(t, within(errs), ErrAttemptTimeout)

	resp, err := s.Get(context.Background(), "http://a.example/body")
	require.NoError(t, err)
	defer resp.Body.Close()
	<-entered
	go func() {
		_, err := io.ReadAll(resp.Body)
		errs <- err
	}()
	fake.Advance(time.Hour)
	require.ErrorIs(t, within(errs), ErrAttemptTimeout)
}

// ctxBody is a response body whose Read blocks until ctx ends.
type ctxBody struct{ ctx context.Context }

func (b ctxBody) Read([]byte) (int, error) {
	<-b.ctx.Done()
	return 0, context.Cause(b.ctx)
}

func (ctxBody) Close() error { return nil }
