package imitation

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MinBound and MaxBound clamp the default bound of a run.
const (
	MinBound = time.Second
	MaxBound = 10 * time.Second
)

// Bound is the default limit on a run against a server whose Ideal is
// ideal: four times it, within [MinBound, MaxBound].
func Bound(ideal time.Duration) time.Duration { return min(max(4*ideal, MinBound), MaxBound) }

// Result is what one run measured. Every request has exactly one outcome:
// OK + Failed + Unfinished == N.
type Result struct {
	N int
	// What the client saw: a 2xx (OK), an error or another final status
	// before the bound (Failed), or no outcome yet at the bound
	// (Unfinished, cancelled then).
	OK, Failed, Unfinished int
	// What the server counted during the run.
	Server Counts
	// Elapsed runs from the first request to the last outcome, or to the
	// bound if a request was unfinished then.
	Elapsed time.Duration
	Ideal   time.Duration
	// Errors holds up to a few distinct failures, for diagnosis.
	Errors []string
}

// Rejections is the number of requests the server rejected.
func (r Result) Rejections() int { return r.Server.Rejections() }

// Ratio is Elapsed as a multiple of Ideal.
func (r Result) Ratio() float64 {
	if r.Ideal <= 0 {
		return 0
	}
	return float64(r.Elapsed) / float64(r.Ideal)
}

// Cell formats r as a cell of issue 9's table: rejections / time as a
// multiple of the ideal, then failed and unfinished counts when nonzero.
func (r Result) Cell() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d / %.2fx", r.Rejections(), r.Ratio())
	if r.Failed > 0 {
		fmt.Fprintf(&b, ", %d failed", r.Failed)
	}
	if r.Unfinished > 0 {
		fmt.Fprintf(&b, ", %d unfinished", r.Unfinished)
	}
	if r.Server.Duplicates > 0 {
		fmt.Fprintf(&b, ", %d served twice", r.Server.Duplicates)
	}
	return b.String()
}

// Measure fires n GET requests at once at t through client, each to t's
// URL with its own IDParam, and waits for every outcome. The run is bound
// by ctx's deadline, or, when ctx has none, by Bound(t.Ideal(n)); at the
// bound the requests still running are cancelled and counted unfinished.
// The server's counts are read after every request has returned, minus
// what the server had counted before the run.
func Measure(ctx context.Context, client *http.Client, t Target, n int) Result {
	ideal := t.Ideal(n)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, Bound(ideal))
		defer cancel()
	}
	before := t.Counts()
	res := Result{N: n, Ideal: ideal}
	var (
		mu   sync.Mutex
		last time.Time
		wg   sync.WaitGroup
	)
	start := time.Now()
	run := strconv.FormatInt(start.UnixNano(), 36) + "-" // ids unique across runs
	for i := range n {
		wg.Go(func() {
			o, err := fire(ctx, client, t.URL()+"?"+IDParam+"="+run+strconv.Itoa(i))
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			switch o {
			case outcomeOK:
				res.OK++
			case outcomeFailed:
				res.Failed++
				res.addError(err)
			default:
				res.Unfinished++
			}
			if o != outcomeUnfinished && now.After(last) {
				last = now
			}
		})
	}
	wg.Wait()
	res.Elapsed = last.Sub(start)
	if res.Unfinished > 0 || last.IsZero() {
		if d, ok := ctx.Deadline(); ok {
			res.Elapsed = d.Sub(start)
		}
	}
	res.Server = diff(t.Counts(), before)
	return res
}

type outcome int

const (
	outcomeOK outcome = iota
	outcomeFailed
	outcomeUnfinished
)

// fire sends one request and reads its answer to the end.
func fire(ctx context.Context, client *http.Client, url string) (outcome, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return outcomeFailed, err
	}
	resp, err := client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode < 200 || resp.StatusCode > 299) {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
	}
	switch {
	case err == nil:
		return outcomeOK, nil
	case ctx.Err() != nil:
		return outcomeUnfinished, err
	default:
		return outcomeFailed, err
	}
}

func (r *Result) addError(err error) {
	if err == nil || len(r.Errors) >= 5 {
		return
	}
	msg := err.Error()
	for _, e := range r.Errors {
		if e == msg {
			return
		}
	}
	r.Errors = append(r.Errors, msg)
}

// diff is what after counted beyond before.
func diff(after, before Counts) Counts {
	d := Counts{Accepted: after.Accepted - before.Accepted, Duplicates: after.Duplicates - before.Duplicates, Rejected: map[int]int{}}
	for status, v := range after.Rejected {
		if v -= before.Rejected[status]; v != 0 {
			d.Rejected[status] = v
		}
	}
	return d
}
