package throttle_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/internal/llmimit"
	"github.com/hashicorp/go-retryablehttp"
)

// llmRun is one client against one imitation.
type llmRun struct {
	name   string
	opts   func(cfg llmimit.Config) []throttle.Option // nil: go-retryablehttp
	max    float64                                    // the time allowed, as a multiple of the ideal
	max429 int64                                      // the 429s allowed
}

// TestLLMImitations sends 500 calls at once with random max_tokens to the
// OpenAI-style and the Anthropic-style imitation, whose token budgets are
// scaled so that the ideal is 2 s (issue 13). A Session that only says what
// each call costs (WithCost, and Settle with the usage) learns the budgets
// the server states and earns at most a handful of 429s; one told the
// budgets (WithBudget) earns none. Both finish near the ideal: the issue
// asks 1.3x and 1.15x; the assertions leave room for a loaded machine
// (the figures are logged, and examples/llm prints them). A plain
// go-retryablehttp client runs against the same servers for comparison;
// nothing is asserted about it.
func TestLLMImitations(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: about 20 s")
	}
	calls := llmimit.Workload(500, 13)
	runs := []llmRun{
		{"cost-only", func(llmimit.Config) []throttle.Option { return nil }, 1.6, 10},
		{"budget", budgetOptions, 1.45, 2},
		{"retryablehttp", nil, 0, -1},
	}
	for _, d := range []struct {
		name    string
		dialect llmimit.Dialect
	}{{"openai", llmimit.OpenAI}, {"anthropic", llmimit.Anthropic}} {
		for _, run := range runs {
			t.Run(d.name+"/"+run.name, func(t *testing.T) {
				cfg := llmimit.ScaledConfig(d.dialect, calls, llmWindow, 2*time.Second)
				cfg.Latency = 10 * time.Millisecond
				srv := llmimit.Start(cfg)
				defer srv.Close()
				// A bound on the run, not a deadline: a budget stated without
				// its period is taken to be per minute until the first answers
				// imply the imitation's, and a deadline would make the callers
				// queued behind it give up at once (see learnedBudgets.newBudget).
				ctx, cancel := context.WithCancel(context.Background())
				defer time.AfterFunc(60*time.Second, cancel).Stop()
				defer cancel()
				var res llmimit.Result
				if run.opts == nil {
					res = llmimit.Run(ctx, srv, retryableClient(), calls)
					t.Logf("%s %s: %v", d.name, run.name, res)
					return
				}
				s, err := throttle.NewSession(append(run.opts(cfg), throttle.WithRetry(throttle.RetryPolicy{MaxRetries: 10}))...)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				res = llmimit.Run(ctx, srv, sessionClient(s, d.dialect), calls)
				t.Logf("%s %s: %v", d.name, run.name, res)
				if res.Failed != 0 {
					t.Errorf("%d calls failed", res.Failed)
				}
				if res.Rejected > run.max429 {
					t.Errorf("%d 429s, want at most %d", res.Rejected, run.max429)
				}
				if res.Ratio() > run.max {
					t.Errorf("took %.2fx the ideal, want at most %.2fx", res.Ratio(), run.max)
				}
			})
		}
	}
}

// llmWindow is the period of the imitations' budgets. The ideal is 2 s
// whatever it is, but a strict window (WithBudget) against a server that
// refills continuously loses up to a whole period at the end of a run, so
// the period is short beside the run, as a minute is beside the runs the
// real APIs see.
const llmWindow = 200 * time.Millisecond

// budgetOptions tells a Session the imitation's budgets.
func budgetOptions(cfg llmimit.Config) []throttle.Option {
	if cfg.Dialect == llmimit.OpenAI {
		return []throttle.Option{throttle.WithBudget("tokens", int64(cfg.Tokens), cfg.Window)}
	}
	return []throttle.Option{
		throttle.WithBudget("input-tokens", int64(cfg.Input), cfg.Window),
		throttle.WithBudget("output-tokens", int64(cfg.Output), cfg.Window),
	}
}

// sessionClient charges each call its prompt and max_tokens, and settles
// it with the usage its response reports.
func sessionClient(s *throttle.Session, d llmimit.Dialect) llmimit.Client {
	c := s.HTTPClient()
	return llmimit.Client{
		Do: c.Do,
		Prepare: func(ctx context.Context, call llmimit.Call) context.Context {
			if d == llmimit.OpenAI {
				return throttle.WithCost(ctx, "tokens", call.PromptTokens+call.MaxTokens)
			}
			ctx = throttle.WithCost(ctx, "input-tokens", call.PromptTokens)
			return throttle.WithCost(ctx, "output-tokens", call.MaxTokens)
		},
		Done: func(resp *http.Response, call llmimit.Call, u llmimit.Usage) {
			if d == llmimit.OpenAI {
				throttle.Settle(resp, "tokens", u.TotalTokens)
				return
			}
			throttle.Settle(resp, "output-tokens", u.OutputTokens)
		},
	}
}

// retryableClient is go-retryablehttp with its defaults but ten retries
// (a Session's above makes ten too), and no logging.
func retryableClient() llmimit.Client {
	rc := retryablehttp.NewClient()
	rc.Logger = nil
	rc.RetryMax = 10
	return llmimit.Client{Close: rc.HTTPClient.CloseIdleConnections, Do: func(req *http.Request) (*http.Response, error) {
		rr, err := retryablehttp.FromRequest(req)
		if err != nil {
			return nil, err
		}
		return rc.Do(rr)
	}}
}
