package throttle_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle"
)

// AdaptLatency keeps a host that slows down under load from being pushed
// over: here a server that answers in 2 ms up to 4 requests at once, and
// ever more slowly above, gets 200 requests from 200 callers at once; the
// session stops adding requests in flight once the answers slow past 1.5
// times the fastest, and cuts back when they pass 3 times. A tolerance
// of 1 or less is refused.
func ExampleAdaptLatency() {
	var inflight atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		over := max(1, inflight.Add(1)-3)
		defer inflight.Add(-1)
		time.Sleep(2 * time.Millisecond * time.Duration(over*over))
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	s, err := throttle.NewSession(throttle.WithAdaptive(true, throttle.AdaptLatency(1.5)))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := s.Get(context.Background(), srv.URL)
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Println("answered:", ok.Load())

	_, err = throttle.NewSession(throttle.WithAdaptive(true, throttle.AdaptLatency(1)))
	fmt.Println(err)
	// Output:
	// answered: 200
	// throttle: invalid option: AdaptLatency(1): tolerance must be a finite number greater than 1
}
