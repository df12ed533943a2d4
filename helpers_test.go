package throttle

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/testserver"
)

// recorder is a test server that records when each request arrived and
// how many ran in its handler at once.
type recorder struct {
	*httptest.Server
	mu        sync.Mutex
	arrivals  []time.Time
	count     atomic.Int64
	active    atomic.Int64
	maxActive atomic.Int64
	// handle, if set, answers the request after it is recorded.
	handle func(w http.ResponseWriter, r *http.Request)
}

func newRecorder(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *recorder {
	t.Helper()
	rec := &recorder{handle: handle}
	rec.Server = testserver.Start(t, http.HandlerFunc(rec.serve))
	return rec
}

func (rec *recorder) serve(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.arrivals = append(rec.arrivals, time.Now())
	rec.mu.Unlock()
	rec.count.Add(1)
	now := rec.active.Add(1)
	for m := rec.maxActive.Load(); now > m && !rec.maxActive.CompareAndSwap(m, now); m = rec.maxActive.Load() {
	}
	defer rec.active.Add(-1)
	if rec.handle != nil {
		rec.handle(w, r)
		return
	}
	io.WriteString(w, "ok")
}

// maxInWindow is the most arrivals in any window of length per.
func (rec *recorder) maxInWindow(per time.Duration) int {
	rec.mu.Lock()
	ts := append([]time.Time(nil), rec.arrivals...)
	rec.mu.Unlock()
	return maxInWindow(ts, per)
}

func maxInWindow(ts []time.Time, per time.Duration) int {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= per {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// waitFor polls cond until it holds or a generous deadline passes; tests
// use it to know that goroutines have reached a state, never to wait out
// time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// drain reads and closes a response body.
func drain(resp *http.Response) {
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// newLatch returns a channel that handlers block on and a function that
// opens it, which may be called more than once. Tests defer the opener,
// so that a failed assertion releases the handlers before the server's
// cleanup waits for them (deferred calls run before t.Cleanup's).
func newLatch() (<-chan struct{}, func()) {
	ch := make(chan struct{})
	var once sync.Once
	return ch, func() { once.Do(func() { close(ch) }) }
}
