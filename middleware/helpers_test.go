package middleware_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/testserver"
	"github.com/go-throttle/throttle/middleware"
)

// gate is a handler that blocks every request on a channel until the test
// opens it, and records how many requests were in it at once.
type gate struct {
	open    chan struct{}
	once    sync.Once
	calls   atomic.Int64
	now     atomic.Int64
	maxSeen atomic.Int64
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.calls.Add(1)
	n := g.now.Add(1)
	defer g.now.Add(-1)
	for {
		m := g.maxSeen.Load()
		if n <= m || g.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	<-g.open
	w.WriteHeader(http.StatusOK)
}

// release lets every blocked and future request through.
func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// serve starts an httptest server (on 127.0.0.1) running h wrapped by a
// Throttler built from opts, and closes it when the test ends.
func serve(t *testing.T, h http.Handler, opts ...middleware.Option) (*middleware.Throttler, *httptest.Server) {
	t.Helper()
	th, err := middleware.New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := testserver.Start(t, th.Wrap(h))
	return th, srv
}

// result is the part of a response the tests look at.
type result struct {
	status     int
	reason     string
	retryAfter string
	rateLimit  string
	policy     string
}

// get sends a GET for path with the given headers (name, value pairs).
func get(t *testing.T, srv *httptest.Server, path string, hdr ...string) result {
	t.Helper()
	res, err := do(context.Background(), srv, path, hdr...)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return res
}

// do is get without the test, for use in goroutines.
func do(ctx context.Context, srv *httptest.Server, path string, hdr ...string) (result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	if err != nil {
		return result{}, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return result{
		status:     resp.StatusCode,
		reason:     resp.Header.Get("X-Throttled-Reason"),
		retryAfter: resp.Header.Get("Retry-After"),
		rateLimit:  resp.Header.Get("RateLimit"),
		policy:     resp.Header.Get("RateLimit-Policy"),
	}, nil
}

// goGet sends a GET in a goroutine; the result arrives on the channel.
func goGet(ctx context.Context, srv *httptest.Server, path string, hdr ...string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		res, err := do(ctx, srv, path, hdr...)
		if err != nil {
			res.status = -1
		}
		ch <- res
	}()
	return ch
}

// waitUntil polls cond until it holds. Correctness never depends on the
// timing: the deadline is only there so that a broken build fails instead
// of hanging.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// inHandler and waiting read the Throttler's Stats.
func inHandler(th *middleware.Throttler, n int64) func() bool {
	return func() bool { return th.Stats().InHandler == n }
}

func waiting(th *middleware.Throttler, n int64) func() bool {
	return func() bool { return th.Stats().Waiting == n }
}

// wantReject checks a 429 with the reason and Retry-After.
func wantReject(t *testing.T, got result, reason, retryAfter string) {
	t.Helper()
	if got.status != http.StatusTooManyRequests || got.reason != reason || got.retryAfter != retryAfter {
		t.Errorf("got status %d, reason %q, Retry-After %q; want 429, %q, %q",
			got.status, got.reason, got.retryAfter, reason, retryAfter)
	}
}
