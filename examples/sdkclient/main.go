// Command sdkclient throttles a third-party-style SDK (package weather,
// which knows nothing of throttle) by handing it Session.HTTPClient():
// 40 calls made at once go out at the API's published 10 a second, with
// retries, and the API (the project's middleware, on 127.0.0.1) never
// has to answer 429.
//
//	go run ./examples/sdkclient
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/examples/sdkclient/weather"
	"github.com/go-throttle/throttle/middleware"
)

func main() {
	var rejected atomic.Int64
	api, err := middleware.New(middleware.WithRateLimit(10, time.Second))
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(countRejected(api.Wrap(http.HandlerFunc(forecast)), &rejected))
	defer srv.Close()

	s, err := throttle.NewSession(
		throttle.WithRateLimit(10, time.Second), // the API's published quota
		throttle.WithRetry(throttle.RetryPolicy{MaxRetries: 3}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	client := weather.NewClient(srv.URL, s.HTTPClient()) // the only line that changes

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := range 40 {
		wg.Go(func() {
			if _, err := client.Forecast(ctx, fmt.Sprintf("city-%d", i)); err != nil {
				log.Print(err)
				return
			}
			ok.Add(1)
		})
	}
	wg.Wait()
	fmt.Printf("%d forecasts in %.1fs (the quota allows 40 in about 3 s); the API answered %d times 429\n",
		ok.Load(), time.Since(began).Seconds(), rejected.Load())
}

func forecast(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(weather.Forecast{City: r.URL.Query().Get("city"), Celsius: 21.5})
}

// countRejected counts the 429s h answers.
func countRejected(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&statusWriter{ResponseWriter: w, rejected: n}, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	rejected *atomic.Int64
}

func (s *statusWriter) WriteHeader(code int) {
	if code == http.StatusTooManyRequests {
		s.rejected.Add(1)
	}
	s.ResponseWriter.WriteHeader(code)
}
