package main

import (
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-throttle/throttle/middleware"
	"github.com/go-throttle/throttle/ratelimit"
)

// arrival is one request as the demo's server saw it.
type arrival struct {
	at     time.Duration // since the server started
	status int
}

// demoServer is a local server for one run: it records every arrival.
type demoServer struct {
	url   string
	srv   *http.Server
	began time.Time

	mu       sync.Mutex
	arrivals []arrival
	// for the upload: bytes received, first and last byte
	bytes       int64
	first, last time.Time
}

func (d *demoServer) record(status int) {
	d.mu.Lock()
	d.arrivals = append(d.arrivals, arrival{at: time.Since(d.began), status: status})
	d.mu.Unlock()
}

func (d *demoServer) snapshot() []arrival {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]arrival(nil), d.arrivals...)
}

func (d *demoServer) close() { d.srv.Close() }

// startDemoServer serves h on 127.0.0.1.
func startDemoServer(h func(d *demoServer) (http.Handler, error)) (*demoServer, error) {
	d := &demoServer{}
	handler, err := h(d)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d.url, d.began = "http://"+ln.Addr().String(), time.Now()
	d.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go d.srv.Serve(ln)
	return d, nil
}

// statusRecorder keeps the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// statedAPI is the project's middleware in front of a small JSON handler:
// at most limit requests in any second, stated in RateLimit-Policy and
// RateLimit on every response, with Retry-After on its 429s. Each server
// gets a middleware of its own, so that no run inherits another's window.
func statedAPI(limit int) func(d *demoServer) (http.Handler, error) {
	return func(d *demoServer) (http.Handler, error) {
		th, err := middleware.New(middleware.WithRateLimit(limit, time.Second))
		if err != nil {
			return nil, err
		}
		api := th.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ok":true}`)
		}))
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sr := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			api.ServeHTTP(sr, r)
			d.record(sr.status)
		}), nil
	}
}

// bareAPI allows at most limit requests in any second too, but says
// nothing: its 429s carry no Retry-After and no rate-limit fields, as
// many servers' do (nginx limit_req, HAProxy stick tables).
func bareAPI(limit int) func(d *demoServer) (http.Handler, error) {
	return func(d *demoServer) (http.Handler, error) {
		win, err := ratelimit.NewWindow(limit, time.Second)
		if err != nil {
			return nil, err
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !win.TryAcquire(1) {
				w.WriteHeader(http.StatusTooManyRequests)
				d.record(http.StatusTooManyRequests)
				return
			}
			io.WriteString(w, `{"ok":true}`)
			d.record(http.StatusOK)
		}), nil
	}
}

// uploadSink reads request bodies to nowhere, timing their bytes.
func uploadSink(d *demoServer) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				d.mu.Lock()
				now := time.Now()
				if d.first.IsZero() {
					d.first = now
				}
				d.last = now
				d.bytes += int64(n)
				d.mu.Unlock()
			}
			if err != nil {
				break
			}
		}
		d.record(http.StatusOK)
	}), nil
}
