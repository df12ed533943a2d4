package throttle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

// chanSlots is a ConcurrencyLimiter of n slots that counts its releases
// and fails if a slot is released twice.
type chanSlots struct {
	ch       chan struct{}
	acquired atomic.Int64
	released atomic.Int64
	closed   atomic.Int64
	idle     bool
}

func newChanSlots(n int) *chanSlots { return &chanSlots{ch: make(chan struct{}, n)} }

func (c *chanSlots) Acquire(ctx context.Context) (func(), error) {
	select {
	case c.ch <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.acquired.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			c.released.Add(1)
			<-c.ch
		})
	}, nil
}

func (c *chanSlots) IdleAt(time.Time) bool { return c.idle && len(c.ch) == 0 }
func (c *chanSlots) Close() error          { c.closed.Add(1); return nil }

// pendingLimiter grants at once, pending, and counts what becomes of its
// grants.
type pendingLimiter struct {
	reserved, commits, cancels, restamps atomic.Int64
}

func (p *pendingLimiter) Acquire(context.Context, int) error {
	return errors.New("Acquire must not be called")
}

func (p *pendingLimiter) Reserve(_ context.Context, n int) (*ratelimit.Grant, error) {
	p.reserved.Add(1)
	return ratelimit.NewPendingGrant(n, pendingCounts{p}), nil
}

type pendingCounts struct{ p *pendingLimiter }

func (c pendingCounts) Commit()  { c.p.commits.Add(1) }
func (c pendingCounts) Cancel()  { c.p.cancels.Add(1) }
func (c pendingCounts) Restamp() { c.p.restamps.Add(1) }

func TestSharedConcurrencyBoundsInFlight(t *testing.T) {
	gate, open := newLatch()
	defer open()
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { <-gate })
	slots := newChanSlots(2)
	s, err := NewSession(WithSharedConcurrency(slots))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			resp, err := s.Get(ctx, rec.URL)
			if err != nil {
				t.Error(err)
				return
			}
			drain(resp)
		})
	}
	waitFor(t, "two requests in flight", func() bool { return rec.active.Load() == 2 })
	waitFor(t, "four callers waiting", func() bool { return s.Stats().Waiting == 4 })
	open()
	wg.Wait()
	if m := rec.maxActive.Load(); m > 2 {
		t.Fatalf("%d in flight at once, want at most 2", m)
	}
	if a, r := slots.acquired.Load(), slots.released.Load(); a != 6 || r != 6 {
		t.Fatalf("acquired %d, released %d; want 6 and 6", a, r)
	}
}

// An attempt holds its host's shared token pending until its headers are
// written; one that gives up its turn waiting for a later limit gives the
// token back.
func TestSharedHostTokenPendingAndGivenBack(t *testing.T) {
	rec := newRecorder(t, nil)
	lim := &pendingLimiter{}
	var made atomic.Int64
	slots := newChanSlots(1)
	s, err := NewSession(
		WithHostLimiter(func(host string) ratelimit.Limiter { made.Add(1); return lim }),
		WithSharedConcurrency(slots),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range 3 {
		resp, err := s.Get(ctx, rec.URL)
		if err != nil {
			t.Fatal(err)
		}
		drain(resp)
	}
	if c, x := lim.commits.Load(), lim.cancels.Load(); c != 3 || x != 0 {
		t.Fatalf("commits %d, cancels %d; want 3 and 0", c, x)
	}
	if made.Load() != 1 {
		t.Fatalf("the host's limiter was made %d times, want once", made.Load())
	}
	// Hold the only shared slot: the next caller takes its host token,
	// then waits for the slot until its context ends.
	release, err := slots.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if _, err := s.Get(short, rec.URL); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if c, x := lim.commits.Load(), lim.cancels.Load(); c != 3 || x != 1 {
		t.Fatalf("commits %d, cancels %d; want 3 and 1 (the token given back)", c, x)
	}
	if rec.count.Load() != 3 {
		t.Fatalf("server saw %d requests, want 3", rec.count.Load())
	}
}

// WithLimiter's limiters with a Reserve method are held pending too when
// the caller must wait, and given back when it gives up.
func TestExtraLimiterReservedWhenWaiting(t *testing.T) {
	rec := newRecorder(t, nil)
	lim := &pendingLimiter{}
	s, err := NewSession(WithLimiter(lim))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := s.Get(context.Background(), rec.URL)
	if err != nil {
		t.Fatal(err)
	}
	drain(resp)
	if lim.reserved.Load() != 1 || lim.commits.Load() != 1 {
		t.Fatalf("reserved %d, committed %d; want 1 and 1", lim.reserved.Load(), lim.commits.Load())
	}
}

func TestHostConcurrencyLimiterPerHost(t *testing.T) {
	gate, open := newLatch()
	defer open()
	a := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { <-gate })
	b := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { <-gate })
	var mu sync.Mutex
	byHost := map[string]*chanSlots{}
	s, err := NewSession(WithHostConcurrencyLimiter(func(host string) ConcurrencyLimiter {
		mu.Lock()
		defer mu.Unlock()
		l := newChanSlots(1)
		byHost[host] = l
		return l
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, rec := range []*recorder{a, a, a, b, b} {
		wg.Go(func() {
			resp, err := s.Get(ctx, rec.URL)
			if err != nil {
				t.Error(err)
				return
			}
			drain(resp)
		})
	}
	waitFor(t, "one request in flight per host", func() bool { return a.active.Load() == 1 && b.active.Load() == 1 })
	waitFor(t, "three callers waiting", func() bool { return s.Stats().Waiting == 3 })
	open()
	wg.Wait()
	if a.maxActive.Load() != 1 || b.maxActive.Load() != 1 {
		t.Fatalf("max in flight: %d and %d, want 1 each", a.maxActive.Load(), b.maxActive.Load())
	}
	s.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(byHost) != 2 {
		t.Fatalf("limiters made for %d hosts, want 2", len(byHost))
	}
	for host, l := range byHost {
		if l.closed.Load() != 1 {
			t.Errorf("host %s: limiter closed %d times, want once at Close", host, l.closed.Load())
		}
	}
}

// A host whose function gives it no limiter has none.
func TestHostLimiterNilMeansNone(t *testing.T) {
	rec := newRecorder(t, nil)
	s, err := NewSession(WithHostLimiter(func(string) ratelimit.Limiter { return nil }),
		WithHostConcurrencyLimiter(func(string) ConcurrencyLimiter { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := s.Get(context.Background(), rec.URL)
	if err != nil {
		t.Fatal(err)
	}
	drain(resp)
}

func TestSharedOptionsNil(t *testing.T) {
	_, err := NewSession(WithSharedConcurrency(nil), WithHostLimiter(nil), WithHostConcurrencyLimiter(nil),
		WithSharedConcurrency((*chanSlots)(nil)))
	if !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("err = %v, want ErrInvalidOption", err)
	}
	for _, name := range []string{"WithSharedConcurrency(nil)", "WithHostLimiter((func(string) ratelimit.Limiter)(nil))", "WithHostConcurrencyLimiter((func(string) throttle.ConcurrencyLimiter)(nil))", "WithSharedConcurrency((*throttle.chanSlots)(nil))"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

// Idle per-host limiters are dropped, and closed, as new hosts come: the
// table stays bounded by the hosts in use.
func TestHostLimitersDropIdle(t *testing.T) {
	var made, closed atomic.Int64
	k := newHostLimiters(func(host string) ConcurrencyLimiter {
		made.Add(1)
		l := newChanSlots(1)
		l.idle = true
		return closeCounter{l, &closed}
	}, realClockForTest{})
	held := k.get("busy")
	for i := range 1000 {
		e := k.get(fmt.Sprint("host", i))
		k.put(e)
	}
	k.mu.Lock()
	n := len(k.m)
	_, busy := k.m["busy"]
	k.mu.Unlock()
	if n > 20 || !busy {
		t.Fatalf("%d entries kept (busy kept: %v); want few, the busy one among them", n, busy)
	}
	if closed.Load() == 0 || closed.Load() != made.Load()-int64(n) {
		t.Fatalf("made %d, closed %d, kept %d", made.Load(), closed.Load(), n)
	}
	k.close()
	if _, still := k.m["busy"]; !still {
		t.Fatal("close dropped an entry in use")
	}
	k.put(held)
	if len(k.m) != 0 || closed.Load() != made.Load() {
		t.Fatalf("after close and the last put: %d kept, %d of %d closed", len(k.m), closed.Load(), made.Load())
	}
}

type closeCounter struct {
	*chanSlots
	n *atomic.Int64
}

func (c closeCounter) Close() error { c.n.Add(1); return nil }

type realClockForTest struct{}

func (realClockForTest) Now() time.Time { return time.Now() }
func (realClockForTest) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}
