// Package clients builds the clients of issue 9's table: plain
// go-retryablehttp, a throttle Session with retries and no limits, and a
// throttle Session told the server's limit.
package clients

import (
	"fmt"
	"net/http"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/internal/imitation"
	"github.com/go-throttle/throttle/ratelimit"
	retryablehttp "github.com/hashicorp/go-retryablehttp"
)

// MaxRetries is every client's retry count: large enough that no client
// gives up within a run's bound.
const MaxRetries = 100

// A Mode is one column of the table: a way of building a client for a
// server whose operator states limit.
type Mode struct {
	Name string
	// New returns a client and a function that releases it.
	New func(limit imitation.Limit) (*http.Client, func(), error)
}

// The table's columns.
const (
	Retryable = "retryablehttp"
	Untold    = "throttle"
	Told      = "throttle-told"
)

// Modes are the table's columns, in order.
func Modes() []Mode {
	return []Mode{
		{Name: Retryable, New: func(imitation.Limit) (*http.Client, func(), error) {
			c := NewRetryable()
			return c, c.CloseIdleConnections, nil
		}},
		{Name: Untold, New: func(imitation.Limit) (*http.Client, func(), error) {
			return session()
		}},
		{Name: Told, New: func(l imitation.Limit) (*http.Client, func(), error) {
			opts, err := Options(l)
			if err != nil {
				return nil, nil, err
			}
			return session(opts...)
		}},
	}
}

// NewRetryable is go-retryablehttp with its defaults (backoff from 1 s to
// 30 s, Retry-After honoured on 429 and 503, its pooled transport), no
// logger, and MaxRetries retries.
func NewRetryable() *http.Client {
	c := retryablehttp.NewClient()
	c.RetryMax = MaxRetries
	c.Logger = nil
	return c.StandardClient()
}

// session is a throttle Session with MaxRetries retries and the default
// policy, plus opts.
func session(opts ...throttle.Option) (*http.Client, func(), error) {
	opts = append(opts, throttle.WithRetry(throttle.RetryPolicy{MaxRetries: MaxRetries}))
	s, err := throttle.NewSession(opts...)
	if err != nil {
		return nil, nil, err
	}
	return s.HTTPClient(), func() { _ = s.Close() }, nil
}

// Options are the throttle options that state l: a strict window per
// host, a token bucket, an in-flight cap per host.
func Options(l imitation.Limit) ([]throttle.Option, error) {
	var opts []throttle.Option
	if w := l.Window; w.N > 0 {
		opts = append(opts, throttle.WithHostRateLimit(w.N, w.Per))
	}
	if b := l.Bucket; b.N > 0 {
		bucket, err := ratelimit.NewBucket(b.N, b.Per, ratelimit.WithBurst(max(l.Burst, 1)))
		if err != nil {
			return nil, fmt.Errorf("clients: bucket %d per %v burst %d: %w", b.N, b.Per, l.Burst, err)
		}
		opts = append(opts, throttle.WithLimiter(bucket))
	}
	if l.InFlight > 0 {
		opts = append(opts, throttle.WithHostConcurrency(l.InFlight))
	}
	return opts, nil
}
