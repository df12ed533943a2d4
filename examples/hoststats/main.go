// Command hoststats runs a job against three local servers and prints each
// host's figures (Session.Hosts) while it runs: what is in flight and
// waiting, the 429s seen, the pause, and the limits in force with where
// they come from. The servers are on 127.0.0.1:
//
//   - "fast" answers everything at once;
//   - "strict" lets at most 20 requests a second through (package
//     middleware) and answers the rest 429 with Retry-After;
//   - "policy" states its quota, 10 requests per second, in
//     RateLimit-Policy, which the session learns and keeps to.
//
// The session's logger (WithLogger, at Info) prints each pause and each
// limit learned on stderr as it happens.
//
//	go run ./examples/hoststats
//	go run ./examples/hoststats -n 300 -every 500ms
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/middleware"
)

func main() {
	n := flag.Int("n", 100, "requests to each server")
	workers := flag.Int("workers", 24, "requests in flight at most, all hosts together")
	every := flag.Duration("every", 250*time.Millisecond, "how often to print the figures")
	timeout := flag.Duration("timeout", time.Minute, "bound on the whole job")
	flag.Parse()

	strict, err := middleware.New(middleware.WithRateLimit(20, time.Second))
	if err != nil {
		log.Fatal(err)
	}
	servers := map[string]string{
		"fast":   serve(http.HandlerFunc(ok)),
		"strict": serve(strict.Wrap(http.HandlerFunc(ok))),
		"policy": serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("RateLimit-Policy", `"default";q=10;w=1`)
			ok(w, r)
		})),
	}
	names := map[string]string{} // host key -> server name
	for name, u := range servers {
		names[u[len("http://"):]] = name
	}

	s, err := throttle.NewSession(
		throttle.WithMaxConcurrency(*workers),
		throttle.WithHostConcurrency(8),
		throttle.WithRetry(throttle.RetryPolicy{MaxRetries: 5}),
		throttle.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		job(ctx, s, servers, *n, *workers)
	}()
	start := time.Now()
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for {
		select {
		case <-done:
			print(s, names, time.Since(start))
			st := s.Stats()
			fmt.Printf("done: %d attempts, %d retries, %d throttled\n", st.Requests, st.Retries, st.Throttled)
			return
		case <-tick.C:
			print(s, names, time.Since(start))
		}
	}
}

// job sends n GETs to each server from a pool of workers.
func job(ctx context.Context, s *throttle.Session, servers map[string]string, n, workers int) {
	urls := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for u := range urls {
				resp, err := s.Get(ctx, u)
				if err != nil {
					continue // a request past its deadline; the figures show why
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	for i := range n {
		for _, name := range []string{"fast", "strict", "policy"} {
			select {
			case urls <- fmt.Sprintf("%s/item/%d", servers[name], i):
			case <-ctx.Done():
			}
		}
	}
	close(urls)
	wg.Wait()
}

// print writes one line per host.
func print(s *throttle.Session, names map[string]string, at time.Duration) {
	var lines []string
	for hs := range s.Hosts() {
		paused := "-"
		if d := time.Until(hs.PausedUntil); d > 0 {
			paused = d.Round(time.Millisecond).String()
		}
		lines = append(lines, fmt.Sprintf("  %-6s in flight %2d  waiting %3d  429s %3d  retries %3d  paused %-6s  concurrency %-22v  rate %v",
			names[hs.Host], hs.InFlight, hs.Waiting, hs.TooManyRequests, hs.Retries, paused, hs.Concurrency, hs.Rate))
	}
	slices.Sort(lines)
	fmt.Printf("%5.2fs\n", at.Seconds())
	for _, l := range lines {
		fmt.Println(l)
	}
}

// serve starts h on 127.0.0.1 and returns its URL. The servers live as
// long as the program.
func serve(h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
	return "http://" + ln.Addr().String()
}

// ok is a little work and a short answer.
func ok(w http.ResponseWriter, r *http.Request) {
	time.Sleep(5 * time.Millisecond)
	io.WriteString(w, "ok\n")
}
