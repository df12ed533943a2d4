package throttle

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/stretchr/testify/require"
)

// routeServer keeps Discord's buckets: quota requests per window on each
// route, the route's path naming its bucket (routes listed in shared
// share one), and answers in Discord's fields. The test ends a window
// with next.
type routeServer struct {
	quota  int
	shared map[string]string // path: the bucket it shares
	global bool              // answer every refusal as of the global limit

	mu       sync.Mutex
	count    map[string]int // in the window, per bucket
	served   map[string]int // per path, ever
	refused  int
	inFlight map[string]int
}

func newRouteServer(quota int) *routeServer {
	return &routeServer{quota: quota, count: map[string]int{}, served: map[string]int{}, inFlight: map[string]int{}}
}

func (s *routeServer) bucketOf(path string) string {
	if b, ok := s.shared[path]; ok {
		return b
	}
	return path
}

func (s *routeServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketOf(r.URL.Path)
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.quota))
	h.Set("X-RateLimit-Reset-After", "1.000")
	h.Set("X-RateLimit-Bucket", b)
	if s.count[b] >= s.quota {
		s.refused++
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("Retry-After", "1")
		if s.global {
			h.Set("X-RateLimit-Global", "true")
		}
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	s.count[b]++
	s.served[r.URL.Path]++
	h.Set("X-RateLimit-Remaining", strconv.Itoa(s.quota-s.count[b]))
}

// next ends the window of every bucket.
func (s *routeServer) next() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.count)
}

func (s *routeServer) servedOn(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[path]
}

// Issue 9: a server that keeps its counts per route bucket
// (X-RateLimit-Bucket) has them kept per bucket: one route's spent budget
// does not hold the host's other routes back, and each route's callers go
// as its own bucket allows, with no refusal.
func TestRouteBucketsKeepTheirOwnBudget(t *testing.T) {
	fake := clock.NewFake(t0)
	srv := newRouteServer(3)
	rec := newRecorder(t, srv.serve)
	s := newTestSession(t, WithClock(fake))
	ctx := context.Background()
	// First contact with the host, on route a.
	status, err := getOne(ctx, s, rec.URL+"/a")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	waitA := getAll(ctx, s, rec.URL+"/a", 8)
	waitB := getAll(ctx, s, rec.URL+"/b", 9)
	waitFor(t, "each route's bucket spent", func() bool {
		return srv.servedOn("/a") == 3 && srv.servedOn("/b") == 3 && s.Stats().Waiting == 12 && s.Stats().InFlight == 0
	})
	for window := 1; window <= 2; window++ {
		srv.next()
		fake.Advance(time.Second)
		waitFor(t, "the next window's", func() bool {
			return srv.servedOn("/a") == 3+3*window && srv.servedOn("/b") == 3+3*window && s.Stats().InFlight == 0
		})
	}
	noErrors(t, waitA())
	noErrors(t, waitB())
	require.Zero(t, srv.refused)
	require.Zero(t, rec.count.Load()-int64(srv.servedOn("/a")+srv.servedOn("/b")))
}

// The routes that name one bucket share its budget.
func TestRoutesSharingABucket(t *testing.T) {
	fake := clock.NewFake(t0)
	srv := newRouteServer(4)
	srv.shared = map[string]string{"/a": "ab", "/b": "ab"}
	rec := newRecorder(t, srv.serve)
	s := newTestSession(t, WithClock(fake))
	ctx := context.Background()
	for _, path := range []string{"/a", "/b"} { // each route's first contact
		_, err := getOne(ctx, s, rec.URL+path)
		require.NoError(t, err)
	}
	waitA := getAll(ctx, s, rec.URL+"/a", 3)
	waitB := getAll(ctx, s, rec.URL+"/b", 3)
	waitFor(t, "the shared bucket spent", func() bool {
		return srv.servedOn("/a")+srv.servedOn("/b") == 4 && s.Stats().Waiting == 4 && s.Stats().InFlight == 0
	})
	srv.next()
	fake.Advance(time.Second)
	noErrors(t, waitA())
	noErrors(t, waitB())
	require.Zero(t, srv.refused)
}

// A route whose bucket is not known yet goes as a new host does: its
// first request alone, the others once it has answered.
func TestNewRouteFirstContact(t *testing.T) {
	fake := clock.NewFake(t0)
	srv := newRouteServer(5)
	release, open := newLatch()
	defer open()
	var first sync.Once
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/b" {
			first.Do(func() { <-release })
		}
		srv.serve(w, r)
	})
	s := newTestSession(t, WithClock(fake))
	ctx := context.Background()
	_, err := getOne(ctx, s, rec.URL+"/a")
	require.NoError(t, err)
	wait := getAll(ctx, s, rec.URL+"/b", 8)
	waitFor(t, "route b's first request alone", func() bool { return s.Stats().InFlight == 1 && s.Stats().Waiting == 7 })
	open()
	waitFor(t, "b's bucket spent", func() bool { return srv.servedOn("/b") == 5 && s.Stats().InFlight == 0 })
	srv.next()
	fake.Advance(time.Second)
	noErrors(t, wait())
	require.Zero(t, srv.refused)
}

// A route bucket's refusal pauses that bucket, not the host; a refusal of
// the global limit pauses the host.
func TestRouteRefusalPausesItsBucket(t *testing.T) {
	for _, global := range []bool{false, true} {
		t.Run("global="+strconv.FormatBool(global), func(t *testing.T) {
			fake := clock.NewFake(t0)
			srv := newRouteServer(1)
			srv.global = global
			rec := newRecorder(t, srv.serve)
			s := newTestSession(t, WithClock(fake))
			ctx := context.Background()
			for _, path := range []string{"/a", "/b"} {
				_, err := getOne(ctx, s, rec.URL+path)
				require.NoError(t, err)
			}
			// In the next window, another client spends a's bucket first:
			// the server refuses.
			srv.next()
			srv.mu.Lock()
			srv.count["/a"] = 1
			srv.mu.Unlock()
			fake.Advance(time.Second) // both budgets renewed
			status, err := getOne(ctx, s, rec.URL+"/a")
			require.NoError(t, err)
			require.Equal(t, http.StatusTooManyRequests, status)
			if global {
				require.EqualValues(t, 1, s.Stats().Paused, "a global refusal pauses the host")
				return
			}
			require.Zero(t, s.Stats().Paused, "a bucket's refusal pauses the bucket only")
			status, err = getOne(ctx, s, rec.URL+"/b")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, status)
			waitA := getAll(ctx, s, rec.URL+"/a", 1)
			waitFor(t, "a waiting for its pause", func() bool { return s.Stats().Waiting == 1 })
			srv.next()
			fake.Advance(time.Second)
			noErrors(t, waitA())
		})
	}
}
