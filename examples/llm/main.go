// Command llm calls two local imitations of metered LLM APIs, an
// OpenAI-style chat-completions endpoint and an Anthropic-style messages
// endpoint, with many requests at once, each with a random prompt and a
// random max_tokens, and prints what each client earned: the 429s the
// server answered, the calls that failed, and the time taken as a multiple
// of the ideal the token budgets allow.
//
//	go run ./examples/llm
//	go run ./examples/llm -n 1000 -period 1s -ideal 4s
//
// The imitations meter tokens as their originals do (internal/llmimit):
// token buckets that refill continuously, max_tokens charged at admission
// and the unused part given back when the completion is done, 429 with a
// JSON error over budget, and the budgets stated in each API's own
// headers. Their budgets are scaled so that the ideal is -ideal.
//
// Three clients run against a fresh server each:
//
//   - a Session that only says what each call costs (WithCost: prompt
//     tokens plus max_tokens) and settles it with the usage the response
//     reports (Settle): it learns the budgets from the headers;
//   - the same Session told the budgets too (WithBudget);
//   - go-retryablehttp with its defaults and ten retries, for comparison.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/internal/llmimit"
	"github.com/hashicorp/go-retryablehttp"
)

func main() {
	n := flag.Int("n", 500, "calls per run, all started at once")
	period := flag.Duration("period", 200*time.Millisecond, "the period of the imitations' budgets")
	ideal := flag.Duration("ideal", 2*time.Second, "the ideal time of a run, which sets the budgets")
	seed := flag.Uint64("seed", 13, "the seed of the random prompts and max_tokens")
	timeout := flag.Duration("timeout", time.Minute, "bound on each run")
	flag.Parse()

	calls := llmimit.Workload(*n, *seed)
	in, out := llmimit.Totals(calls)
	fmt.Printf("%d calls at once, %d prompt and %d completion tokens, budgets per %v scaled to an ideal of %v\n\n",
		*n, in, out, *period, *ideal)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "api\tclient\t429s\tfailed\ttime\tx ideal\t")
	for _, d := range []struct {
		name    string
		dialect llmimit.Dialect
	}{{"openai", llmimit.OpenAI}, {"anthropic", llmimit.Anthropic}} {
		cfg := llmimit.ScaledConfig(d.dialect, calls, *period, *ideal)
		for _, c := range []struct {
			name string
			opts []throttle.Option // nil: go-retryablehttp
		}{
			{"Session, WithCost only", []throttle.Option{}},
			{"Session, WithBudget", budgets(cfg)},
			{"go-retryablehttp", nil},
		} {
			res, err := run(cfg, c.opts, calls, *timeout)
			if err != nil {
				log.Fatal(err)
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%v\t%.2f\t\n", d.name, c.name, res.Rejected, res.Failed,
				res.Elapsed.Round(time.Millisecond), res.Ratio())
		}
	}
	w.Flush()
}

// run sends calls to a fresh imitation of cfg through a client: a Session
// with opts, or go-retryablehttp when opts is nil.
func run(cfg llmimit.Config, opts []throttle.Option, calls []llmimit.Call, timeout time.Duration) (llmimit.Result, error) {
	srv := llmimit.Start(cfg)
	defer srv.Close()
	// A bound, not a deadline: a caller whose deadline a budget's wait
	// cannot meet fails at once, and until the first answers say the
	// budgets' period a Session takes it to be a minute, OpenAI's and
	// Anthropic's.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer time.AfterFunc(timeout, cancel).Stop()
	if opts == nil {
		return llmimit.Run(ctx, srv, retryable(), calls), nil
	}
	s, err := throttle.NewSession(append(opts, throttle.WithRetry(throttle.RetryPolicy{MaxRetries: 10}))...)
	if err != nil {
		return llmimit.Result{}, err
	}
	defer s.Close()
	return llmimit.Run(ctx, srv, session(s, cfg.Dialect), calls), nil
}

// budgets tells a Session the imitation's budgets.
func budgets(cfg llmimit.Config) []throttle.Option {
	if cfg.Dialect == llmimit.OpenAI {
		return []throttle.Option{throttle.WithBudget("tokens", int64(cfg.Tokens), cfg.Window)}
	}
	return []throttle.Option{
		throttle.WithBudget("input-tokens", int64(cfg.Input), cfg.Window),
		throttle.WithBudget("output-tokens", int64(cfg.Output), cfg.Window),
	}
}

// session sends each call through s: charged its prompt and max_tokens
// before it is sent, settled with its usage once it is done.
func session(s *throttle.Session, d llmimit.Dialect) llmimit.Client {
	return llmimit.Client{
		Do: s.HTTPClient().Do,
		Prepare: func(ctx context.Context, c llmimit.Call) context.Context {
			if d == llmimit.OpenAI {
				return throttle.WithCost(ctx, "tokens", c.PromptTokens+c.MaxTokens)
			}
			ctx = throttle.WithCost(ctx, "input-tokens", c.PromptTokens)
			return throttle.WithCost(ctx, "output-tokens", c.MaxTokens)
		},
		Done: func(resp *http.Response, _ llmimit.Call, u llmimit.Usage) {
			if d == llmimit.OpenAI {
				throttle.Settle(resp, "tokens", u.TotalTokens)
				return
			}
			throttle.Settle(resp, "output-tokens", u.OutputTokens)
		},
	}
}

// retryable is go-retryablehttp with its defaults, but ten retries (as the
// Session makes) and no logging.
func retryable() llmimit.Client {
	rc := retryablehttp.NewClient()
	rc.Logger = nil
	rc.RetryMax = 10
	return llmimit.Client{
		Close: rc.HTTPClient.CloseIdleConnections,
		Do: func(req *http.Request) (*http.Response, error) {
			rr, err := retryablehttp.FromRequest(req)
			if err != nil {
				return nil, err
			}
			return rc.Do(rr)
		},
	}
}
