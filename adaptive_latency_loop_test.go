package throttle

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// kneeServer is a loopback host with 8 workers whose work slows as
// requests pile up, as a server's does when it thrashes: a request takes
// 5 ms of a worker up to 8 requests in the server, and then 5 ms times
// the square of how far above 7 the count is, at most workCap; requests
// beyond the 8 being worked on queue. So its answers take 5 ms up to 8 in
// flight and steeply longer above, and its throughput falls from 1,600
// to 400 a second when pushed. It records the count each request found
// on arrival and how long each took, queueing included.
type kneeServer struct {
	*recorder
	inflight atomic.Int64
	workers  chan struct{}
	mu       sync.Mutex
	ks       []int
	took     []time.Duration
}

const workCap = 20 * time.Millisecond

func newKneeServer(t *testing.T) *kneeServer {
	ks := &kneeServer{workers: make(chan struct{}, 8)}
	ks.recorder = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		k := int(ks.inflight.Add(1))
		defer ks.inflight.Add(-1)
		ks.workers <- struct{}{}
		over := max(1, int(ks.inflight.Load())-7)
		time.Sleep(min(5*time.Millisecond*time.Duration(over*over), workCap))
		<-ks.workers
		io.WriteString(w, "ok")
		ks.mu.Lock()
		ks.ks = append(ks.ks, k)
		ks.took = append(ks.took, time.Since(start))
		ks.mu.Unlock()
	})
	return ks
}

// kneeRun is what one client's run against a kneeServer measured.
type kneeRun struct {
	elapsed           time.Duration
	medianK, p90K     int
	p50, p99          time.Duration
	cwnd, baseLatency string
}

// runKnee sends n GETs at once to a fresh kneeServer through a Session
// made with opts, and measures the run.
func runKnee(t *testing.T, n int, opts ...Option) kneeRun {
	srv := newKneeServer(t)
	defer srv.Close()
	s, err := NewSession(opts...)
	require.NoError(t, err)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // fails, never hangs
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- getDiscard(func(r *http.Request) (*http.Response, error) { return s.Do(r.WithContext(ctx)) }, srv.URL)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	run := kneeRun{elapsed: time.Since(start)}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	ks, took := slices.Clone(srv.ks), slices.Clone(srv.took)
	slices.Sort(ks)
	slices.Sort(took)
	run.medianK, run.p90K = ks[len(ks)/2], ks[len(ks)*9/10]
	run.p50, run.p99 = took[len(took)/2], took[len(took)*99/100]
	for hs := range s.Hosts() {
		run.cwnd = hs.Concurrency.String()
	}
	ht := s.transport.hosts
	ht.mu.Lock()
	for _, h := range ht.m {
		if h.ad != nil && h.ad.lat != nil {
			run.baseLatency = time.Duration(h.ad.lat.base).Round(10 * time.Microsecond).String()
		}
	}
	ht.mu.Unlock()
	return run
}

// Against a loopback host that slows steeply above 8 in flight, a Session
// with no limits of its own but the latency signal keeps near 8 in
// flight, where one without it pushes the host to everything its callers
// have: it finishes at least as fast, and the host's answers take far
// less time. The bounds are loose, for a
// noisy 2-core machine: the figures of a quiet run are in the log.
func TestAdaptLatencyLoopback(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 400 // the slow start's overshoot is then most of the p99
	}
	with := runKnee(t, n, WithAdaptive(true, AdaptLatency(1.5)))
	without := runKnee(t, n)
	t.Logf("AdaptLatency(1.5): %v, server in flight median %d p90 %d, answers p50 %v p99 %v, limit %s, base %s",
		with.elapsed.Round(time.Millisecond), with.medianK, with.p90K, with.p50.Round(time.Millisecond), with.p99.Round(time.Millisecond), with.cwnd, with.baseLatency)
	t.Logf("without:           %v, server in flight median %d p90 %d, answers p50 %v p99 %v, limit %s",
		without.elapsed.Round(time.Millisecond), without.medianK, without.p90K, without.p50.Round(time.Millisecond), without.p99.Round(time.Millisecond), without.cwnd)
	require.LessOrEqual(t, with.medianK, 12, "in flight near the knee")
	require.LessOrEqual(t, with.p90K, 16)
	// The two runs are timed one after the other on a machine that other
	// test binaries load: with one CPU thread under load the run with the
	// signal once took 1.4 times the run without, as the signal also sees
	// the test process starved. What it must not do is throttle the host
	// into a crawl; the figures of how much faster it is are in the README.
	require.Less(t, with.elapsed, without.elapsed*2, "not much slower than without the signal")
	require.Less(t, with.p99, without.p99, "the host's answers take less time")
	require.Less(t, with.p50, without.p50/4)
}

// BenchmarkAdaptLatencyFirstBurst is BenchmarkFirstBurst's session with
// and without the latency signal, on a host whose latency does not move
// with load: what the signal costs a host that never slows (it should
// cost nothing but the trace each attempt then carries).
func BenchmarkAdaptLatencyFirstBurst(b *testing.B) {
	const burst = 200
	for _, latency := range []time.Duration{time.Millisecond, 5 * time.Millisecond} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(latency)
			io.WriteString(w, "ok")
		}))
		for _, impl := range []struct {
			name string
			opts []Option
		}{
			{"session", nil},
			{"latency", []Option{WithAdaptive(true, AdaptLatency(1.5))}},
		} {
			b.Run("latency="+latency.String()+"/impl="+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					s, err := NewSession(impl.opts...)
					if err != nil {
						b.Fatal(err)
					}
					var wg sync.WaitGroup
					for range burst {
						wg.Add(1)
						go func() {
							defer wg.Done()
							if err := getDiscard(s.Do, srv.URL); err != nil {
								b.Error(err)
							}
						}()
					}
					wg.Wait()
					s.Close()
				}
			})
		}
		srv.Close()
	}
}
