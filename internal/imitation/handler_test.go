package imitation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandlerCounts(t *testing.T) {
	h := newHandler("t", newWindowRule(2, time.Hour, http.StatusTooManyRequests, sayIETF06), 0)
	codes := []int{}
	for _, id := range []string{"a", "b", "a", "c"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/t?"+IDParam+"="+id, nil))
		codes = append(codes, w.Code)
		if w.Code == http.StatusTooManyRequests {
			assert.Equal(t, "0", w.Header().Get("RateLimit-Remaining"), "a rejection carries the dialect's fields")
		}
	}
	assert.Equal(t, []int{200, 200, 429, 429}, codes)
	c := h.Counts()
	assert.Equal(t, 2, c.Accepted)
	assert.Equal(t, map[int]int{429: 2}, c.Rejected)
	assert.Equal(t, 2, c.Rejections())
	assert.Equal(t, 0, c.Duplicates)
	c.Rejected[429] = 99
	assert.Equal(t, 2, h.Counts().Rejections(), "Counts returns a copy")
}

func TestHandlerDuplicates(t *testing.T) {
	h := newHandler("t", newWindowRule(10, time.Hour, http.StatusTooManyRequests, nil), 0)
	for _, id := range []string{"a", "a", "b"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/t?"+IDParam+"="+id, nil))
	}
	assert.Equal(t, 1, h.Counts().Duplicates)
}

// TestHandlerInflight checks that an accepted request is in flight until
// its answer is written, and not after: a client that sends its next
// request on receiving an answer never trips the cap.
func TestHandlerInflight(t *testing.T) {
	h := newHandler("t", &inflightRule{limit: 1, status: http.StatusServiceUnavailable, retryAfter: "1"}, 50*time.Millisecond)
	srv := Start(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan int, 1)
	go func() { first <- get(t, ctx, srv.URL()) }()
	require.Eventually(t, func() bool { return h.Counts().Accepted == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, http.StatusServiceUnavailable, get(t, ctx, srv.URL()), "the second, while the first is served")
	assert.Equal(t, http.StatusOK, <-first)
	for range 5 {
		assert.Equal(t, http.StatusOK, get(t, ctx, srv.URL()), "one after another")
	}
	assert.Equal(t, 6, h.Counts().Accepted)
	assert.Equal(t, map[int]int{503: 1}, h.Counts().Rejected)
}

func get(t *testing.T, ctx context.Context, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCatalogue(t *testing.T) {
	names := map[string]bool{}
	for _, s := range Imitations() {
		assert.False(t, names[s.Name], "name %s twice", s.Name)
		names[s.Name] = true
		h := s.New()
		assert.Equal(t, s.Name, h.Name())
		ideal := h.Ideal(ScaleN)
		assert.InDelta(t, 2*time.Second, ideal, float64(150*time.Millisecond), "%s: ideal %v for %d requests", s.Name, ideal, ScaleN)
		assert.NotEqual(t, Limit{}, s.Limit, "%s says its limit", s.Name)
		assert.NotEmpty(t, s.What)
	}
	assert.Len(t, names, 12)
}
