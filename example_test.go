package throttle_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle"
)

// NewSession composes the limits of a published API quota into one client.
func ExampleNewSession() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	s, err := throttle.NewSession(
		throttle.WithRateLimit(50, time.Second), // at most 50 requests start in any 1 s window
		throttle.WithMaxConcurrency(20),         // all hosts together
		throttle.WithHostConcurrency(4),         // each host
		throttle.WithRetry(throttle.RetryPolicy{MaxRetries: 3}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			resp, err := s.Get(context.Background(), srv.URL)
			if err != nil {
				log.Print(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	st := s.Stats()
	fmt.Println("requests:", st.Requests, "in flight:", st.InFlight)
	// Output: requests: 10 in flight: 0
}

// Invalid options are errors, never panics, and every one is reported.
func ExampleNewSession_invalidOptions() {
	_, err := throttle.NewSession(throttle.WithRateLimit(0, time.Second), throttle.WithHostConcurrency(-1))
	fmt.Println(err)
	// Output:
	// throttle: invalid option: WithRateLimit(n=0): n must be positive
	// throttle: invalid option: WithHostConcurrency(-1): n must be positive
}

// Get sends one request; its body must be closed, which frees its slot.
func ExampleSession_Get() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from "+r.URL.Path)
	}))
	defer srv.Close()

	s, err := throttle.NewSession(throttle.WithBaseURL(srv.URL+"/v1"), throttle.WithHostConcurrency(2))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	resp, err := s.Get(context.Background(), "items")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello from /v1/items
}

// A POST is retried after a 503 only when it carries an Idempotency-Key,
// which a request option sets; without one, the server may have acted on
// it, so the 503 is the answer.
func ExampleSession_Post() {
	var attempts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if attempts.Add(1) == 1 { // each call's first attempt fails
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()

	s, err := throttle.NewSession(throttle.WithRetry(throttle.RetryPolicy{
		MaxRetries: 3, MinWait: time.Millisecond, MaxWait: 10 * time.Millisecond}))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for _, opts := range [][]throttle.RequestOption{
		nil,
		{throttle.WithRequestHeader("Idempotency-Key", "order-42")},
	} {
		attempts.Store(0)
		resp, err := s.Post(context.Background(), srv.URL+"/orders", "application/json",
			strings.NewReader(`{"item":"book"}`), opts...)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println("status:", resp.StatusCode, "attempts:", attempts.Load())
	}
	// Output:
	// status: 503 attempts: 1
	// status: 201 attempts: 2
}

// A Transport throttles any client or SDK that takes an http.RoundTripper
// or an *http.Client.
func ExampleTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()

	rt, err := throttle.NewTransport(nil, throttle.WithHostConcurrency(2), throttle.WithRateLimit(100, time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer rt.CloseIdleConnections()
	client := &http.Client{Transport: rt}
	for range 3 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
	}
	fmt.Println("attempts:", rt.Stats().Requests)
	// Output: attempts: 3
}

// A multipart upload streamed at a capped rate, with its length known.
func Example_upload() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f, hdr, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n, _ := io.Copy(io.Discard, f)
		fmt.Fprintf(w, "title=%s file=%s bytes=%d chunked=%v", r.FormValue("title"), hdr.Filename, n, len(r.TransferEncoding) > 0)
	}))
	defer srv.Close()

	s, err := throttle.NewSession(throttle.WithUploadLimit(4 << 20))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	form := throttle.NewMultipart()
	form.AddField("title", "backup")
	form.AddFile("file", "data.bin", strings.NewReader(strings.Repeat("x", 64<<10)))
	body, err := throttle.NewPayload(form, 1<<20) // this upload: 1 MiB/s at most
	if err != nil {
		log.Fatal(err)
	}
	resp, err := s.Post(context.Background(), srv.URL, form.ContentType(), body)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	fmt.Println(string(msg))
	// Output: title=backup file=data.bin bytes=65536 chunked=false
}

// What a server says about its host applies to every caller of that host:
// after one 429 with Retry-After, the next caller waits for the pause
// instead of being turned away too.
func ExampleWithServerFeedback() {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0.2")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()

	s, err := throttle.NewSession() // feedback is on by default
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for range 2 {
		resp, err := s.Get(context.Background(), srv.URL)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	fmt.Println("429s seen:", s.Stats().Throttled)
	// Output:
	// 429
	// 200
	// 429s seen: 1
}

// Interactive calls marked PriorityHigh overtake a bulk job at
// PriorityLow that shares the session; WithQueueLimit turns callers away
// at once when too many already wait.
func ExampleWithPriority() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()

	s, err := throttle.NewSession(throttle.WithRateLimit(100, time.Second), throttle.WithQueueLimit(1000))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	bulk := throttle.WithPriority(context.Background(), throttle.PriorityLow)
	interactive := throttle.WithPriority(context.Background(), throttle.PriorityHigh)
	for _, ctx := range []context.Context{bulk, interactive} {
		resp, err := s.Get(ctx, srv.URL)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 200
	// 200
}

// WithSharedConcurrency takes any ConcurrencyLimiter: here a channel, in
// production a redislimit.Semaphore that every replica shares.
func ExampleWithSharedConcurrency() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	s, err := throttle.NewSession(throttle.WithSharedConcurrency(chanLimiter(make(chan struct{}, 2))))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	resp, err := s.Get(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	// Output: ok
}

// chanLimiter is a ConcurrencyLimiter of cap(c) slots.
type chanLimiter chan struct{}

func (c chanLimiter) Acquire(ctx context.Context) (func(), error) {
	select {
	case c <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-c }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
