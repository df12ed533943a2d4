package imitation

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
}

func TestMeasureAllAccepted(t *testing.T) {
	srv := Start(newHandler("open", newWindowRule(1000, time.Hour, http.StatusTooManyRequests, nil), time.Millisecond))
	defer srv.Close()
	c := newClient()
	defer c.CloseIdleConnections()
	res := Measure(context.Background(), c, srv, 50)
	assert.Equal(t, 50, res.OK)
	assert.Equal(t, 0, res.Failed+res.Unfinished)
	assert.Equal(t, 50, res.Server.Accepted)
	assert.Equal(t, 0, res.Rejections())
	assert.Equal(t, time.Millisecond, res.Ideal)
	assert.Positive(t, res.Elapsed)
	assert.Equal(t, "0 / ", res.Cell()[:4])

	again := Measure(context.Background(), c, srv, 10)
	assert.Equal(t, 10, again.Server.Accepted, "counts are the run's own")
	assert.Equal(t, 0, again.Server.Duplicates, "ids differ between runs")
}

func TestMeasureRejectionsFail(t *testing.T) {
	srv := Start(newHandler("silent", newWindowRule(10, time.Hour, http.StatusTooManyRequests, nil), 0))
	defer srv.Close()
	c := newClient()
	defer c.CloseIdleConnections()
	res := Measure(context.Background(), c, srv, 15)
	assert.Equal(t, 10, res.OK)
	assert.Equal(t, 5, res.Failed, "a plain client takes a 429 as final")
	assert.Equal(t, map[int]int{429: 5}, res.Server.Rejected)
	assert.Equal(t, []string{"status 429"}, res.Errors)
	assert.Contains(t, res.Cell(), "5 failed")
}

func TestMeasureUnfinished(t *testing.T) {
	srv := Start(newHandler("slow", newWindowRule(100, time.Hour, http.StatusTooManyRequests, nil), time.Hour))
	defer srv.Close()
	c := newClient()
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res := Measure(ctx, c, srv, 5)
	assert.Equal(t, 5, res.Unfinished)
	assert.Equal(t, 0, res.OK+res.Failed)
	assert.GreaterOrEqual(t, res.Elapsed, 90*time.Millisecond, "elapsed runs to the bound")
	assert.Contains(t, res.Cell(), "5 unfinished")
}

func TestBound(t *testing.T) {
	assert.Equal(t, 8*time.Second, Bound(2*time.Second))
	assert.Equal(t, MaxBound, Bound(time.Minute))
	assert.Equal(t, MinBound, Bound(time.Millisecond))
}
