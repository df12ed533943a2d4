package imitation

import (
	"net/http"
	"time"
)

// Rate is "n requests per per".
type Rate struct {
	N   int
	Per time.Duration
}

// Limit is what a server's operator would tell a client about its rule,
// in the terms a client library takes. Zero fields say nothing.
type Limit struct {
	// Window: at most Window.N requests in any window of Window.Per.
	Window Rate
	// Bucket and Burst: a token bucket refilled at Bucket.N per
	// Bucket.Per, Burst requests at once.
	Bucket Rate
	Burst  int
	// InFlight: at most this many requests in flight.
	InFlight int
}

// Spec is one row of issue 9's table: a server and what it does.
type Spec struct {
	Name  string // short, for -only and subtest names
	What  string // what it does, for the table
	Limit Limit  // what a client is told
	New   func() *Handler
}

// The service times: a few ms for the rate rules, and for each in-flight
// cap k the time that makes ceil(300/k) rounds take 2 s.
const (
	rateService = 5 * time.Millisecond
	// ScaleN is the number of requests the catalogue is scaled for.
	ScaleN = 300
)

// Imitations is the catalogue: one imitation per row of issue 9's table,
// each scaled so that ScaleN requests fired at once have an Ideal of about
// 2 s (each Handler's Ideal says exactly how long).
func Imitations() []Spec {
	return []Spec{
		{
			Name: "silent", What: "100/s fixed window, bare 429, no headers",
			Limit: Limit{Window: Rate{100, time.Second}},
			New: func() *Handler {
				return newHandler("silent", newWindowRule(100, time.Second, http.StatusTooManyRequests, nil), rateService)
			},
		},
		{
			Name: "busy503", What: "503 + Retry-After: 1 when > 6 in flight",
			Limit: Limit{InFlight: 6},
			New: func() *Handler {
				return newHandler("busy503", &inflightRule{limit: 6, status: http.StatusServiceUnavailable, retryAfter: "1"}, 40*time.Millisecond)
			},
		},
		{
			Name: "busy429", What: "bare 429 when > 3 in flight",
			Limit: Limit{InFlight: 3},
			New: func() *Handler {
				return newHandler("busy429", &inflightRule{limit: 3, status: http.StatusTooManyRequests}, 20*time.Millisecond)
			},
		},
		{
			Name: "shopify", What: "Shopify leaky bucket 40, leaks 130/s, 429 Retry-After: 2.0",
			Limit: Limit{Bucket: Rate{130, time.Second}, Burst: 40},
			New: func() *Handler {
				return newHandler("shopify", &leakyBucket{capacity: 40, rate: 130, retryAfter: "2.0"}, rateService)
			},
		},
		{
			Name: "discord", What: "Discord bucket per route, 60 per 0.5 s, X-RateLimit-Reset-After",
			Limit: Limit{Window: Rate{60, 500 * time.Millisecond}},
			New: func() *Handler {
				r := newWindowRule(60, 500*time.Millisecond, http.StatusTooManyRequests, sayDiscord)
				r.perRoute = true
				return newHandler("discord", r, rateService)
			},
		},
		{
			Name: "github", What: "GitHub x-ratelimit-*, 100 per 1 s, 429 at 0",
			Limit: Limit{Window: Rate{100, time.Second}},
			New: func() *Handler {
				return newHandler("github", newWindowRule(100, time.Second, http.StatusTooManyRequests, sayGitHub), rateService)
			},
		},
		{
			Name: "ietf10", What: `IETF -10 RateLimit-Policy "default";q=100;w=1`,
			Limit: Limit{Window: Rate{100, time.Second}},
			New: func() *Handler {
				return newHandler("ietf10", newWindowRule(100, time.Second, http.StatusTooManyRequests, sayIETF10), rateService)
			},
		},
		{
			Name: "ietf06", What: "IETF -06 RateLimit-Limit: 100, 100;w=1",
			Limit: Limit{Window: Rate{100, time.Second}},
			New: func() *Handler {
				return newHandler("ietf06", newWindowRule(100, time.Second, http.StatusTooManyRequests, sayIETF06), rateService)
			},
		},
		{
			Name: "nginx-req", What: "nginx limit_req rate=150r/s (model), bare 429",
			Limit: Limit{Bucket: Rate{150, time.Second}, Burst: 1},
			New:   func() *Handler { return newHandler("nginx-req", newNginxLimitReq(150, 0), rateService) },
		},
		{
			Name: "nginx-burst", What: "nginx limit_req rate=140r/s burst=20 nodelay (model)",
			Limit: Limit{Bucket: Rate{140, time.Second}, Burst: 21},
			New:   func() *Handler { return newHandler("nginx-burst", newNginxLimitReq(140, 20), rateService) },
		},
		{
			Name: "nginx-conn", What: "nginx limit_conn 4, limit_conn_status 429 (model)",
			Limit: Limit{InFlight: 4},
			New: func() *Handler {
				return newHandler("nginx-conn", &inflightRule{limit: 4, status: http.StatusTooManyRequests}, LimitConnService)
			},
		},
		{
			Name: "haproxy", What: "HAProxy http_req_rate(1s) gt 150 denies 429 (model)",
			Limit: Limit{Window: Rate{150, time.Second}},
			New: func() *Handler {
				return newHandler("haproxy", &haproxyRate{limit: 150, period: 1000}, rateService)
			},
		},
	}
}

// LimitConnService is the service time behind a limit_conn 4: 75 rounds
// of it take 2 s.
const LimitConnService = 2 * time.Second / 75
