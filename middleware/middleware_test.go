package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/go-throttle/throttle/middleware"
	"github.com/go-throttle/throttle/semaphore"
)

// The handler never has more than capacity requests in it; the rest wait
// and all are served once it opens.
func TestCapacityHolds(t *testing.T) {
	for _, capacity := range []int{1, 2, 3} {
		t.Run("capacity="+strconv.Itoa(capacity), func(t *testing.T) {
			g := newGate()
			defer g.release()
			th, srv := serve(t, g, middleware.WithCapacity(capacity))
			const n = 6
			results := make([]<-chan result, n)
			for i := range results {
				results[i] = goGet(context.Background(), srv, "/")
			}
			waitUntil(t, "capacity is full and the rest wait", func() bool {
				s := th.Stats()
				return s.InHandler == int64(capacity) && s.Waiting == int64(n-capacity)
			})
			g.release()
			for _, ch := range results {
				if r := <-ch; r.status != http.StatusOK {
					t.Errorf("status %d, want 200", r.status)
				}
			}
			if m := g.maxSeen.Load(); m > int64(capacity) {
				t.Errorf("%d requests in the handler at once, capacity %d", m, capacity)
			}
			if s := th.Stats(); s.Accepted != n || s.InHandler != 0 || s.Waiting != 0 {
				t.Errorf("Stats = %+v, want %d accepted, none in handler or waiting", s, n)
			}
		})
	}
}

// With the capacity used and the queue full, a request is turned away at
// once with 429, "queue full" and a Retry-After.
func TestQueueLimitRejects(t *testing.T) {
	tests := []struct {
		name       string
		queueLimit int
	}{
		{"queue=0", 0},
		{"queue=2", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate()
			defer g.release()
			th, srv := serve(t, g, middleware.WithCapacity(1), middleware.WithQueueLimit(tt.queueLimit))
			held := []<-chan result{goGet(context.Background(), srv, "/")}
			waitUntil(t, "one request in the handler", inHandler(th, 1))
			for i := 0; i < tt.queueLimit; i++ {
				held = append(held, goGet(context.Background(), srv, "/"))
				waitUntil(t, "the queue fills", waiting(th, int64(i+1)))
			}
			wantReject(t, get(t, srv, "/"), "queue full", "1")
			g.release()
			for _, ch := range held {
				if r := <-ch; r.status != http.StatusOK {
					t.Errorf("held request: status %d, want 200", r.status)
				}
			}
			s := th.Stats()
			if s.Rejected[middleware.ReasonQueueFull] != 1 || s.Accepted != uint64(tt.queueLimit+1) {
				t.Errorf("Stats = %+v", s)
			}
		})
	}
}

// A consumer at its share is rejected with "consumer quota" while capacity
// is free, and another consumer is still admitted.
func TestConsumerShare(t *testing.T) {
	g := newGate()
	defer g.release()
	th, srv := serve(t, g, middleware.WithCapacity(4), middleware.WithConsumerShare(0.5))
	a := []string{"X-Service-Name", "a"}
	held := []<-chan result{goGet(context.Background(), srv, "/", a...), goGet(context.Background(), srv, "/", a...)}
	waitUntil(t, "a holds its share", inHandler(th, 2))
	wantReject(t, get(t, srv, "/", a...), "consumer quota", "1")
	held = append(held, goGet(context.Background(), srv, "/", "X-Service-Name", "b"))
	waitUntil(t, "b is admitted", inHandler(th, 3))
	g.release()
	for _, ch := range held {
		if r := <-ch; r.status != http.StatusOK {
			t.Errorf("status %d, want 200", r.status)
		}
	}
	if got := th.Stats().Rejected[middleware.ReasonConsumerQuota]; got != 1 {
		t.Errorf("consumer quota rejections = %d, want 1", got)
	}
}

// Low-priority requests together are held to their share, with reason
// "priority quota", while normal ones are still admitted; also when
// consumer shares are set too and the reason must be told apart.
func TestPriorityShare(t *testing.T) {
	tests := []struct {
		name  string
		extra []middleware.Option
	}{
		{"priority share only", nil},
		{"with consumer share", []middleware.Option{middleware.WithConsumerShare(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate()
			defer g.release()
			opts := append([]middleware.Option{
				middleware.WithCapacity(4),
				middleware.WithPriorityShare(semaphore.PriorityLow, 0.5),
			}, tt.extra...)
			th, srv := serve(t, g, opts...)
			low := []string{"X-Request-Priority", "low", "X-Service-Name", "a"}
			var held []<-chan result
			for i := range 2 {
				held = append(held, goGet(context.Background(), srv, "/", low...))
				waitUntil(t, "low requests admitted", inHandler(th, int64(i+1)))
			}
			wantReject(t, get(t, srv, "/", low...), "priority quota", "1")
			held = append(held, goGet(context.Background(), srv, "/", "X-Service-Name", "a"))
			waitUntil(t, "a normal request is admitted", inHandler(th, 3))
			g.release()
			for _, ch := range held {
				if r := <-ch; r.status != http.StatusOK {
					t.Errorf("status %d, want 200", r.status)
				}
			}
		})
	}
}

// Exempt paths bypass a full capacity and are not counted; others do not.
func TestExempt(t *testing.T) {
	g := newGate()
	defer g.release()
	mux := http.NewServeMux()
	mux.Handle("/busy", g)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {})
	th, srv := serve(t, mux, middleware.WithCapacity(1), middleware.WithQueueLimit(0),
		middleware.WithExempt("/healthz", "/metrics/"))
	held := goGet(context.Background(), srv, "/busy")
	waitUntil(t, "capacity is full", inHandler(th, 1))
	tests := []struct {
		path   string
		status int
	}{
		{"/healthz", http.StatusOK},
		{"/metrics/", http.StatusOK},
		{"/metrics/cpu", http.StatusOK},
		{"/healthz/deep", http.StatusTooManyRequests},
		{"/metrics", http.StatusTooManyRequests},
		{"/other", http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run("path="+tt.path, func(t *testing.T) {
			if got := get(t, srv, tt.path).status; got != tt.status {
				t.Errorf("status %d, want %d", got, tt.status)
			}
		})
	}
	g.release()
	<-held
	if s := th.Stats(); s.Accepted != 1 || s.Rejected[middleware.ReasonQueueFull] != 3 {
		t.Errorf("Stats = %+v, want 1 accepted and 3 rejected", s)
	}
}

// A queued request whose client goes away leaves the queue at once and
// never reaches the handler.
func TestClientGoneWhileQueued(t *testing.T) {
	g := newGate()
	defer g.release()
	th, srv := serve(t, g, middleware.WithCapacity(1))
	held := goGet(context.Background(), srv, "/")
	waitUntil(t, "capacity is full", inHandler(th, 1))

	ctx, cancel := context.WithCancel(context.Background())
	gone := goGet(ctx, srv, "/")
	waitUntil(t, "the second request waits", waiting(th, 1))
	cancel()
	if r := <-gone; r.status != -1 {
		t.Errorf("cancelled request got status %d, want a client error", r.status)
	}
	waitUntil(t, "the server sees the client gone", func() bool { return th.Stats().Cancelled == 1 })
	if s := th.Stats(); s.Waiting != 0 {
		t.Errorf("Waiting = %d after the client went away, want 0", s.Waiting)
	}
	g.release()
	<-held
	if n := g.calls.Load(); n != 1 {
		t.Errorf("handler called %d times, want 1", n)
	}
}

// In-process, the request whose context ends while it waits gets 499.
func TestClientGoneStatus(t *testing.T) {
	g := newGate()
	defer g.release()
	th, err := middleware.New(middleware.WithCapacity(1))
	if err != nil {
		t.Fatal(err)
	}
	h := th.Wrap(g)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	waitUntil(t, "capacity is full", inHandler(th, 1))
	ctx, cancel := context.WithCancel(context.Background())
	rec := httptest.NewRecorder()
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	}()
	waitUntil(t, "the second request waits", waiting(th, 1))
	cancel()
	<-waited
	if rec.Code != middleware.StatusClientClosedRequest {
		t.Errorf("status %d, want %d", rec.Code, middleware.StatusClientClosedRequest)
	}
	g.release()
	<-done
	if n := g.calls.Load(); n != 1 {
		t.Errorf("handler called %d times, want 1", n)
	}
}

// A handler that panics still gives its capacity back.
func TestPanicReleasesCapacity(t *testing.T) {
	th, err := middleware.New(middleware.WithCapacity(1), middleware.WithQueueLimit(0))
	if err != nil {
		t.Fatal(err)
	}
	h := th.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic(http.ErrAbortHandler)
		}
	}))
	func() {
		defer func() { _ = recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/panic", nil))
	}()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("status %d after a panic, want 200", rec.Code)
	}
	if s := th.Stats(); s.InHandler != 0 || s.Accepted != 2 {
		t.Errorf("Stats = %+v", s)
	}
}
