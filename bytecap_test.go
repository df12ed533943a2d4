package throttle

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
)

// TestByteCapEveryWindow: a byte limit (WithUploadLimit, WithDownloadLimit
// and NewPayload all build theirs with newByteBucket) lets through at most
// its rate plus one chunk (at most 64 KiB) in any window of 1 s, from the
// first byte and after an idle spell; and a reader whose timers fire late
// by a millisecond still reaches the rate, give or take 1% (issue 7, item
// 6: the first second of a 20 MiB/s upload carried 21.97 MiB).
//
// It plays a greedy reader on a fake clock: the reader wakes every tick
// (timers on a busy machine fire about a millisecond late), takes every
// chunk the bucket grants, and goes back to sleep; halfway through it
// stops for two seconds, which refills the bucket.
func TestByteCapEveryWindow(t *testing.T) {
	const (
		KiB  = 1 << 10
		MiB  = 1 << 20
		tick = 1100 * time.Microsecond
	)
	for _, rate := range []int64{4 * KiB, 100 * KiB, 1 * MiB, 20 * MiB, 200 * MiB} {
		t.Run(fmt.Sprintf("rate=%dKiB", rate/KiB), func(t *testing.T) {
			clk := clock.NewFake(time.Unix(1e9, 0))
			b, err := newByteBucket("WithUploadLimit", rate, clk)
			if err != nil {
				t.Fatal(err)
			}
			// The chunk a Reader charges: net/http copies bodies in
			// 32 KiB reads, never more than the bucket grants.
			read := min(32*KiB, b.MaxAcquire())
			type grant struct {
				at time.Duration
				n  int64
			}
			var grants []grant
			var busy time.Duration // time spent reading, idle spell excluded
			start := clk.Now()
			run := func(d time.Duration) {
				for end := clk.Now().Add(d); clk.Now().Before(end); clk.Advance(tick) {
					for b.TryAcquire(read) {
						grants = append(grants, grant{clk.Now().Sub(start), int64(read)})
					}
				}
				busy += d
			}
			run(3 * time.Second)
			clk.Advance(2 * time.Second)
			run(3 * time.Second)

			// The most granted in any window [s, s+1 s).
			var most, in, total int64
			lo := 0
			for _, g := range grants {
				in += g.n
				total += g.n
				for g.at-grants[lo].at >= time.Second {
					in -= grants[lo].n
					lo++
				}
				most = max(most, in)
			}
			chunk := min(max(rate/10, 4*KiB), 64*KiB, rate)
			if most > rate+chunk {
				t.Errorf("%d bytes in one 1 s window, cap %d + one chunk %d: %d over", most, rate, chunk, most-rate-chunk)
			}
			got := float64(total) / busy.Seconds()
			if got < 0.98*float64(rate) {
				t.Errorf("reached %.0f B/s, %.1f%% of the cap %d B/s", got, 100*got/float64(rate), rate)
			}
			t.Logf("most in 1 s: cap + %d B; throughput %.2f%% of the cap", most-rate, 100*got/float64(rate))
		})
	}
}
