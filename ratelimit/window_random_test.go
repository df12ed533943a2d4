package ratelimit_test

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

// stampLog records every stamp a Window makes, through its test hook.
type stampLog struct {
	mu     sync.Mutex
	stamps []stampRec
}

type stampRec struct {
	at    time.Duration
	units int
}

func (l *stampLog) add(at time.Duration, units int) {
	l.mu.Lock()
	l.stamps = append(l.stamps, stampRec{at, units})
	l.mu.Unlock()
}

// checkSliding is the brute-force checker: for every stamp at t, the units
// stamped in (t-per, t] must not exceed n. Every window [s, s+per) that
// holds any stamp holds no more than the one ending at its last stamp, so
// this covers every window.
func checkSliding(t *testing.T, stamps []stampRec, n int, per time.Duration) (total int) {
	t.Helper()
	for i, s := range stamps {
		total += s.units
		if i > 0 && s.at < stamps[i-1].at {
			t.Fatalf("stamp %d at %v is before stamp %d at %v", i, s.at, i-1, stamps[i-1].at)
		}
		sum := 0
		for _, o := range stamps[:i+1] {
			if o.at > s.at-per {
				sum += o.units
			}
		}
		if sum > n {
			t.Fatalf("%d units in the window ending at stamp %d (%v), limit %d", sum, i, s.at, n)
		}
	}
	return total
}

// TestWindowRandomNeverExceeds drives a Window with a long random mix of
// TryAcquire, Acquire, Reserve, Commit, Restamp, Cancel, cancelled waits
// and clock moves, from several goroutines, and checks every stamp it made
// against the brute-force sliding window. (A Restamp only makes units
// count longer, so the first stamps must still hold the limit.)
func TestWindowRandomNeverExceeds(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run("", func(t *testing.T) {
			const n, per = 7, 100 * time.Millisecond
			rng := rand.New(rand.NewPCG(seed, seed))
			clk := newFake()
			w, _ := ratelimit.NewWindow(n, per, ratelimit.WithClock(clk))
			var log stampLog
			ratelimit.SetStampHook(w, log.add)

			var (
				wg        sync.WaitGroup
				mu        sync.Mutex
				grants    []*ratelimit.Grant
				committed []*ratelimit.Grant
				cancels   []context.CancelFunc
			)
			ctx := context.Background()
			for range 3000 {
				k := 1 + rng.IntN(n)
				switch op := rng.IntN(20); {
				case op < 4:
					w.TryAcquire(k)
				case op < 7: // a background Acquire or Reserve, maybe cancelled later
					cctx, cancel := context.WithCancel(ctx)
					cancels = append(cancels, cancel)
					reserve := rng.IntN(2) == 0
					wg.Go(func() {
						if !reserve {
							w.Acquire(cctx, k)
							return
						}
						if g, err := w.Reserve(cctx, k); err == nil {
							mu.Lock()
							grants = append(grants, g)
							mu.Unlock()
						}
					})
				case op < 9 && len(cancels) > 0:
					cancels[len(cancels)-1-rng.IntN(min(len(cancels), 5))]()
				case op < 14: // settle a random grant
					mu.Lock()
					if len(grants) > 0 {
						i := rng.IntN(len(grants))
						g := grants[i]
						grants = append(grants[:i], grants[i+1:]...)
						if rng.IntN(4) == 0 {
							g.Cancel()
						} else {
							g.Commit()
							committed = append(committed, g)
						}
					}
					mu.Unlock()
					if len(committed) > 0 && rng.IntN(3) == 0 {
						committed[rng.IntN(len(committed))].Restamp()
					}
				default:
					clk.Advance(time.Duration(rng.IntN(int(per / 3))))
				}
				runtime.Gosched() // let the waiters run

			}
			// Let everything finish: settle grants and cancel waits
			// until nothing is left.
			for _, c := range cancels {
				c()
			}
			wg.Wait()
			for _, g := range grants {
				g.Commit()
			}
			log.mu.Lock()
			defer log.mu.Unlock()
			total := checkSliding(t, log.stamps, n, per)
			if total < 100 {
				t.Fatalf("only %d units granted: the test exercised nothing", total)
			}
		})
	}
}

// TestCheckSlidingCatchesOvershoot makes sure the checker is not vacuous.
func TestCheckSlidingCatchesOvershoot(t *testing.T) {
	ft := &testing.T{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		checkSliding(ft, []stampRec{{0, 2}, {99 * time.Millisecond, 1}}, 2, 100*time.Millisecond)
	}()
	<-done
	if !ft.Failed() {
		t.Fatal("checker accepted 3 units in a window of limit 2")
	}
}
