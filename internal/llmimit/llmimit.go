// Package llmimit holds loopback imitations of the two metered LLM APIs
// whose limits shape issue 13: an OpenAI-style chat-completions endpoint
// and an Anthropic-style messages endpoint. Both meter tokens as their
// originals do:
//
//   - Budgets are token buckets that refill continuously (capacity Limit,
//     Limit per Window), as OpenAI and Anthropic describe theirs.
//   - A request is admitted only if every budget it draws on has room for
//     its charge: one request, its prompt tokens, and its max_tokens,
//     charged up front. Otherwise it is answered 429 with a JSON error
//     (and retry-after, retry-after-ms), charged nothing.
//   - When the completion is done, the max_tokens it did not use are
//     given back, and the response reports its usage.
//   - Every response states the budgets in the original's headers:
//     OpenAI's x-ratelimit-{limit,remaining,reset}-{requests,tokens} with
//     resets as Go durations; Anthropic's anthropic-ratelimit-{requests,
//     input-tokens,output-tokens}-{limit,remaining,reset} with RFC 3339
//     resets (to the nanosecond, where Anthropic's are to the second).
//
// A prompt's tokens are its words (PromptTokens); the tokens a completion
// uses are what the request's "use" field asks (a test knob), capped by
// max_tokens, or max_tokens when it asks nothing. Servers listen on
// 127.0.0.1 only.
package llmimit

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Dialect says which API a Server imitates.
type Dialect int

const (
	// OpenAI meters requests and tokens (prompt plus completion together).
	OpenAI Dialect = iota
	// Anthropic meters requests, input tokens and output tokens apart.
	Anthropic
)

// Config sets a Server's budgets, each per Window.
type Config struct {
	Dialect  Dialect
	Window   time.Duration // the budgets' period; default 1 s
	Requests int           // requests per Window; 0: unmetered
	Tokens   int           // OpenAI: prompt plus completion tokens per Window
	Input    int           // Anthropic: input tokens per Window
	Output   int           // Anthropic: output tokens per Window
	Latency  time.Duration // how long a completion takes; default 20 ms
}

// Stats are what a Server counted.
type Stats struct {
	Admitted, Rejected int64
	// Input and Output are the tokens the admitted requests used
	// (prompt, and completion), after the refunds.
	Input, Output int64
}

// Server is a running imitation.
type Server struct {
	*httptest.Server
	cfg Config

	mu                    sync.Mutex
	requests, tokens      *bucket // OpenAI (requests for both)
	input, output         *bucket // Anthropic
	admitted, rejected    atomic.Int64
	usedInput, usedOutput atomic.Int64
}

// Start starts an imitation on 127.0.0.1; Close stops it.
func Start(cfg Config) *Server {
	if cfg.Window <= 0 {
		cfg.Window = time.Second
	}
	if cfg.Latency <= 0 {
		cfg.Latency = 20 * time.Millisecond
	}
	now := time.Now()
	s := &Server{cfg: cfg}
	s.requests = newBucket(cfg.Requests, cfg.Window, now)
	switch cfg.Dialect {
	case OpenAI:
		s.tokens = newBucket(cfg.Tokens, cfg.Window, now)
	case Anthropic:
		s.input = newBucket(cfg.Input, cfg.Window, now)
		s.output = newBucket(cfg.Output, cfg.Window, now)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Stats reports what the server counted so far.
func (s *Server) Stats() Stats {
	return Stats{Admitted: s.admitted.Load(), Rejected: s.rejected.Load(),
		Input: s.usedInput.Load(), Output: s.usedOutput.Load()}
}

// Ideal is the least time in which the buckets could have admitted what
// was used, had the client known them exactly: each budget holds Limit at
// the start and refills Limit per Window, so using u takes (u-Limit)/rate;
// the slowest budget sets the pace. Requests are left out: tests keep them
// far from binding.
func (s *Server) Ideal() time.Duration {
	st := s.Stats()
	return s.idealFor(st.Input, st.Output)
}

// idealFor is the Ideal of using in input and out output tokens.
func (s *Server) idealFor(in, out int64) time.Duration {
	if s.cfg.Dialect == OpenAI {
		return s.tokens.ideal(in + out)
	}
	return max(s.input.ideal(in), s.output.ideal(out))
}

// PromptTokens counts a prompt's tokens as the imitations do: its words.
func PromptTokens(text string) int64 { return int64(len(strings.Fields(text))) }

// Request is the body both endpoints read: the fields of the originals
// that matter here, and Use, the imitation's knob.
type Request struct {
	Model     string    `json:"model"`
	Messages  []Message `json:"messages"`
	MaxTokens int64     `json:"max_tokens"`
	// Use is how many completion tokens to use (at most MaxTokens); 0
	// means all of them.
	Use int64 `json:"use,omitempty"`
}

// Message is one message of a conversation.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Usage is what a response reports, under both dialects' names.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens,omitempty"`
	CompletionTokens int64 `json:"completion_tokens,omitempty"`
	TotalTokens      int64 `json:"total_tokens,omitempty"`
	InputTokens      int64 `json:"input_tokens,omitempty"`
	OutputTokens     int64 `json:"output_tokens,omitempty"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var req Request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.MaxTokens <= 0 {
		http.Error(w, `{"error":{"message":"bad request","type":"invalid_request_error"}}`, http.StatusBadRequest)
		return
	}
	var prompt int64
	for _, m := range req.Messages {
		prompt += PromptTokens(m.Content)
	}
	use := req.MaxTokens
	if req.Use > 0 {
		use = min(req.Use, req.MaxTokens)
	}
	if wait, which, ok := s.admit(prompt, req.MaxTokens); !ok {
		s.reject(w, wait, which)
		return
	}
	s.admitted.Add(1)
	time.Sleep(s.cfg.Latency)
	s.finish(prompt, req.MaxTokens, use)
	s.usedInput.Add(prompt)
	s.usedOutput.Add(use)
	s.writeState(w.Header(), time.Now())
	w.Header().Set("Content-Type", "application/json")
	u := Usage{PromptTokens: prompt, CompletionTokens: use, TotalTokens: prompt + use}
	if s.cfg.Dialect == Anthropic {
		u = Usage{InputTokens: prompt, OutputTokens: use}
	}
	json.NewEncoder(w).Encode(map[string]any{"id": "imitation", "usage": u})
}

// admit charges a request if every budget has room, or reports how long
// until they would and which budget is short.
func (s *Server) admit(prompt, maxTokens int64) (time.Duration, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	type need struct {
		b    *bucket
		n    int64
		name string
	}
	needs := []need{{s.requests, 1, "requests"}}
	if s.cfg.Dialect == OpenAI {
		needs = append(needs, need{s.tokens, prompt + maxTokens, "tokens"})
	} else {
		needs = append(needs, need{s.input, prompt, "input_tokens"}, need{s.output, maxTokens, "output_tokens"})
	}
	var wait time.Duration
	which := ""
	for _, x := range needs {
		if d := x.b.waitFor(x.n, now); d > wait {
			wait, which = d, x.name
		}
	}
	if which != "" {
		return wait, which, false
	}
	for _, x := range needs {
		x.b.take(x.n, now)
	}
	return 0, "", true
}

// finish gives back the output tokens a completion did not use.
func (s *Server) finish(prompt, maxTokens, use int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.cfg.Dialect == OpenAI {
		s.tokens.give(maxTokens-use, now)
	} else {
		s.output.give(maxTokens-use, now)
	}
}

func (s *Server) reject(w http.ResponseWriter, wait time.Duration, which string) {
	s.rejected.Add(1)
	h := w.Header()
	s.writeState(h, time.Now())
	h.Set("Content-Type", "application/json")
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	h.Set("Retry-After-Ms", strconv.FormatInt(max(wait.Milliseconds(), 1), 10))
	w.WriteHeader(http.StatusTooManyRequests)
	if s.cfg.Dialect == Anthropic {
		fmt.Fprintf(w, `{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed your organization's rate limit of %s per minute."}}`, which)
		return
	}
	fmt.Fprintf(w, `{"error":{"message":"Rate limit reached on %s. Please try again in %v.","type":"%s","param":null,"code":"rate_limit_exceeded"}}`, which, wait.Round(time.Millisecond), which)
}

// writeState states the budgets in the dialect's headers.
func (s *Server) writeState(h http.Header, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Dialect == OpenAI {
		for _, x := range []struct {
			name string
			b    *bucket
		}{{"requests", s.requests}, {"tokens", s.tokens}} {
			if x.b == nil {
				continue
			}
			rem, full := x.b.state(now)
			h.Set("X-Ratelimit-Limit-"+x.name, strconv.Itoa(x.b.limit))
			h.Set("X-Ratelimit-Remaining-"+x.name, strconv.FormatInt(rem, 10))
			h.Set("X-Ratelimit-Reset-"+x.name, full.Round(time.Microsecond).String())
		}
		return
	}
	for _, x := range []struct {
		name string
		b    *bucket
	}{{"requests", s.requests}, {"input-tokens", s.input}, {"output-tokens", s.output}} {
		if x.b == nil {
			continue
		}
		rem, full := x.b.state(now)
		p := "Anthropic-Ratelimit-" + x.name
		h.Set(p+"-Limit", strconv.Itoa(x.b.limit))
		h.Set(p+"-Remaining", strconv.FormatInt(rem, 10))
		h.Set(p+"-Reset", now.Add(full).UTC().Format(time.RFC3339Nano))
	}
}

// bucket is a token bucket that refills continuously: capacity limit,
// limit per window. A nil bucket is unmetered.
type bucket struct {
	limit int
	rate  float64 // per nanosecond
	level float64
	last  time.Time
}

func newBucket(limit int, window time.Duration, now time.Time) *bucket {
	if limit <= 0 {
		return nil
	}
	return &bucket{limit: limit, rate: float64(limit) / float64(window), level: float64(limit), last: now}
}

func (b *bucket) advance(now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.level = min(float64(b.limit), b.level+float64(d)*b.rate)
		b.last = now
	}
}

// waitFor is how long until n fit; 0 if they fit now.
func (b *bucket) waitFor(n int64, now time.Time) time.Duration {
	if b == nil {
		return 0
	}
	b.advance(now)
	if short := float64(n) - b.level; short > 0 {
		return time.Duration(math.Ceil(short / b.rate))
	}
	return 0
}

func (b *bucket) take(n int64, now time.Time) {
	if b != nil {
		b.advance(now)
		b.level -= float64(n)
	}
}

func (b *bucket) give(n int64, now time.Time) {
	if b != nil {
		b.advance(now)
		b.level = min(float64(b.limit), b.level+float64(n))
	}
}

// state is the remaining count and the time until the bucket is full.
func (b *bucket) state(now time.Time) (int64, time.Duration) {
	b.advance(now)
	rem := int64(math.Floor(max(b.level, 0)))
	return rem, time.Duration(math.Ceil((float64(b.limit) - b.level) / b.rate))
}

// ideal is how long using u takes at the least (see Server.Ideal).
func (b *bucket) ideal(u int64) time.Duration {
	if b == nil {
		return 0
	}
	return time.Duration(max(float64(u)-float64(b.limit), 0) / b.rate)
}
