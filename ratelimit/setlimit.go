package ratelimit

import (
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// Changing a limiter's limits while it is in use. As with x/time/rate's
// SetLimitAt, nothing is recomputed eagerly: a limiter's state is worked
// out from the clock when someone asks, so a change only has to store the
// new limits. What x/time/rate need not do, and these do, is wake the
// front waiter: it is the only one watching the clock, and its timer was
// armed for an instant the old limits gave (see fifo.setMax).

// SetLimit changes the Window to at most n units in any window of length
// per, from now on, and returns nil; n and per must be positive (and per
// no shorter than the WithGranularity given), or it changes nothing and
// returns an error wrapping ErrInvalid.
//
// Nothing counted is lost: the units stamped so far keep their stamps, and
// count for per from them, the new per (a longer one makes them count
// longer, a shorter one frees them sooner); pending units stay pending.
// If n is lowered below the units counted now, nothing more is granted
// until enough of them expire. Waiters see the new limits at once: the
// front waiter looks again, and any waiter asking for more than n fails,
// when its turn comes, with an error wrapping ErrExceedsLimit.
func (w *Window) SetLimit(n int, per time.Duration) error {
	if err := checkLimit("Window.SetLimit", n, per); err != nil {
		return err
	}
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	if w.gran > int64(per) {
		return invalidf("Window.SetLimit(per="+per.String()+")", "per must not be shorter than the granularity %v", time.Duration(w.gran))
	}
	w.n, w.per = n, int64(per)
	// The ring never shrinks: the stamps it holds were counted under the
	// old limits, and may be more than the new ones allow.
	w.recent.max = max(w.recent.max, maxEntries(n, w.per, w.gran))
	w.q.setMax(n)
	return nil
}

// SetLimit changes the Bucket's rate to n units per per from now on, and
// returns nil; n and per must be positive, or it changes nothing and
// returns an error wrapping ErrInvalid. The burst is unchanged (see
// SetBurst), and so are the tokens in the bucket now: they were earned at
// the old rate, as x/time/rate's SetLimitAt counts them. The front waiter
// looks again at once, under the new rate.
func (b *Bucket) SetLimit(n int, per time.Duration) error {
	if err := checkLimit("Bucket.SetLimit", n, per); err != nil {
		return err
	}
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	b.lim.SetLimitAt(b.now(), rate.Limit(float64(n)/per.Seconds()))
	b.n, b.per = n, per
	b.q.setMax(b.burst)
	return nil
}

// SetBurst changes the Bucket's burst to burst from now on, and returns
// nil; burst must be positive, or it changes nothing and returns an error
// wrapping ErrInvalid. A larger burst does not fill the bucket: it fills
// at the rate, as before. A smaller one caps the tokens in it. Waiters see
// it at once: the front waiter looks again, and any waiter asking for more
// than burst fails, when its turn comes, with an error wrapping
// ErrExceedsLimit.
func (b *Bucket) SetBurst(burst int) error {
	if burst <= 0 {
		return invalidf(fmt.Sprintf("Bucket.SetBurst(burst=%d)", burst), "burst must be positive")
	}
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	b.lim.SetBurstAt(b.now(), burst)
	b.burst = burst
	b.q.setMax(burst)
	return nil
}

func checkLimit(call string, n int, per time.Duration) error {
	var err error
	if n <= 0 {
		err = invalidf(callOp(call, n), "n must be positive")
	}
	if per <= 0 {
		err = joinErr(err, invalidf(call+"(per="+per.String()+")", "per must be positive"))
	}
	return err
}
