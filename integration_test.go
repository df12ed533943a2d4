package throttle_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/internal/testserver"
	"github.com/go-throttle/throttle/middleware"
	"github.com/stretchr/testify/require"
)

// throttledServer is the project's middleware in front of a trivial
// handler, logging when it read each request and what it answered.
func throttledServer(t *testing.T, log *wireLog, opts ...middleware.Option) *httptest.Server {
	t.Helper()
	mw, err := middleware.New(opts...)
	require.NoError(t, err)
	h := mw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	return testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		read := time.Now()
		rw := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rw, r)
		log.served(r.Header.Get(wireID), read, rw.status)
	}))
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// wireID names a request to the server, so that wireLog can pair the
// client's sending with the server's read.
const wireID = "X-Test-ID"

// wireLog records, for each request of parallelGets, when the client
// sent it and when the server read it, with the status it answered:
// client and server share the process, and so the clock. Sent is when
// the request got its connection: after the Session granted it, and
// before its headers were written, when the Session counts it from.
type wireLog struct {
	mu    sync.Mutex
	sent  map[string]time.Time
	reads []wireRead
}

type wireRead struct {
	id     string
	at     time.Time
	status int
}

func (l *wireLog) gotConn(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sent == nil {
		l.sent = make(map[string]time.Time)
	}
	if _, ok := l.sent[id]; !ok {
		l.sent[id] = time.Now()
	}
}

func (l *wireLog) served(id string, at time.Time, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads = append(l.reads, wireRead{id, at, status})
}

// mostInWindow is the most requests the server read in any window of
// length per, counting each at its read or, if it read it later than
// guard after the client sent it, at its sending plus guard; and how many
// it read that late, and the longest such delay.
//
// That is what a Session promises a server: its window counts a request
// from its grant, before it is sent, until per plus its guard after its
// headers are written, after it is sent; so a server that reads every
// request within the guard of its sending never counts more than n in a
// window of length per, and never answers 429. This server,
// a goroutine of the test's process, reads later when the machine is
// busy (tens to hundreds of milliseconds under -race with other tests
// running), and may then count more, and answer 429, whatever a client
// does. Held to the guard, it counts no more than n from a Session, and
// more from a client that sends more.
func (l *wireLog) mostInWindow(per, guard time.Duration) (most, late int, worst time.Duration) {
	l.mu.Lock()
	ts := make([]time.Time, 0, len(l.reads))
	for _, r := range l.reads {
		at := r.at
		if sent, ok := l.sent[r.id]; ok && at.Sub(sent) > guard {
			late++
			worst = max(worst, at.Sub(sent))
			at = sent.Add(guard)
		}
		ts = append(ts, at)
	}
	l.mu.Unlock()
	slices.SortFunc(ts, time.Time.Compare)
	lo := 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= per {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	return most, late, worst
}

// parallelGets sends n GETs at once and counts the statuses, logging when
// each request was sent.
func parallelGets(t *testing.T, s *throttle.Session, url string, n int, log *wireLog) map[int]int {
	t.Helper()
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := strconv.Itoa(i)
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				GotConn: func(httptrace.GotConnInfo) { log.gotConn(id) },
			})
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set(wireID, id)
			resp, err := s.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return statuses
}

// heldToGuard checks that every one of n requests got a 200 or a 429,
// and that the server, held to the Session's guard (see mostInWindow),
// counted at most limit in any window of length per.
func heldToGuard(t *testing.T, log *wireLog, statuses map[int]int, n, limit int, per time.Duration) {
	t.Helper()
	require.Equal(t, n, statuses[http.StatusOK]+statuses[http.StatusTooManyRequests], "statuses %v", statuses)
	// A Session's default window guard, less the millisecond by which the
	// middleware rounds its stamps up (and so counts them longer).
	guard := min(per/100, 10*time.Millisecond) - time.Millisecond
	most, late, worst := log.mostInWindow(per, guard)
	t.Logf("statuses %v; at most %d in any %v at the server, held to the guard; it read %d of %d more than %v after their sending, at worst %v",
		statuses, most, per, late, n, guard, worst.Round(time.Millisecond))
	require.LessOrEqual(t, most, limit, "requests in a window of %v at the server, held to the guard", per)
}

// The Session against the middleware with the same limits on both sides:
// thousands of parallel requests, no more than the limit in any window
// where the server counts, held to the guard (see mostInWindow), and so
// no 429 unless the server read requests late.
func TestSessionAgainstMiddlewareSameLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 4 s")
	}
	log := &wireLog{}
	srv := throttledServer(t, log, middleware.WithRateLimit(500, time.Second), middleware.WithCapacity(16))
	s, err := throttle.NewSession(throttle.WithRateLimit(500, time.Second), throttle.WithHostConcurrency(16))
	require.NoError(t, err)
	defer s.Close()
	statuses := parallelGets(t, s, srv.URL, 2000, log)
	heldToGuard(t, log, statuses, 2000, 500, time.Second)
}

// With no limits on the client, the Session learns the server's stated
// policy on first contact, and keeps to it as
// TestSessionAgainstMiddlewareSameLimits does.
func TestSessionLearnsMiddlewarePolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 4 s")
	}
	log := &wireLog{}
	srv := throttledServer(t, log, middleware.WithRateLimit(500, time.Second))
	s, err := throttle.NewSession()
	require.NoError(t, err)
	defer s.Close()
	statuses := parallelGets(t, s, srv.URL, 2000, log)
	heldToGuard(t, log, statuses, 2000, 500, time.Second)
	require.EqualValues(t, statuses[http.StatusTooManyRequests], s.Stats().Throttled)
}
