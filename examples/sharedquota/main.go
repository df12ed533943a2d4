// Command sharedquota shows several workers sharing one API key's quota
// through Redis: each worker stands for a replica of a service, with its
// own Session, and they all draw on one redislimit.Window (at most -rate
// requests in any window of -per) and one redislimit.Semaphore (at most
// -conc in flight), keyed by the API key. A local server counts what
// arrives; the program prints what each worker sent and what the server
// saw, and exits with status 1 if the server saw more than the quota.
//
//	go run ./examples/sharedquota
//	go run ./examples/sharedquota -workers 8 -rate 100 -per 1s -for 5s
//	go run ./examples/sharedquota -redis 127.0.0.1:6379   # a Redis you run
//
// Without -redis it starts its own redis-server (no persistence, on a
// free loopback port) when one is installed, and stops it at the end.
// Install one with `apt-get install redis-server` (Debian, Ubuntu) or
// `brew install redis` (macOS).
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
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/redislimit"
)

func main() {
	addr := flag.String("redis", "", "address of a Redis to use; empty: start a redis-server")
	workers := flag.Int("workers", 4, "workers (replicas), each with its own Session")
	rate := flag.Int("rate", 50, "the key's quota: requests per window")
	per := flag.Duration("per", time.Second, "the quota's window")
	conc := flag.Int("conc", 8, "the key's concurrency limit")
	run := flag.Duration("for", 3*time.Second, "how long the workers send")
	flag.Parse()
	if err := mainErr(*addr, *workers, *rate, *per, *conc, *run); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func mainErr(addr string, workers, rate int, per time.Duration, conc int, run time.Duration) error {
	if addr == "" {
		stop, a, err := startRedis()
		if err != nil {
			return err
		}
		defer stop()
		addr = a
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", addr, err)
	}

	// The API: counts arrivals and requests in flight.
	var mu sync.Mutex
	var arrivals []time.Time
	var active, maxActive atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := active.Add(1)
		defer active.Add(-1)
		for m := maxActive.Load(); n > m && !maxActive.CompareAndSwap(m, n); m = maxActive.Load() {
		}
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		io.WriteString(w, "ok")
	}))
	defer api.Close()

	// Every key of the quota is named after the API key, so that every
	// replica using it shares it.
	const apiKey = "api-key-1234"
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	sent := make([]int64, workers)
	var wg sync.WaitGroup
	for i := range workers {
		// A replica: its own Window, Semaphore and Session.
		window, err := redislimit.NewWindow(rdb, "quota:"+apiKey, rate, per)
		if err != nil {
			return err
		}
		defer window.Close()
		slots, err := redislimit.NewSemaphore(rdb, "conc:"+apiKey, conc)
		if err != nil {
			return err
		}
		defer slots.Close()
		s, err := throttle.NewSession(throttle.WithLimiter(window), throttle.WithSharedConcurrency(slots))
		if err != nil {
			return err
		}
		defer s.Close()
		for range 4 { // each replica sends from 4 goroutines
			wg.Go(func() {
				for ctx.Err() == nil {
					resp, err := s.Get(ctx, api.URL)
					if err != nil {
						if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
							log.Printf("worker %d: %v", i, err)
						}
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					atomic.AddInt64(&sent[i], 1)
				}
			})
		}
	}
	wg.Wait()

	mu.Lock()
	most := maxIn(arrivals, per)
	total := len(arrivals)
	mu.Unlock()
	for i, n := range sent {
		fmt.Printf("worker %d sent %d\n", i, n)
	}
	fmt.Printf("the API saw %d requests in %v: at most %d in any %v (quota %d), at most %d in flight (limit %d)\n",
		total, run, most, per, rate, maxActive.Load(), conc)
	if most > rate || maxActive.Load() > int64(conc) {
		return errors.New("the shared quota was exceeded")
	}
	return nil
}

// maxIn is the most instants of ts in any window of length per.
func maxIn(ts []time.Time, per time.Duration) int {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	most, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= per {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	return most
}

// startRedis starts a redis-server without persistence on a free loopback
// port and returns a function that stops it.
func startRedis() (stop func(), addr string, err error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", errors.New("redis-server not found: install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or pass -redis host:port")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
	addr = "127.0.0.1:" + strconv.Itoa(port)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return stop, addr, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, "", fmt.Errorf("redis-server on %s did not answer: %w", addr, err)
		}
	}
}
