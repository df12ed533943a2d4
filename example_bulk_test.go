package throttle_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-throttle/throttle"
)

// Map sends a list of requests and returns one Result per request, in
// input order, whatever order they completed in.
func ExampleMap() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.ToUpper(strings.TrimPrefix(r.URL.Path, "/")))
	}))
	defer srv.Close()
	s, err := throttle.NewSession(throttle.WithHostConcurrency(2))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	var reqs []*http.Request
	for _, word := range []string{"map", "keeps", "input", "order"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/"+word, nil)
		reqs = append(reqs, req)
	}
	body := func(resp *http.Response) (string, error) {
		b, err := io.ReadAll(resp.Body) // the runner closes the body afterwards
		return string(b), err
	}
	for _, r := range throttle.Map(context.Background(), s, reqs, body, throttle.WithWorkers(4)) {
		fmt.Println(r.Index, r.Value, r.Err)
	}
	// Output:
	// 0 MAP <nil>
	// 1 KEEPS <nil>
	// 2 INPUT <nil>
	// 3 ORDER <nil>
}

// Stream reads its requests from a generator as it goes, so the input can
// be far larger than memory, and yields each Result as it completes.
func ExampleStream() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/13" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	s, err := throttle.NewSession(throttle.WithRetry(throttle.RetryPolicy{MaxRetries: 2}))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	reqs := func(yield func(*http.Request) bool) {
		for i := range 100 {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/%d", srv.URL, i), nil)
			if !yield(req) {
				return
			}
		}
	}
	status := func(resp *http.Response) (int, error) { return resp.StatusCode, nil }
	var final throttle.Progress
	counts := map[int]int{}
	for r := range throttle.Stream(context.Background(), s, reqs, status, throttle.WithProgress(func(p throttle.Progress) { final = p })) {
		if r.Err != nil {
			log.Fatal(r.Err)
		}
		counts[r.Value]++
	}
	fmt.Println("200:", counts[200], "404:", counts[404])
	fmt.Println("done:", final.Done, "total:", final.Total)
	// Output:
	// 200: 99 404: 1
	// done: 100 total: -1
}
