package imitation

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/go-throttle/throttle/feedback"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDiscordDialect(t *testing.T) {
	r := newWindowRule(2, 500*time.Millisecond, http.StatusTooManyRequests, sayDiscord)
	r.perRoute = true
	d := r.admit(t0, "/channels/1/messages", 0)
	require.True(t, d.ok)
	h := d.header
	assert.Equal(t, "2", h.Get("X-RateLimit-Limit"))
	assert.Equal(t, "1", h.Get("X-RateLimit-Remaining"))
	assert.Equal(t, "0.500", h.Get("X-RateLimit-Reset-After"))
	assert.Equal(t, strconv.FormatFloat(float64(t0.Add(500*time.Millisecond).UnixMilli())/1000, 'f', 3, 64), h.Get("X-RateLimit-Reset"))
	bucket := h.Get("X-RateLimit-Bucket")
	assert.Len(t, bucket, 8)

	other := r.admit(t0, "/guilds/2", 0)
	assert.True(t, other.ok)
	assert.Equal(t, "1", other.header.Get("X-RateLimit-Remaining"), "each route has its own bucket")
	assert.NotEqual(t, bucket, other.header.Get("X-RateLimit-Bucket"))

	r.admit(t0, "/channels/1/messages", 0)
	d = r.admit(t0.Add(200*time.Millisecond), "/channels/1/messages", 0)
	require.False(t, d.ok)
	assert.Equal(t, http.StatusTooManyRequests, d.status)
	assert.Equal(t, "0.300", d.header.Get("X-RateLimit-Reset-After"))
	assert.Equal(t, "1", d.header.Get("Retry-After"), "whole seconds, rounded up")
	assert.Equal(t, "user", d.header.Get("X-RateLimit-Scope"))
	var body struct {
		RetryAfter float64 `json:"retry_after"`
		Global     bool    `json:"global"`
	}
	require.NoError(t, json.Unmarshal([]byte(d.body), &body))
	assert.Equal(t, 0.3, body.RetryAfter)

	s := feedback.Parse(d.header, d.status, t0.Add(200*time.Millisecond))
	assert.True(t, s.Throttled)
}

func TestGitHubDialect(t *testing.T) {
	r := newWindowRule(100, time.Second, http.StatusTooManyRequests, sayGitHub)
	now := t0.Add(300 * time.Millisecond)
	d := r.admit(now, "/", 0)
	require.True(t, d.ok)
	h := d.header
	assert.Equal(t, "100", h.Get("x-ratelimit-limit"))
	assert.Equal(t, "99", h.Get("x-ratelimit-remaining"))
	assert.Equal(t, "1", h.Get("x-ratelimit-used"))
	assert.Equal(t, "core", h.Get("x-ratelimit-resource"))
	assert.Equal(t, strconv.FormatInt(t0.Unix()+2, 10), h.Get("x-ratelimit-reset"), "the window ends at t0+1.3 s, said as t0+2 s")

	s := feedback.Parse(h, http.StatusOK, now)
	assert.True(t, s.HasRemaining)
	assert.Equal(t, 99, s.Remaining)
}

func TestIETF10Dialect(t *testing.T) {
	r := newWindowRule(100, time.Second, http.StatusTooManyRequests, sayIETF10)
	d := r.admit(t0, "/", 0)
	assert.Equal(t, `"default";q=100;w=1`, d.header.Get("RateLimit-Policy"))
	assert.Equal(t, `"default";r=99;t=1`, d.header.Get("RateLimit"))
	s := feedback.Parse(d.header, http.StatusOK, t0)
	require.Equal(t, 1, s.NPolicies)
	assert.Equal(t, 100, s.Policies[0].Quota)
	assert.Equal(t, time.Second, s.Policies[0].Window)
	assert.Equal(t, 99, s.Remaining)
}

func TestIETF06Dialect(t *testing.T) {
	r := newWindowRule(100, time.Second, http.StatusTooManyRequests, sayIETF06)
	d := r.admit(t0, "/", 0)
	assert.Equal(t, "100, 100;w=1", d.header.Get("RateLimit-Limit"))
	assert.Equal(t, "99", d.header.Get("RateLimit-Remaining"))
	assert.Equal(t, "1", d.header.Get("RateLimit-Reset"))
	s := feedback.Parse(d.header, http.StatusOK, t0)
	assert.True(t, s.HasRemaining)
	assert.Equal(t, 99, s.Remaining)
	assert.Equal(t, t0.Add(time.Second), s.ResetAt)
}

func TestShopifyHeaderIsRead(t *testing.T) {
	b := &leakyBucket{capacity: 1, rate: 1, retryAfter: "2.0"}
	b.admit(t0, "", 0)
	d := b.admit(t0, "", 0)
	s := feedback.Parse(d.header, d.status, t0)
	assert.True(t, s.Throttled)
	assert.Equal(t, t0.Add(2*time.Second), s.Until, "decimal Retry-After")
}
