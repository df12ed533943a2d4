// Command bulkscrape scrapes many pages from several hosts with
// throttle.Stream: every host gets its own concurrency and rate limit
// (no rule per host needed), results come out as they complete, memory
// stays bounded however long the list, and a host that is slow never
// holds up the others. It starts its own local "sites" on 127.0.0.1, so
// it runs offline:
//
//	go run ./examples/bulkscrape
//	go run ./examples/bulkscrape -pages 2000 -sites 8
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"time"

	"github.com/go-throttle/throttle"
)

func main() {
	pages := flag.Int("pages", 600, "pages to scrape, spread over the sites")
	sites := flag.Int("sites", 4, "local sites to start; the last one is slow (200 ms a page)")
	flag.Parse()

	var urls []string
	for i := range *sites {
		delay := time.Duration(0)
		if i == *sites-1 {
			delay = 200 * time.Millisecond
		}
		srv := httptest.NewServer(site(i, delay))
		defer srv.Close()
		urls = append(urls, srv.URL)
	}

	s, err := throttle.NewSession(
		throttle.WithHostConcurrency(4),              // each site: 4 at once
		throttle.WithHostRateLimit(100, time.Second), // each site: 100 a second
		throttle.WithRetry(throttle.RetryPolicy{MaxRetries: 3}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// A generator: the list is never held whole. Reading URLs from a file
	// or a database cursor looks the same.
	reqs := func(yield func(*http.Request) bool) {
		for i := range *pages {
			req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/page/%d", urls[i%len(urls)], i), nil)
			if err != nil || !yield(req) {
				return
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	progress := throttle.WithProgress(func(p throttle.Progress) {
		if p.Elapsed%time.Second < 100*time.Millisecond { // about once a second
			fmt.Printf("  %d done, %d failed, %d in flight, %.0f pages/s\n", p.Done, p.Failed, p.InFlight, p.Rate)
		}
	})
	titles, failed := 0, 0
	for r := range throttle.Stream(ctx, s, reqs, title, throttle.WithWorkers(32), progress) {
		if r.Err != nil {
			failed++
			continue
		}
		titles++
		if titles <= 3 {
			fmt.Printf("page %d: %q\n", r.Index, r.Value)
		}
	}
	fmt.Printf("scraped %d titles, %d failures; %d requests sent in all\n", titles, failed, s.Stats().Requests)
}

var titleRE = regexp.MustCompile(`<title>(.*?)</title>`)

// title is the handler: it reads the page and returns its title. The
// runner closes the body after it returns.
func title(resp *http.Response) (string, error) {
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	m := titleRE.FindSubmatch(body)
	if m == nil {
		return "", fmt.Errorf("no title")
	}
	return string(m[1]), nil
}

// site is a local web site whose pages take delay to answer.
func site(n int, delay time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		fmt.Fprintf(w, "<html><head><title>site %d %s</title></head><body>...</body></html>", n, r.URL.Path)
	})
}
