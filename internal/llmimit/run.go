package llmimit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Call is one request of a workload: a prompt, its max_tokens, and the
// completion tokens it will use.
type Call struct {
	Prompt       string
	PromptTokens int64
	MaxTokens    int64
	Use          int64
}

// Workload returns n calls with random prompts (20 to 200 words), random
// max_tokens (100 to 1,000) and completions that use 30% to 100% of them,
// the same for the same seed.
func Workload(n int, seed uint64) []Call {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	calls := make([]Call, n)
	for i := range calls {
		words := 20 + r.IntN(181)
		maxTokens := int64(100 + r.IntN(901))
		calls[i] = Call{
			Prompt:       strings.TrimSpace(strings.Repeat("word ", words)),
			PromptTokens: int64(words),
			MaxTokens:    maxTokens,
			Use:          max(1, maxTokens*int64(30+r.IntN(71))/100),
		}
	}
	return calls
}

// Totals are the tokens a workload uses: prompts, and completions.
func Totals(calls []Call) (input, output int64) {
	for _, c := range calls {
		input += c.PromptTokens
		output += c.Use
	}
	return input, output
}

// ScaledConfig returns a Config of dialect d whose token budgets make the
// ideal time of calls about ideal, with a Window of window: each budget
// holds a third of what calls use when ideal is two windows. Requests are
// left far from binding.
func ScaledConfig(d Dialect, calls []Call, window, ideal time.Duration) Config {
	in, out := Totals(calls)
	share := func(u int64) int {
		// u = limit + limit·ideal/window
		return int(float64(u) / (1 + float64(ideal)/float64(window)))
	}
	cfg := Config{Dialect: d, Window: window, Requests: 10 * len(calls)}
	if d == OpenAI {
		cfg.Tokens = share(in + out)
	} else {
		cfg.Input, cfg.Output = share(in), share(out)
	}
	return cfg
}

// Result is what one run saw.
type Result struct {
	Calls    int
	Elapsed  time.Duration
	Ideal    time.Duration
	Rejected int64 // 429s the server answered
	Failed   int   // calls that ended without a 200
	Settled  int64 // calls whose usage was read
}

// Ratio is Elapsed as a multiple of Ideal.
func (r Result) Ratio() float64 { return float64(r.Elapsed) / float64(r.Ideal) }

func (r Result) String() string {
	return fmt.Sprintf("%d calls in %v (ideal %v, %.2fx), %d rejected (429), %d failed",
		r.Calls, r.Elapsed.Round(time.Millisecond), r.Ideal.Round(time.Millisecond), r.Ratio(), r.Rejected, r.Failed)
}

// Client sends one call: do sends req (built under ctx, which a client may
// decorate with prepare), and done, if set, is told the response's usage
// once its body has been read.
type Client struct {
	Do      func(req *http.Request) (*http.Response, error)
	Close   func() // called once the run is over, if set: idle connections, say
	Prepare func(ctx context.Context, c Call) context.Context
	Done    func(resp *http.Response, c Call, u Usage)
}

// Run fires every call at once at srv through cl, waits for them all (or
// ctx's end), and reports what happened. Only this run's figures count:
// the server's are taken as differences.
func Run(ctx context.Context, srv *Server, cl Client, calls []Call) Result {
	path := "/v1/chat/completions"
	if srv.cfg.Dialect == Anthropic {
		path = "/v1/messages"
	}
	before := srv.Stats()
	var failed, settled atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range calls {
		wg.Go(func() {
			if !send(ctx, srv.URL+path, cl, c, &settled) {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if cl.Close != nil {
		cl.Close()
	}
	after := srv.Stats()
	ideal := srv.idealFor(after.Input-before.Input, after.Output-before.Output)
	return Result{Calls: len(calls), Elapsed: elapsed, Ideal: ideal,
		Rejected: after.Rejected - before.Rejected, Failed: int(failed.Load()), Settled: settled.Load()}
}

// send makes one call, reporting whether it got a 200 and its usage.
func send(ctx context.Context, url string, cl Client, c Call, settled *atomic.Int64) bool {
	body, _ := json.Marshal(Request{Model: "imitation", MaxTokens: c.MaxTokens, Use: c.Use,
		Messages: []Message{{Role: "user", Content: c.Prompt}}})
	if cl.Prepare != nil {
		ctx = cl.Prepare(ctx, c)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := cl.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return false
	}
	var out struct {
		Usage Usage `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return false
	}
	if cl.Done != nil {
		cl.Done(resp, c, out.Usage)
	}
	settled.Add(1)
	return true
}
