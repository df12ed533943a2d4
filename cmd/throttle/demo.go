package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/go-throttle/throttle"
)

const demoUsage = `Usage: throttle demo [--out DIR]

Runs the SDK's main job against servers it starts on 127.0.0.1, and measures
what the servers see. Two local APIs allow 100 requests in any second: one is
the project's middleware, which states its limit (RateLimit-Policy, and
Retry-After on its 429s); the other states nothing and answers bare 429s.
The same burst of 300 requests, all started at once, is sent:

  1. by a plain http.Client (the 429s it earns),
  2. by a plain client that retries, honouring Retry-After (fast but impolite),
  3. by a throttle.Session with no configuration but retries, to the API that states its limit,
  4. by the plain retrying client, to the API that states nothing (it backs off blindly),
  5. by the same Session, to the API that states nothing;

then a 1 MiB multipart form is uploaded through a 256 KiB/s Payload.

It prints a summary table (requests sent, 429s, failures, time against the
ideal the server allows, p50/p99 completion time, upload rate against its cap)
and writes demo.svg: requests per 100 ms over time for each run, against the
server's limit. It takes about 20 s.

Flags:
  --out DIR   where demo.svg is written (default: the current folder)

Example:
  throttle demo --out docs/
`

// The demo's scenario: a burst of demoBurst requests to a server that
// allows demoLimit in any second. Variables only so that the test can run
// a smaller one.
var (
	demoBurst      = 300
	demoLimit      = 100
	demoUploadSize = 1 << 20
	demoUploadCap  = 256 << 10
)

const demoMaxRetries = 10

// demoRun is one run's figures, measured at its server and at the client.
type demoRun struct {
	name      string
	server    string
	sent      int // attempts the server saw
	throttled int // of them, 429s
	failed    int // requests that did not end in a 2xx
	elapsed   time.Duration
	done      []time.Duration // each request's completion, since the burst started
	arrivals  []arrival
}

func runDemo(e *env, args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	out := fs.String("out", ".", "")
	pos, code, ok := parseCommand(e, fs, demoUsage, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(e, "demo", fmt.Sprintf("unexpected argument %q", pos[0]))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return usageError(e, "demo", fmt.Sprintf("--out %s: %v", *out, err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-e.interrupt:
			cancel()
		case <-ctx.Done():
		}
	}()
	runs, up, err := demo(ctx, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "throttle demo: %v\n", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitFailed
	}
	table := demoTable(runs, up)
	fmt.Fprint(e.stdout, table)
	path := filepath.Join(*out, "demo.svg")
	if err := writeDemoSVG(path, runs); err != nil {
		fmt.Fprintf(e.stderr, "throttle demo: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(e.stdout, "\npicture: %s\n", path)
	return exitOK
}

// demoUpload is the upload's figures.
type demoUpload struct {
	bytes   int64
	elapsed time.Duration // first byte to last, at the server
	status  string
}

func demo(ctx context.Context, e *env) ([]demoRun, demoUpload, error) {
	stated, bare := statedAPI(demoLimit), bareAPI(demoLimit)
	steps := []struct {
		name, server string
		api          func(*demoServer) (http.Handler, error)
		send         func(ctx context.Context, url string) []time.Duration
	}{
		{"plain http.Client", "states its limit", stated, plainBurst(false)},
		{"plain client, retries (Retry-After)", "states its limit", stated, plainBurst(true)},
		{"Session, no configuration", "states its limit", stated, sessionBurst},
		{"plain client, retries (backoff)", "states nothing", bare, plainBurst(true)},
		{"Session, no configuration", "states nothing", bare, sessionBurst},
	}
	var runs []demoRun
	for i, st := range steps {
		fmt.Fprintf(e.stderr, "run %d/%d: %s, to the API that %s...\n", i+1, len(steps), st.name, st.server)
		// A fresh server for each run, so that no run inherits another's window.
		srv, err := startDemoServer(st.api)
		if err != nil {
			return nil, demoUpload{}, err
		}
		began := time.Now()
		done := st.send(ctx, srv.url)
		r := demoRun{name: st.name, server: st.server, elapsed: time.Since(began), arrivals: srv.snapshot()}
		srv.close()
		for _, d := range done {
			if d < 0 {
				r.failed++
			} else {
				r.done = append(r.done, d)
			}
		}
		for _, a := range r.arrivals {
			r.sent++
			if a.status == http.StatusTooManyRequests {
				r.throttled++
			}
		}
		runs = append(runs, r)
		if err := ctx.Err(); err != nil {
			return nil, demoUpload{}, err
		}
	}
	fmt.Fprintf(e.stderr, "upload: %s through a %s/s Payload...\n", humanize.IBytes(uint64(demoUploadSize)), humanize.IBytes(uint64(demoUploadCap)))
	up, err := demoUploadRun(ctx)
	return runs, up, err
}

// plainBurst sends the burst with a plain http.Client, one goroutine per
// request; with retry, a 429 is retried after its Retry-After, or after
// an exponential backoff with full jitter when it has none. It returns
// each request's completion time, or -1 for one that did not succeed.
func plainBurst(retry bool) func(ctx context.Context, url string) []time.Duration {
	return func(ctx context.Context, url string) []time.Duration {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = demoBurst
		client := &http.Client{Transport: tr}
		defer tr.CloseIdleConnections()
		began := time.Now()
		out := make([]time.Duration, demoBurst)
		var wg sync.WaitGroup
		for i := range out {
			wg.Go(func() {
				out[i] = -1
				for attempt := 0; attempt <= demoMaxRetries; attempt++ {
					status, wait := plainGet(ctx, client, url)
					if status == http.StatusOK {
						out[i] = time.Since(began)
						return
					}
					if !retry || status != http.StatusTooManyRequests {
						return
					}
					if wait < 0 {
						wait = time.Duration(rand.Int64N(int64(min(50*time.Millisecond<<attempt, 2*time.Second))))
					}
					select {
					case <-time.After(wait):
					case <-ctx.Done():
						return
					}
				}
			})
		}
		wg.Wait()
		return out
	}
}

// plainGet is one GET: its status, and its Retry-After in whole seconds
// (-1 when there is none).
func plainGet(ctx context.Context, client *http.Client, url string) (int, time.Duration) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, -1
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, -1
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	wait := time.Duration(-1)
	if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s >= 0 {
		wait = time.Duration(s) * time.Second
	}
	return resp.StatusCode, wait
}

// sessionBurst sends the burst through a Session with no limits of its
// own, only retries, as one bulk Map with a worker per request, so that
// all of them start at once as in the plain runs.
func sessionBurst(ctx context.Context, url string) []time.Duration {
	s, err := throttle.NewSession(throttle.WithRetry(throttle.RetryPolicy{MaxRetries: demoMaxRetries}))
	if err != nil {
		panic(err) // a constant, valid configuration
	}
	defer s.Close()
	reqs := make([]*http.Request, demoBurst)
	for i := range reqs {
		reqs[i], _ = http.NewRequest(http.MethodGet, url, nil)
	}
	began := time.Now()
	res := throttle.Map(ctx, s, reqs, func(resp *http.Response) (time.Duration, error) {
		if resp.StatusCode != http.StatusOK {
			return -1, nil
		}
		return time.Since(began), nil
	}, throttle.WithWorkers(demoBurst))
	out := make([]time.Duration, len(res))
	for i, r := range res {
		out[i] = r.Value
		if r.Err != nil {
			out[i] = -1
		}
	}
	return out
}

// demoUploadRun uploads a generated form through a capped Payload and
// measures the rate at the server.
func demoUploadRun(ctx context.Context) (demoUpload, error) {
	srv, err := startDemoServer(uploadSink)
	if err != nil {
		return demoUpload{}, err
	}
	defer srv.close()
	s, err := throttle.NewSession()
	if err != nil {
		return demoUpload{}, err
	}
	defer s.Close()
	form := throttle.NewMultipart()
	form.AddField("title", "demo")
	form.AddFile("file", "demo.bin", strings.NewReader(strings.Repeat("throttle", demoUploadSize/8)))
	body, err := throttle.NewPayload(form, int64(demoUploadCap))
	if err != nil {
		return demoUpload{}, err
	}
	resp, err := s.Post(ctx, srv.url, form.ContentType(), body)
	if err != nil {
		return demoUpload{}, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return demoUpload{bytes: srv.bytes, elapsed: srv.last.Sub(srv.first), status: resp.Status}, nil
}

// idealTime is the least time the server allows for the burst: it admits
// demoLimit in any second, so the last of demoBurst can start after
// floor((demoBurst-1)/demoLimit) seconds.
func idealTime() time.Duration {
	return time.Duration((demoBurst-1)/demoLimit) * time.Second
}

// demoTable is the summary, as a Markdown table (it goes in the README).
func demoTable(runs []demoRun, up demoUpload) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Burst of %d GETs, all at once, to a local API allowing %d per second (ideal: %s).\n\n", demoBurst, demoLimit, idealTime())
	b.WriteString("| run | API | sent | 429s | failed | time | vs ideal | p50 | p99 |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range runs {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %s | %s | %s | %s |\n", r.name, r.server, r.sent, r.throttled, r.failed,
			fmtDur(r.elapsed), vsIdeal(r.elapsed), pct(r.done, 50), pct(r.done, 99))
	}
	rate := 0.0
	if s := up.elapsed.Seconds(); s > 0 {
		rate = float64(up.bytes) / s
	}
	fmt.Fprintf(&b, "\nUpload: %s multipart through a %s/s Payload: %s/s at the server (%.0f%% of the cap), %s.\n",
		humanize.IBytes(uint64(up.bytes)), humanize.IBytes(uint64(demoUploadCap)), humanize.IBytes(uint64(rate)), 100*rate/float64(demoUploadCap), up.status)
	return b.String()
}

func fmtDur(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }

func vsIdeal(d time.Duration) string {
	return fmt.Sprintf("%+.0f%%", 100*(d.Seconds()-idealTime().Seconds())/idealTime().Seconds())
}

// pct is the p-th percentile of ds (nearest rank), "-" when empty.
func pct(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := max(0, (len(s)*p+99)/100-1)
	return fmtDur(s[i])
}
