// Command demo shows throttle's limits holding, measured at the server: it
// starts an embedded server on 127.0.0.1, sends a burst of concurrent GETs
// through a Session with a rate limit and a per-host concurrency limit,
// then uploads a multipart form through a rate-limited Payload, then lets
// a Session with no limits of its own learn a rate limit that the server
// states in its RateLimit-Policy header, and prints what the server saw.
//
//	go run ./examples/demo
//	go run ./examples/demo -n 400 -rate 100 -host-concurrency 3
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/middleware"
)

func main() {
	n := flag.Int("n", 300, "number of GET requests, all started at once")
	rate := flag.Int("rate", 100, "session rate limit: requests per second")
	hostConc := flag.Int("host-concurrency", 4, "requests in flight per host")
	upload := flag.Int64("upload", 256<<10, "upload rate in bytes per second")
	size := flag.Int64("size", 1<<20, "size of the uploaded file in bytes")
	serverRate := flag.Int("server-rate", 200, "the rate limit the server enforces and states, per second")
	flag.Parse()
	if err := run(*n, *rate, *hostConc, *upload, *size, *serverRate); err != nil {
		log.Fatal(err)
	}
}

func run(n, rate, hostConc int, upload, size int64, serverRate int) error {
	srv, err := newServer(serverRate)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	fmt.Printf("embedded server at %s\n\n", base)

	s, err := throttle.NewSession(
		throttle.WithBaseURL(base),
		throttle.WithRateLimit(rate, time.Second),
		throttle.WithHostConcurrency(hostConc),
		throttle.WithRetry(throttle.RetryPolicy{MaxRetries: 3}),
	)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := burst(s, srv, n, rate, hostConc); err != nil {
		return err
	}
	if err := uploadFile(s, srv, upload, size); err != nil {
		return err
	}
	return learn(base, srv, 3*serverRate, serverRate)
}

// learn sends n GETs at once through a Session with no limits to a path
// whose handler the middleware limits to serverRate per second; the
// Session learns the limit from the first response's RateLimit-Policy.
func learn(base string, srv *server, n, serverRate int) error {
	s, err := throttle.NewSession(throttle.WithBaseURL(base))
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Printf("\n%d GETs at once through a Session with no limits, to a server that allows %d per second\n", n, serverRate)
	fmt.Printf("and says so in RateLimit-Policy (the project's middleware):\n")
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range n {
		wg.Go(func() {
			resp, err := s.Get(context.Background(), "api")
			if err != nil {
				log.Print(err)
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
	st := s.Stats()
	fmt.Printf("  finished in %.2fs: %d answered 200, %d answered 429 (the server counted %d rejections)\n",
		time.Since(start).Seconds(), statuses[http.StatusOK], statuses[http.StatusTooManyRequests], srv.rejected.Load())
	fmt.Printf("  429s seen by the session: %d\n", st.Throttled)
	return nil
}

// burst starts n GETs at once and reports the rate and concurrency the
// server saw.
func burst(s *throttle.Session, srv *server, n, rate, hostConc int) error {
	fmt.Printf("%d GETs started at once, WithRateLimit(%d, time.Second), WithHostConcurrency(%d):\n", n, rate, hostConc)
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range n {
		wg.Go(func() {
			resp, err := s.Get(context.Background(), "work")
			if err != nil {
				failed.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	least := time.Duration((n-1)/rate) * time.Second
	fmt.Printf("  finished in %.2fs (the limit allows no less than %.2fs), %d failed\n", elapsed.Seconds(), least.Seconds(), failed.Load())
	fmt.Printf("  most requests starting in any 1 s window at the server: %d (limit %d)\n", srv.maxInWindow(time.Second), rate)
	fmt.Printf("  most requests in the handler at once: %d (limit %d)\n\n", srv.maxActive.Load(), hostConc)
	return nil
}

// uploadFile posts a multipart form with one file through a Payload
// capped at rate, and reports the rate the server received it at.
func uploadFile(s *throttle.Session, srv *server, rate, size int64) error {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("throttle-demo-%d.bin", os.Getpid()))
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		return err
	}
	defer os.Remove(path)
	form := throttle.NewMultipart()
	form.AddField("title", "backup")
	if err := form.AddFileFromPath("file", path); err != nil {
		return err
	}
	body, err := throttle.NewPayload(form, rate)
	if err != nil {
		return err
	}
	fmt.Printf("multipart upload of a %d KiB file through NewPayload(form, %d KiB/s), Content-Length %d:\n", size>>10, rate>>10, form.Size())
	resp, err := s.Post(context.Background(), "upload", form.ContentType(), body)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("  server: %s\n", msg)
	st := s.Stats()
	fmt.Printf("\nsession stats: %d requests, %d retries, %d bytes sent, %d bytes received, %d in flight\n",
		st.Requests, st.Retries, st.BytesSent, st.BytesReceived, st.InFlight)
	return nil
}

// server records when each request started and how many ran at once.
type server struct {
	mu        sync.Mutex
	starts    []time.Time
	active    atomic.Int64
	maxActive atomic.Int64
	api       http.Handler // behind the middleware's rate limit
	rejected  atomic.Int64
}

func newServer(rate int) (*server, error) {
	mw, err := middleware.New(middleware.WithRateLimit(rate, time.Second))
	if err != nil {
		return nil, err
	}
	s := &server{}
	s.api = mw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	return s, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/api":
		s.api.ServeHTTP(w, r)
		if w.Header().Get("X-Throttled-Reason") != "" {
			s.rejected.Add(1)
		}
	case "/work":
		s.mu.Lock()
		s.starts = append(s.starts, time.Now())
		s.mu.Unlock()
		now := s.active.Add(1)
		for m := s.maxActive.Load(); now > m && !s.maxActive.CompareAndSwap(m, now); m = s.maxActive.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		s.active.Add(-1)
		fmt.Fprintln(w, "ok")
	case "/upload":
		start := time.Now()
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer r.MultipartForm.RemoveAll()
		f, _, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got, _ := io.Copy(io.Discard, f)
		secs := time.Since(start).Seconds()
		fmt.Fprintf(w, "title=%q, file of %d bytes received in %.2fs = %.0f KiB/s", r.FormValue("title"), got, secs, float64(r.ContentLength)/secs/1024)
	default:
		http.NotFound(w, r)
	}
}

// maxInWindow is the most request starts in any window of length per.
func (s *server) maxInWindow(per time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := append([]time.Time(nil), s.starts...)
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
