package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/go-throttle/throttle"
)

const fetchUsage = `Usage: throttle fetch [flags] [URL...]

GETs each URL through one throttled session. With no URL arguments, reads
URLs from standard input, one per line (blank lines and lines starting with
# are skipped), so a list of any length streams through in bounded memory.

Flags:
  --rate N/PERIOD          at most N requests start in any PERIOD, all hosts together
                           (50/s, 3000/min, 10/2s; default: no limit)
  --host-rate N/PERIOD     the same, for each host on its own
  --burst N                with --rate: at most N start back to back, then they are spaced evenly
  --concurrency N          requests in flight at once, all hosts together (default: no limit)
  --host-concurrency N     requests in flight at once to each host
  --retries N              retry a failed request up to N times (429, 5xx, connection errors;
                           Retry-After is honoured; default 0)
  --timeout DUR            each attempt's time limit, from its send to the end of its body (30s, 1m)
  -H 'Name: value'         a header on every request (repeatable)
  -o DIR                   write each body to a file in DIR, named after its URL; written to a
                           temporary file and renamed, so an interrupted run leaves no half files
  --resume                 with -o: skip URLs whose file is already there
  --jsonl                  print one JSON object per URL on standard output:
                           {"url","status","bytes","duration_ms","attempts","error"}

A progress bar (done/total, rate, ETA) is shown on standard error when it is a
terminal, a line every 2 s otherwise, and a summary at the end. Ctrl-C stops
sending new requests, lets the running ones finish, prints the summary and
exits 130 (a second Ctrl-C cancels the running ones too). A response with a
status of 400 or above counts as failed.

Examples:
  throttle fetch --rate 50/s https://example.com/a https://example.com/b
  throttle fetch --host-concurrency 4 --retries 3 --timeout 30s -H 'Authorization: Bearer T' -o out/ < urls.txt
  throttle fetch --rate 3000/min --jsonl < urls.txt > results.jsonl

Exit codes: 0 all succeeded, 1 some failed, 2 usage error, 130 interrupted.
`

// fetchRecord is one --jsonl line.
type fetchRecord struct {
	URL        string `json:"url"`
	Status     int    `json:"status"`
	Bytes      int64  `json:"bytes"`
	DurationMS int64  `json:"duration_ms"`
	Attempts   int64  `json:"attempts"`
	Error      string `json:"error"`
}

func runFetch(e *env, args []string) int {
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	var sf sessionFlags
	sf.register(fs)
	dir := fs.String("o", "", "")
	resume := fs.Bool("resume", false, "")
	jsonl := fs.Bool("jsonl", false, "")
	urls, code, ok := parseCommand(e, fs, fetchUsage, args)
	if !ok {
		return code
	}
	if *resume && *dir == "" {
		return usageError(e, "fetch", "--resume needs -o DIR")
	}
	if *dir != "" {
		if err := os.MkdirAll(*dir, 0o755); err != nil {
			return usageError(e, "fetch", fmt.Sprintf("-o %s: %v", *dir, err))
		}
	}
	s, err := throttle.NewSession(sf.options()...)
	if err != nil {
		return usageError(e, "fetch", err.Error())
	}
	defer s.Close()
	f := &fetcher{e: e, s: s, dir: *dir, resume: *resume, jsonl: *jsonl, jobs: make(map[int]*fetchJob)}
	var lines func(yield func(string) bool)
	total := int64(len(urls))
	if len(urls) > 0 {
		lines = func(yield func(string) bool) {
			for _, u := range urls {
				if !yield(u) {
					return
				}
			}
		}
	} else {
		total = -1
		lines = readURLs(e.stdin)
	}
	return f.run(lines, total)
}

// readURLs yields the URLs of r, one per line, skipping blank lines and #
// comments.
func readURLs(r io.Reader) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if !yield(line) {
				return
			}
		}
	}
}

// fetcher is one fetch run: it turns lines into requests, remembers each
// one until its Result comes, and reports.
type fetcher struct {
	e      *env
	s      *throttle.Session
	dir    string
	resume bool
	jsonl  bool

	mu       sync.Mutex
	jobs     map[int]*fetchJob // by the runner's index
	stopping bool              // Ctrl-C: send nothing new

	outMu                    sync.Mutex // standard output, and the counts below
	ok, failed, skipped, cut int64
	bytes                    int64
}

// fetchJob is one URL handed to the runner.
type fetchJob struct {
	url      string
	cancel   context.CancelFunc
	state    atomic.Int32 // jobQueued, jobSent or jobInterrupted
	attempts atomic.Int64
	sentAt   atomic.Int64 // unix nanoseconds of the first attempt
}

const (
	jobQueued int32 = iota
	jobSent
	jobInterrupted
)

type jobKey struct{}

func (f *fetcher) run(lines func(yield func(string) bool), total int64) int {
	hard, cancelHard := context.WithCancel(context.Background())
	defer cancelHard()
	interrupted := f.watchInterrupts(cancelHard)
	defer interrupted.stop()

	disp := newCountDisplay(f.e, total)
	began := time.Now()
	results := throttle.Stream(hard, f.s, f.requests(hard, lines), f.handle, throttle.WithProgress(disp.update))
	for r := range results {
		f.report(r)
	}
	disp.finish()
	f.summary(time.Since(began))
	switch {
	case interrupted.happened():
		return exitInterrupted
	case f.failed > 0:
		return exitFailed
	}
	return exitOK
}

// requests turns lines into requests. A line that is not a URL, or
// whose file --resume finds, is reported here and never reaches the
// runner; the runner indexes what it is given, in order.
func (f *fetcher) requests(hard context.Context, lines func(yield func(string) bool)) func(yield func(*http.Request) bool) {
	return func(yield func(*http.Request) bool) {
		index := 0
		for line := range lines {
			if f.isStopping() {
				return
			}
			if f.resume {
				if _, err := os.Stat(fileFor(f.dir, line)); err == nil {
					f.record(fetchRecord{URL: line, Error: "skipped: file exists"}, &f.skipped)
					continue
				}
			}
			req, j, err := f.newRequest(hard, line)
			if err != nil {
				f.record(fetchRecord{URL: line, Error: err.Error()}, &f.failed)
				continue
			}
			// Registered under the lock stop takes, so that a Ctrl-C that
			// came while this request was being made still cancels it.
			f.mu.Lock()
			if f.stopping {
				f.mu.Unlock()
				j.cancel()
				return
			}
			f.jobs[index] = j
			f.mu.Unlock()
			index++
			if !yield(req) {
				return
			}
		}
	}
}

func (f *fetcher) newRequest(hard context.Context, rawURL string) (*http.Request, *fetchJob, error) {
	ctx, cancel := context.WithCancel(hard)
	j := &fetchJob{url: rawURL, cancel: cancel}
	ctx = context.WithValue(ctx, jobKey{}, j)
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) {
			if j.state.CompareAndSwap(jobQueued, jobSent) {
				j.sentAt.Store(time.Now().UnixNano())
			}
		},
		WroteHeaders: func() { j.attempts.Add(1) },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err == nil && req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		err = fmt.Errorf("not an http or https URL: %q", rawURL)
	}
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return req, j, nil
}

// fetchOut is what handle returns for one response.
type fetchOut struct {
	status int
	bytes  int64
}

// handle reads one response: to its file with -o, else to nowhere,
// counting the bytes. A status of 400 or above is a failure.
func (f *fetcher) handle(resp *http.Response) (fetchOut, error) {
	out := fetchOut{status: resp.StatusCode}
	if resp.StatusCode >= 400 {
		return out, errors.New(resp.Status)
	}
	var err error
	if f.dir == "" {
		out.bytes, err = io.Copy(io.Discard, resp.Body)
		return out, err
	}
	j, _ := resp.Request.Context().Value(jobKey{}).(*fetchJob)
	if j == nil {
		return out, errors.New("internal error: response without its job")
	}
	out.bytes, err = writeFile(fileFor(f.dir, j.url), resp.Body)
	return out, err
}

// report writes one Result's line and counts it.
func (f *fetcher) report(r throttle.Result[fetchOut]) {
	f.mu.Lock()
	j := f.jobs[r.Index]
	delete(f.jobs, r.Index)
	f.mu.Unlock()
	j.cancel()
	rec := fetchRecord{URL: j.url, Status: r.Value.status, Bytes: r.Value.bytes, Attempts: j.attempts.Load()}
	if at := j.sentAt.Load(); at != 0 {
		rec.DurationMS = time.Since(time.Unix(0, at)).Milliseconds()
	}
	counter := &f.ok
	switch {
	case j.state.Load() == jobInterrupted:
		rec.Error, counter = "not sent: interrupted", &f.cut
	case r.Err != nil:
		rec.Error, counter = r.Err.Error(), &f.failed
	}
	f.record(rec, counter)
}

// record prints rec with --jsonl, and counts it.
func (f *fetcher) record(rec fetchRecord, counter *int64) {
	f.outMu.Lock()
	defer f.outMu.Unlock()
	*counter++
	f.bytes += rec.Bytes
	if f.jsonl {
		b, _ := json.Marshal(rec)
		f.e.stdout.Write(append(b, '\n'))
	} else if rec.Error != "" && counter == &f.failed {
		fmt.Fprintf(f.e.stderr, "%s: %s\n", rec.URL, rec.Error)
	}
}

func (f *fetcher) summary(elapsed time.Duration) {
	f.outMu.Lock()
	defer f.outMu.Unlock()
	n := f.ok + f.failed
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(n) / s
	}
	fmt.Fprintf(f.e.stderr, "fetched %d URLs in %s (%.1f req/s): %d ok, %d failed", n, elapsed.Round(time.Millisecond), rate, f.ok, f.failed)
	if f.skipped > 0 {
		fmt.Fprintf(f.e.stderr, ", %d skipped (file exists)", f.skipped)
	}
	if f.cut > 0 {
		fmt.Fprintf(f.e.stderr, ", %d not sent (interrupted)", f.cut)
	}
	st := f.s.Stats()
	fmt.Fprintf(f.e.stderr, "; %s received, %d attempts, %d retries, %d throttled (429/503)\n",
		humanize.IBytes(uint64(f.bytes)), st.Requests, st.Retries, st.Throttled)
}

func (f *fetcher) isStopping() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stopping
}

// stop is the first Ctrl-C: no new request is read or sent, and every
// request not yet sent (waiting for a limit, or queued in the runner) is
// cancelled; the ones sent finish.
func (f *fetcher) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopping = true
	for _, j := range f.jobs {
		if j.state.CompareAndSwap(jobQueued, jobInterrupted) {
			j.cancel()
		}
	}
}

// interruption watches the env's interrupts while a run lasts.
type interruption struct {
	done chan struct{}
	wg   sync.WaitGroup
	hit  atomic.Bool
}

func (i *interruption) happened() bool { return i.hit.Load() }

func (i *interruption) stop() {
	close(i.done)
	i.wg.Wait()
}

// watchInterrupts calls f.stop on the first interrupt and hard on the
// second.
func (f *fetcher) watchInterrupts(hard context.CancelFunc) *interruption {
	i := &interruption{done: make(chan struct{})}
	i.wg.Go(func() {
		for n := 0; ; n++ {
			select {
			case <-f.e.interrupt:
				i.hit.Store(true)
				if n == 0 {
					fmt.Fprintln(f.e.stderr, "\ninterrupted: sending nothing new, waiting for the running requests (Ctrl-C again to cancel them)")
					f.stop()
				} else {
					hard()
				}
			case <-i.done:
				return
			}
		}
	})
	return i
}
