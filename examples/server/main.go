// Command server protects an HTTP handler with the project's middleware:
// at most 4 requests in the handler at once, 8 more waiting, and each
// consumer (the X-Service-Name header) limited to 20 requests a second.
// It serves on 127.0.0.1, then plays two clients against itself: an
// impolite one that fires 60 requests at once with a plain http.Client,
// and a polite one, a throttle.Session with no configuration, that does
// the same; it prints what each got.
//
//	go run ./examples/server
//	go run ./examples/server -listen 127.0.0.1:8080 -serve   # just serve, until Ctrl-C
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
	"os/signal"
	"sync"
	"time"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/middleware"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	serveOnly := flag.Bool("serve", false, "only serve, until interrupted")
	flag.Parse()

	th, err := middleware.New(
		middleware.WithCapacity(4),                // requests in the handler at once
		middleware.WithQueueLimit(8),              // requests waiting for capacity
		middleware.WithRateLimit(20, time.Second), // each consumer's strict window
		middleware.WithExempt("/healthz"),
	)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: th.Wrap(http.HandlerFunc(work)), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String()
	fmt.Println("serving on", url)
	if *serveOnly {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		<-ctx.Done()
		return
	}

	plain := &http.Client{}
	fmt.Println("impolite client:", burst(func(req *http.Request) (*http.Response, error) { return plain.Do(req) }, url, "impolite"))

	s, err := throttle.NewSession(throttle.WithRetry(throttle.RetryPolicy{MaxRetries: 5}))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println("polite client:  ", burst(s.Do, url, "polite"))
}

// work is the protected handler: 20 ms of work.
func work(w http.ResponseWriter, r *http.Request) {
	time.Sleep(20 * time.Millisecond)
	io.WriteString(w, "done\n")
}

// burst sends 60 requests at once as consumer name and tallies the
// statuses.
func burst(do func(*http.Request) (*http.Response, error), url, name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	statuses := map[int]int{}
	began := time.Now()
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/work", nil)
			req.Header.Set("X-Service-Name", name)
			resp, err := do(req)
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
	return fmt.Sprintf("%d OK, %d answered 429, in %.1fs", statuses[200], statuses[429], time.Since(began).Seconds())
}
