package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptrace"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bulkTimeout bounds every wait in these tests: a failing test fails, it
// does not hang.
const bulkTimeout = 30 * time.Second

func newBulkSession(t *testing.T, opts ...throttle.Option) *throttle.Session {
	t.Helper()
	s, err := throttle.NewSession(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// echoPath answers each request with its path.
func echoPath(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) }

func readBody(resp *http.Response) (string, error) {
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func getReq(t testing.TB, url string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	return req
}

func TestMapOrderAcrossHosts(t *testing.T) {
	var srvs []string
	for range 3 {
		srvs = append(srvs, testserver.Start(t, http.HandlerFunc(echoPath)).URL)
	}
	s := newBulkSession(t, throttle.WithHostConcurrency(2))
	const n = 300
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = getReq(t, fmt.Sprintf("%s/%d", srvs[i%3], i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), bulkTimeout)
	defer cancel()
	res := throttle.Map(ctx, s, reqs, readBody, throttle.WithWorkers(8))
	require.Len(t, res, n)
	for i, r := range res {
		require.NoError(t, r.Err, "request %d", i)
		assert.Equal(t, i, r.Index)
		assert.Equal(t, fmt.Sprintf("/%d", i), r.Value)
	}
}

func TestStreamOneResultPerInput(t *testing.T) {
	srv := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/500") {
			w.WriteHeader(http.StatusInternalServerError)
		}
		echoPath(w, r)
	}))
	s := newBulkSession(t)
	reqs := []*http.Request{
		getReq(t, srv.URL+"/a"),
		nil,
		getReq(t, srv.URL+"/500"),
		{Method: http.MethodGet}, // no URL
		getReq(t, "http://127.0.0.1:1/refused"),
		getReq(t, srv.URL+"/b"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), bulkTimeout)
	defer cancel()
	seen := map[int]throttle.Result[int]{}
	for r := range throttle.Stream(ctx, s, slicesValues(reqs), statusOf) {
		_, dup := seen[r.Index]
		require.False(t, dup, "index %d twice", r.Index)
		seen[r.Index] = r
	}
	require.Len(t, seen, len(reqs))
	assert.Equal(t, 200, seen[0].Value)
	assert.ErrorIs(t, seen[1].Err, throttle.ErrNilRequest)
	assert.Contains(t, seen[1].Err.Error(), "request 1")
	assert.Equal(t, 500, seen[2].Value)
	assert.Error(t, seen[3].Err)
	assert.Error(t, seen[4].Err)
	assert.Equal(t, 200, seen[5].Value)
}

func statusOf(resp *http.Response) (int, error) { return resp.StatusCode, nil }

func slicesValues[E any](s []E) iter.Seq[E] {
	return func(yield func(E) bool) {
		for _, e := range s {
			if !yield(e) {
				return
			}
		}
	}
}

func TestMapHandlePanicNamesIndex(t *testing.T) {
	srv := testserver.Start(t, http.HandlerFunc(echoPath))
	s := newBulkSession(t)
	reqs := make([]*http.Request, 10)
	for i := range reqs {
		reqs[i] = getReq(t, fmt.Sprintf("%s/%d", srv.URL, i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), bulkTimeout)
	defer cancel()
	res := throttle.Map(ctx, s, reqs, func(resp *http.Response) (string, error) {
		body, err := readBody(resp)
		if body == "/7" {
			panic("boom")
		}
		return body, err
	})
	require.Len(t, res, 10)
	for i, r := range res {
		if i == 7 {
			require.ErrorIs(t, r.Err, throttle.ErrHandlerPanic)
			assert.Contains(t, r.Err.Error(), "request 7")
			assert.Contains(t, r.Err.Error(), "boom")
			continue
		}
		assert.NoError(t, r.Err)
	}
	// The panicking handler's response was closed: nothing is in flight.
	waitForBulk(t, "no attempt in flight", func() bool { return s.Stats().InFlight == 0 })
}

func TestStreamBreakCancelsInFlight(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var started, cancelled atomic.Int64
	srv := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fast" {
			return
		}
		started.Add(1)
		select {
		case <-r.Context().Done():
			cancelled.Add(1)
		case <-release:
		}
	}))
	s := newBulkSession(t)
	var read atomic.Int64
	endless := func(yield func(*http.Request) bool) {
		for i := 0; ; i++ {
			read.Add(1)
			path := "/slow"
			if i < 5 {
				path = "/fast"
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			if !yield(req) {
				return
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), bulkTimeout)
	defer cancel()
	done := make(chan int)
	go func() {
		got := 0
		for r := range throttle.Stream(ctx, s, endless, statusOf, throttle.WithWorkers(4)) {
			if r.Err == nil {
				got++
			}
			if got == 5 {
				break
			}
		}
		done <- got
	}()
	select {
	case got := <-done:
		assert.Equal(t, 5, got)
	case <-time.After(bulkTimeout):
		t.Fatal("Stream did not return after break")
	}
	assert.NoError(t, ctx.Err(), "returned because of the test's deadline")
	// The look-ahead bounds what was read: not the whole endless input.
	assert.Less(t, read.Load(), int64(2000))
	// The slow requests in flight saw their context end.
	waitForBulk(t, "server saw the cancellations", func() bool { return cancelled.Load() == started.Load() })
}

func TestStreamCancelGivesEveryInputAResult(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	}))
	// No host limit: with one, a /block request could take the host's
	// slots before the last /ok one, which another worker took first but
	// had not yet sent, and the count of 10 below would never be reached.
	s := newBulkSession(t)
	const n = 3000
	gen := func(yield func(*http.Request) bool) {
		for i := range n {
			path := "/ok"
			if i >= 10 {
				path = "/block"
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			if !yield(req) {
				return
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	timer := time.AfterFunc(bulkTimeout, cancel) // bound the test if nothing else does
	defer timer.Stop()
	seen := make(map[int]bool, n)
	var ok, canceled int
	for r := range throttle.Stream(ctx, s, gen, statusOf, throttle.WithWorkers(4)) {
		require.False(t, seen[r.Index], "index %d twice", r.Index)
		seen[r.Index] = true
		if r.Err == nil {
			ok++
			if ok == 10 {
				cancel()
			}
		} else if errors.Is(r.Err, context.Canceled) {
			canceled++
		}
	}
	assert.Len(t, seen, n)
	assert.Equal(t, 10, ok)
	assert.Equal(t, n-10, canceled)
}

func TestStreamRequestContextEndsItsRequest(t *testing.T) {
	srv := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			<-r.Context().Done()
		}
	}))
	s := newBulkSession(t)
	own, cancelOwn := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelOwn()
	blocked, _ := http.NewRequestWithContext(own, http.MethodGet, srv.URL+"/block", nil)
	ctx, cancel := context.WithTimeout(context.Background(), bulkTimeout)
	defer cancel()
	res := throttle.Map(ctx, s, []*http.Request{getReq(t, srv.URL+"/ok"), blocked}, statusOf)
	assert.NoError(t, res[0].Err)
	assert.ErrorIs(t, res[1].Err, context.DeadlineExceeded)
	assert.NoError(t, ctx.Err())
}

// A host whose limit is saturated ties up one worker waiting for it, and
// the others serve the next host in the input.
func TestStreamSaturatedHostDoesNotPinWorkers(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free()
	slow := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	fast := testserver.Start(t, http.HandlerFunc(echoPath))
	s := newBulkSession(t, throttle.WithHostConcurrency(1))
	var reqs []*http.Request
	for range 50 {
		reqs = append(reqs, getReq(t, slow.URL+"/slow"))
	}
	for range 50 {
		reqs = append(reqs, getReq(t, fast.URL+"/fast"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), bulkTimeout)
	defer cancel()
	var fastDone, slowDone int
	for r := range throttle.Stream(ctx, s, slicesValues(reqs), readBody, throttle.WithWorkers(4)) {
		require.NoError(t, r.Err)
		if r.Value == "/fast" {
			fastDone++
			if fastDone == 50 {
				// Every request of the free host finished while the
				// saturated one still held its first.
				assert.Zero(t, slowDone)
				free()
			}
		} else {
			slowDone++
		}
	}
	assert.Equal(t, 50, fastDone)
	assert.Equal(t, 50, slowDone)
}

func TestWithWorkersBoundsInFlight(t *testing.T) {
	var active, peak atomic.Int64
	srv := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := active.Add(1)
		defer active.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
	}))
	s := newBulkSession(t)
	reqs := make([]*http.Request, 200)
	for i := range reqs {
		reqs[i] = getReq(t, srv.URL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bulkTimeout)
	defer cancel()
	var maxInFlight atomic.Int64
	res := throttle.Map(ctx, s, reqs, statusOf, throttle.WithWorkers(3), throttle.WithProgress(func(p throttle.Progress) {
		if p.InFlight > maxInFlight.Load() {
			maxInFlight.Store(p.InFlight)
		}
	}))
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	assert.LessOrEqual(t, peak.Load(), int64(3))
	assert.LessOrEqual(t, maxInFlight.Load(), int64(3))
}

func TestWithProgress(t *testing.T) {
	srv := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/404" {
			w.WriteHeader(http.StatusNotFound)
		}
		time.Sleep(time.Millisecond)
	}))
	s := newBulkSession(t)
	const n = 300
	reqs := make([]*http.Request, n)
	for i := range reqs {
		path := "/ok"
		if i%10 == 0 {
			path = "/404"
		}
		reqs[i] = getReq(t, srv.URL+path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bulkTimeout)
	defer cancel()
	var inCall atomic.Bool
	var calls []throttle.Progress
	fail404 := func(resp *http.Response) (int, error) {
		if resp.StatusCode != http.StatusOK {
			return 0, errors.New(resp.Status)
		}
		return resp.StatusCode, nil
	}
	throttle.Map(ctx, s, reqs, fail404, throttle.WithWorkers(2), throttle.WithProgress(func(p throttle.Progress) {
		require.True(t, inCall.CompareAndSwap(false, true), "calls overlap")
		defer inCall.Store(false)
		calls = append(calls, p)
	}))
	require.NotEmpty(t, calls)
	last := calls[len(calls)-1]
	assert.Equal(t, int64(n), last.Total)
	assert.Equal(t, int64(n), last.Done)
	assert.Equal(t, int64(n/10), last.Failed)
	assert.Zero(t, last.InFlight)
	assert.Greater(t, last.Rate, 0.0)
	for i := 1; i < len(calls); i++ {
		assert.GreaterOrEqual(t, calls[i].Done, calls[i-1].Done)
		assert.GreaterOrEqual(t, calls[i].Elapsed, calls[i-1].Elapsed)
		if i < len(calls)-1 { // the last call comes when the run ends
			// At most every 100 ms (the ticker's own jitter allowed).
			assert.GreaterOrEqual(t, calls[i].Elapsed-calls[i-1].Elapsed, 90*time.Millisecond, "call %d came too soon", i)
		}
	}

	var streamLast throttle.Progress
	for range throttle.Stream(ctx, s, slicesValues(reqs[:5]), statusOf, throttle.WithProgress(func(p throttle.Progress) { streamLast = p })) {
	}
	assert.Equal(t, int64(-1), streamLast.Total)
	assert.Equal(t, int64(5), streamLast.Done)
}

func TestBulkInvalidOptionsFailEveryResult(t *testing.T) {
	srv := testserver.Start(t, http.HandlerFunc(echoPath))
	s := newBulkSession(t)
	reqs := []*http.Request{getReq(t, srv.URL), getReq(t, srv.URL)}
	ctx := context.Background()
	cases := map[string]func() []throttle.Result[int]{
		"workers=0": func() []throttle.Result[int] {
			return throttle.Map(ctx, s, reqs, statusOf, throttle.WithWorkers(0))
		},
		"progress=nil": func() []throttle.Result[int] {
			return throttle.Map(ctx, s, reqs, statusOf, throttle.WithProgress(nil))
		},
		"session=nil": func() []throttle.Result[int] { return throttle.Map(ctx, nil, reqs, statusOf) },
		"handle=nil":  func() []throttle.Result[int] { return throttle.Map[int](ctx, s, reqs, nil) },
		"option=nil":  func() []throttle.Result[int] { return throttle.Map(ctx, s, reqs, statusOf, nil) },
	}
	for name, run := range cases {
		t.Run(name, func(t *testing.T) {
			res := run()
			require.Len(t, res, 2)
			for i, r := range res {
				assert.Equal(t, i, r.Index)
				assert.ErrorIs(t, r.Err, throttle.ErrInvalidOption)
			}
		})
	}
	res := throttle.Map(ctx, s, reqs, statusOf, throttle.WithWorkers(-3))
	assert.ErrorContains(t, res[0].Err, "WithWorkers(-3)")
	res = throttle.Map(ctx, s, reqs, statusOf, throttle.WithWorkers(1<<30))
	assert.ErrorIs(t, res[1].Err, throttle.ErrInvalidOption)
}

// A large streamed input is held a look-ahead at a time: what has been
// read and not yet delivered stays bounded, and so do the goroutines.
func TestStreamBoundedMemory(t *testing.T) {
	s := newBulkSession(t, throttle.WithTransport(instantTransport{}))
	const n = 100_000
	const workers = 16
	var read, delivered atomic.Int64
	var maxAhead int64
	gen := func(yield func(*http.Request) bool) {
		for i := range n {
			if ahead := read.Add(1) - delivered.Load(); ahead > maxAhead {
				maxAhead = ahead
			}
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://h%d.example/", i%100), nil)
			if !yield(req) {
				return
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), bulkTimeout)
	defer cancel()
	before := runtime.NumGoroutine()
	maxG := 0
	for r := range throttle.Stream(ctx, s, gen, statusOf, throttle.WithWorkers(workers)) {
		require.NoError(t, r.Err)
		if delivered.Add(1)%1000 == 0 {
			maxG = max(maxG, runtime.NumGoroutine())
		}
	}
	assert.Equal(t, int64(n), delivered.Load())
	// The look-ahead is max(8 × workers, 1024), plus what the workers
	// and the result buffer hold.
	assert.LessOrEqual(t, maxAhead, int64(1024+3*workers+2))
	assert.LessOrEqual(t, maxG-before, workers+4)
}

// instantTransport answers every request at once, without a network, so
// that a test can stream many requests quickly.
type instantTransport struct{}

func (instantTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req, Header: http.Header{}}, nil
}

func waitForBulk(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bulkTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A request's own context keeps its values, a trace of its own included.
func TestStreamKeepsRequestContextValues(t *testing.T) {
	srv := testserver.Start(t, http.HandlerFunc(echoPath))
	s := newBulkSession(t)
	var gotConn atomic.Int64
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { gotConn.Add(1) }}
	reqs := make([]*http.Request, 3)
	for i := range reqs {
		ctx := httptrace.WithClientTrace(context.Background(), trace)
		reqs[i], _ = http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bulkTimeout)
	defer cancel()
	for _, r := range throttle.Map(ctx, s, reqs, statusOf, throttle.WithWorkers(1)) {
		require.NoError(t, r.Err)
	}
	assert.Equal(t, int64(3), gotConn.Load())
}
