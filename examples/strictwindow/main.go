// Command strictwindow measures how well WithRateLimit holds where the
// server counts, on fresh connections: for each run it starts a new plain
// net/http server on 127.0.0.1, fires all requests at once through a new
// Session with WithRateLimit(rate, per), records the instant each request
// reaches the server's handler, and prints the most arrivals the server
// saw in any window of length per (it must not exceed rate), next to the
// most header writes the client made in any such window.
//
//	go run ./examples/strictwindow
//	go run ./examples/strictwindow -runs 10 -n 1500 -rate 500 -per 1s
//	go run ./examples/strictwindow -guard 0   # no guard: strict at the client only
//
// Every run is bounded by -timeout, and the program exits with status 1
// if any run's server-side window held more than rate requests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/go-throttle/throttle"
)

func main() {
	runs := flag.Int("runs", 10, "number of runs, each against a fresh server and a fresh Session")
	n := flag.Int("n", 1500, "requests per run, all started at once")
	rate := flag.Int("rate", 500, "WithRateLimit's n: requests per window")
	per := flag.Duration("per", time.Second, "WithRateLimit's window")
	guard := flag.Duration("guard", -1, "WithWindowGuard's d; negative means the default guard")
	timeout := flag.Duration("timeout", time.Minute, "bound on each run")
	flag.Parse()
	opts := []throttle.Option{throttle.WithRateLimit(*rate, *per)}
	if *guard >= 0 {
		opts = append(opts, throttle.WithWindowGuard(*guard))
	}
	over := false
	for i := 1; i <= *runs; i++ {
		r, err := run(*n, *per, *timeout, opts)
		if err != nil {
			log.Fatalf("run %d: %v", i, err)
		}
		fmt.Printf("run %2d: server worst %v window %4d, client worst %4d, %d requests in %v\n",
			i, *per, r.server, r.client, r.served, r.elapsed.Round(time.Millisecond))
		over = over || r.server > *rate
	}
	if over {
		fmt.Printf("some server-side window held more than %d requests\n", *rate)
		os.Exit(1)
	}
}

type result struct {
	server, client, served int
	elapsed                time.Duration
}

// run sends n requests at once through a new Session made with opts to a
// new server, and reports the worst windows of length per seen on both
// sides.
func run(n int, per, timeout time.Duration, opts []throttle.Option) (result, error) {
	var arrivals, writes stamps
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrivals.add(time.Now())
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	defer srv.Close()

	s, err := throttle.NewSession(opts...)
	if err != nil {
		return result{}, err
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: func() { writes.add(time.Now()) },
	})
	url := "http://" + ln.Addr().String() + "/"
	start := time.Now()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { errs <- get(ctx, s, url) })
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if err := errors.Join(all...); err != nil {
		return result{}, err
	}
	return result{
		server:  arrivals.maxIn(per),
		client:  writes.maxIn(per),
		served:  arrivals.len(),
		elapsed: time.Since(start),
	}, nil
}

func get(ctx context.Context, s *throttle.Session, url string) error {
	resp, err := s.Get(ctx, url)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// stamps collects instants from many goroutines.
type stamps struct {
	mu sync.Mutex
	ts []time.Time
}

func (s *stamps) add(t time.Time) { s.mu.Lock(); s.ts = append(s.ts, t); s.mu.Unlock() }

func (s *stamps) len() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.ts) }

// maxIn is the most instants in any window [t, t+per).
func (s *stamps) maxIn(per time.Duration) int {
	s.mu.Lock()
	ts := append([]time.Time(nil), s.ts...)
	s.mu.Unlock()
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
