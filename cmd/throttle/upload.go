package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/go-throttle/throttle"
)

const uploadUsage = `Usage: throttle upload [flags] URL

POSTs a multipart/form-data body to URL, streamed from its files and never
held in memory, at no more than --limit bytes per second.

Flags:
  -F name=value     a form field (repeatable)
  -F name=@path     a file part, read from path as it is sent (repeatable; curl's syntax)
  --limit RATE      the upload's bandwidth cap: 2MiB/s, 500KB/s, 1.5MB/s (default: no cap)
  --retries N       retry up to N times on 429 (the body is replayed from its files; default 0)
  -H 'Name: value'  a header on the request (repeatable)

A progress bar (bytes sent, rate against the cap, ETA) is shown on standard
error when it is a terminal, a line every 2 s otherwise, then a summary; the
response body goes to standard output. Ctrl-C cancels the upload and exits 130.

Examples:
  throttle upload --limit 2MiB/s -F title=backup -F file=@big.bin https://example.com/upload
  throttle upload -H 'Authorization: Bearer T' --retries 3 -F a=@one.csv -F b=@two.csv https://example.com/import

Exit codes: 0 a 2xx response, 1 any other outcome, 2 usage error, 130 interrupted.
`

// formList is the repeatable -F name=value / name=@path.
type formList [][2]string

func (f *formList) String() string { return "" }

func (f *formList) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return errors.New("want name=value or name=@path")
	}
	*f = append(*f, [2]string{name, value})
	return nil
}

func runUpload(e *env, args []string) int {
	fs := flag.NewFlagSet("upload", flag.ContinueOnError)
	var fields formList
	var limit byteRate
	retries := countValue{}
	var headers headerList
	fs.Var(&fields, "F", "")
	fs.Var(&limit, "limit", "")
	fs.Var(&retries, "retries", "")
	fs.Var(&headers, "H", "")
	pos, code, ok := parseCommand(e, fs, uploadUsage, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageError(e, "upload", fmt.Sprintf("want one URL, got %d", len(pos)))
	}
	if len(fields) == 0 {
		return usageError(e, "upload", "nothing to upload: give at least one -F")
	}
	form := throttle.NewMultipart()
	for _, kv := range fields {
		if path, isFile := strings.CutPrefix(kv[1], "@"); isFile {
			if err := form.AddFileFromPath(kv[0], path); err != nil {
				form.Close()
				return usageError(e, "upload", fmt.Sprintf("-F %s=%s: %v", kv[0], kv[1], err))
			}
			continue
		}
		form.AddField(kv[0], kv[1])
	}
	opts := headerOptions(headers)
	if retries.n > 0 {
		opts = append(opts, throttle.WithRetry(throttle.RetryPolicy{MaxRetries: retries.n}))
	}
	s, err := throttle.NewSession(opts...)
	if err != nil {
		form.Close()
		return usageError(e, "upload", err.Error())
	}
	defer s.Close()
	return upload(e, s, pos[0], form, limit.n)
}

// upload sends form to url under the cap, showing its progress from the
// session's byte count.
func upload(e *env, s *throttle.Session, url string, form *throttle.Multipart, capRate int64) int {
	var body io.Reader = form
	if capRate > 0 {
		p, err := throttle.NewPayload(form, capRate)
		if err != nil {
			form.Close()
			return usageError(e, "upload", err.Error())
		}
		body = p
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	total := form.Size()
	disp := newByteDisplay(e, total, capRate)
	began := time.Now()
	var wg sync.WaitGroup
	done := make(chan struct{})
	interrupted := false
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				disp.update(s.Stats().BytesSent)
			case <-e.interrupt:
				interrupted = true
				cancel()
			case <-done:
				return
			}
		}
	})
	resp, err := s.Post(ctx, url, form.ContentType(), body)
	var status string
	if err == nil {
		status = resp.Status
		io.Copy(e.stdout, resp.Body)
		resp.Body.Close()
	}
	close(done)
	wg.Wait()
	sent := s.Stats().BytesSent
	disp.update(sent)
	disp.finish()
	elapsed := time.Since(began)
	fmt.Fprintf(e.stderr, "uploaded %s of %s in %s, %s", humanize.IBytes(uint64(sent)), humanize.IBytes(uint64(total)),
		elapsed.Round(time.Millisecond), rateAgainstCap(sent, elapsed, capRate))
	switch {
	case interrupted:
		fmt.Fprintln(e.stderr, ": interrupted")
		return exitInterrupted
	case err != nil:
		fmt.Fprintf(e.stderr, ": %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(e.stderr, ": %s\n", status)
	if resp.StatusCode/100 != 2 {
		return exitFailed
	}
	return exitOK
}
