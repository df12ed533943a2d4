package throttle_test

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// streamSize is the size of the streamed uploads: 1 GiB, which goes
// through loopback in a few seconds even under -race.
const streamSize = 1 << 30

// streamZeros fills every read with zeros and holds nothing.
type streamZeros struct{}

func (streamZeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// streamOnly hides everything but Read, so the body is a one-shot stream
// of unknown length, sent chunked.
type streamOnly struct{ r io.Reader }

func (s streamOnly) Read(p []byte) (int, error) { return s.r.Read(p) }

// streamPeakHeap samples HeapInuse until stop is called, which returns the
// largest sample.
func streamPeakHeap() (stop func() uint64) {
	done := make(chan struct{})
	var (
		wg   sync.WaitGroup
		peak uint64
	)
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// A streamed upload of 1 GiB, bare or in a Payload, is never held in
// memory: the heap stays flat while the server receives every byte.
func TestStreamLargeUploadKeepsMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1 GiB; skipped with -short")
	}
	bodies := []struct {
		name string
		body func(t *testing.T) io.Reader
	}{
		{"plain stream", func(*testing.T) io.Reader {
			return streamOnly{io.LimitReader(streamZeros{}, streamSize)}
		}},
		{"Payload over a stream", func(t *testing.T) io.Reader {
			p, err := throttle.NewPayload(streamOnly{io.LimitReader(streamZeros{}, streamSize)}, 4<<30)
			require.NoError(t, err)
			return p
		}},
	}
	for _, b := range bodies {
		t.Run(b.name, func(t *testing.T) {
			var received atomic.Int64
			var chunked atomic.Bool
			srv := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				chunked.Store(len(r.TransferEncoding) == 1 && r.TransferEncoding[0] == "chunked")
				n, err := io.Copy(io.Discard, r.Body)
				received.Store(n)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
				}
			}))
			s, err := throttle.NewSession()
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })

			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			stop := streamPeakHeap()
			start := time.Now()

			resp, err := s.Post(context.Background(), srv.URL, "application/octet-stream", b.body(t))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			elapsed := time.Since(start)
			peak := stop()
			require.NoError(t, err)

			growth := int64(peak) - int64(base.HeapInuse)
			t.Logf("%d MiB in %v; heap in use %d MiB before, peak growth %.1f MiB",
				streamSize>>20, elapsed.Round(time.Millisecond), base.HeapInuse>>20, float64(growth)/(1<<20))
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.True(t, chunked.Load(), "a stream of unknown length is sent chunked")
			assert.EqualValues(t, streamSize, received.Load(), "bytes the server received")
			assert.EqualValues(t, streamSize, s.Stats().BytesSent)
			assert.Less(t, growth, int64(50<<20), "peak heap growth")
		})
	}
}
