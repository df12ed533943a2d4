package real

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/imitation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, name string) *Server {
	t.Helper()
	for _, spec := range Specs() {
		if spec.Name == name {
			s, err := spec.Start()
			Require(t, err)
			t.Cleanup(func() { assert.NoError(t, s.Close()) })
			return s
		}
	}
	t.Fatalf("no real server %q", name)
	return nil
}

// burst sends n requests at once with a plain client and returns how many
// got each status.
func burst(t *testing.T, url string, n int) map[int]int {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return codes
}

func TestNginxLimitReq(t *testing.T) {
	s := start(t, "real-nginx-req")
	codes := burst(t, s.URL(), 100)
	// 100 requests reach nginx within far less than the 700 ms it would
	// take to accept them all at one per 7 ms, even on a loaded machine.
	assert.Positive(t, codes[429], "%v", codes)
	assert.Equal(t, 100, codes[200]+codes[429], "%v", codes)
	c := s.Counts()
	assert.Equal(t, codes[200], c.Accepted)
	assert.Equal(t, map[int]int{429: codes[429]}, c.Rejected, "counted from nginx's log")
	assert.Equal(t, imitation.IdealLimitReq(150, 0, 300, reqService), s.Ideal(300))
}

func TestNginxLimitReqBurst(t *testing.T) {
	s := start(t, "real-nginx-burst")
	codes := burst(t, s.URL(), 150)
	assert.GreaterOrEqual(t, codes[200], 21, "burst=20 nodelay lets 21 through at once: %v", codes)
	assert.Positive(t, codes[429], "%v", codes)
	assert.Equal(t, codes[429], s.Counts().Rejections())
}

func TestNginxLimitConn(t *testing.T) {
	s := start(t, "real-nginx-conn")
	codes := burst(t, s.URL(), 30)
	assert.Positive(t, codes[429], "more than 4 at once: %v", codes)
	assert.GreaterOrEqual(t, codes[200], 4, "%v", codes)
	assert.Equal(t, codes[200], s.Counts().Accepted)
	assert.Equal(t, codes[429], s.Counts().Rejections())
}

func TestHAProxyHTTPReqRate(t *testing.T) {
	s := start(t, "real-haproxy")
	codes := burst(t, s.URL(), 170)
	assert.Equal(t, map[int]int{200: 150, 429: 20}, codes, "the first 150 within a second pass")
	c := s.Counts()
	assert.Equal(t, 150, c.Accepted)
	assert.Equal(t, map[int]int{429: 20}, c.Rejected, "counted from HAProxy's log")
}

func TestMissingBinary(t *testing.T) {
	_, err := binary("no-such-server-binary", "no-such-package")
	require.ErrorIs(t, err, ErrNotInstalled)
	assert.Contains(t, err.Error(), "apt-get install no-such-package")
}
