package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

// limitFor is the per that TestSetLimitRace pairs with n, so that a reader
// can tell a torn Limit (an n from one SetLimit, a per from another).
func limitFor(n int) time.Duration { return time.Duration(n) * 10 * time.Millisecond }

// Every method of a Window and a Bucket, run against SetLimit and
// SetBurst from another goroutine, for the race detector: the limits they
// write are read under the limiter's lock or through the atomic
// MaxAcquire, and Limit reports a pair that one SetLimit set.
func TestSetLimitRace(t *testing.T) {
	clk := newFake()
	w, _ := ratelimit.NewWindow(4, limitFor(4), ratelimit.WithClock(clk))
	b, _ := ratelimit.NewBucket(4, limitFor(4), ratelimit.WithClock(clk))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	loop := func(f func(i int)) {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				f(i)
			}
		})
	}
	torn := make(chan string, 2)
	checkLimit := func(name string, n int, per time.Duration) {
		if per != limitFor(n) {
			select {
			case torn <- name:
			default:
			}
		}
	}
	loop(func(i int) {
		n, per := w.Limit()
		checkLimit("Window", n, per)
		n, per = b.Limit()
		checkLimit("Bucket", n, per)
		_, _ = w.MaxAcquire(), b.MaxAcquire()
		_, _ = w.HasCapacity(1), b.HasCapacity(1)
		_, _ = w.State()
		_, _ = w.IdleAt(clk.Now()), b.IdleAt(clk.Now())
		w.History(clk.Now(), func(time.Time, int) {})
	})
	loop(func(i int) {
		k := 1 + i%3
		_, _ = w.TryAcquire(k), b.TryAcquire(k)
		var gw, gb ratelimit.Grant
		if w.TryReserveInto(&gw, k) {
			gw.Commit()
			gw.Settle(k + 1)
			_ = gw.N()
			gw.Restamp()
		}
		if b.TryReserveInto(&gb, k) {
			gb.Cancel()
		}
		w.Occupy(clk.Now().Add(time.Millisecond), k)
		b.Drain(k)
	})
	for _, l := range []interface {
		ratelimit.Limiter
		Reserve(context.Context, int) (*ratelimit.Grant, error)
	}{w, b} {
		loop(func(i int) {
			k := 1 + i%3
			actx, acancel := context.WithTimeout(ctx, time.Millisecond)
			_ = l.Acquire(actx, k)
			g, err := l.Reserve(actx, k)
			acancel()
			if err != nil {
				return
			}
			if i%2 == 0 {
				g.Cancel()
				return
			}
			g.Commit()
			// Settle and N at once, as two goroutines holding one
			// grant may call them.
			var sw sync.WaitGroup
			sw.Go(func() { g.Settle(k - 1) })
			_ = g.N()
			sw.Wait()
		})
	}
	for i := range 500 {
		n := 1 + i%7
		if err := w.SetLimit(n, limitFor(n)); err != nil {
			t.Fatal(err)
		}
		if err := b.SetLimit(n, limitFor(n)); err != nil {
			t.Fatal(err)
		}
		if err := b.SetBurst(1 + i%5); err != nil {
			t.Fatal(err)
		}
		clk.Advance(3 * time.Millisecond)
	}
	close(stop)
	cancel()
	wg.Wait()
	select {
	case name := <-torn:
		t.Fatalf("%s.Limit reported an n and a per from different SetLimit calls", name)
	default:
	}
}
