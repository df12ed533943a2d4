package throttle

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// BenchmarkFirstBurst measures what slow start costs a host that limits
// nothing: each iteration sends burst requests at once to a host the
// client has never seen (a new client each time), whose answers take
// latency, through a bare http.Client, a Session (adaptive limits on: the
// first request goes alone, then 10 at a time, doubling per round trip)
// and a Session with WithAdaptive(false) (the first request alone, then
// all at once). The bare client's time is one round trip plus the
// connections' set-up; the Session's should be a few round trips more.
func BenchmarkFirstBurst(b *testing.B) {
	const burst = 200
	for _, latency := range []time.Duration{0, 5 * time.Millisecond} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(latency)
			io.WriteString(w, "ok")
		}))
		clients := []struct {
			name string
			make func() (func(*http.Request) (*http.Response, error), func())
		}{
			{"bare", func() (func(*http.Request) (*http.Response, error), func()) {
				c := &http.Client{Transport: defaultBase(&config{})}
				return c.Do, c.CloseIdleConnections
			}},
			{"session", func() (func(*http.Request) (*http.Response, error), func()) {
				s, err := NewSession()
				if err != nil {
					b.Fatal(err)
				}
				return s.Do, func() { s.Close() }
			}},
			{"static", func() (func(*http.Request) (*http.Response, error), func()) {
				s, err := NewSession(WithAdaptive(false))
				if err != nil {
					b.Fatal(err)
				}
				return s.Do, func() { s.Close() }
			}},
		}
		for _, c := range clients {
			b.Run("latency="+latency.String()+"/impl="+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					do, done := c.make()
					var wg sync.WaitGroup
					for range burst {
						wg.Add(1)
						go func() {
							defer wg.Done()
							if err := getDiscard(do, srv.URL); err != nil {
								b.Error(err) // not Fatal: this is not the benchmark's goroutine
							}
						}()
					}
					wg.Wait()
					done()
				}
			})
		}
		srv.Close()
	}
}

// getDiscard GETs url with do and reads the body to its end.
func getDiscard(do func(*http.Request) (*http.Response, error), url string) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}
