package throttle

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// shopify states a bucket's fill and size.
func shopify(fill, size int) []string {
	return []string{"X-Shopify-Shop-Api-Call-Limit", strconv.Itoa(fill) + "/" + strconv.Itoa(size)}
}

// The budget of a stated bucket is its room, less a tenth of it for a
// leak measured too high, less the attempts in flight.
func TestStatedBucketRoom(t *testing.T) {
	b := newBudgetHost(t)
	require.True(t, b.spend(1))
	b.answer(200, shopify(1, 40)...)
	require.EqualValues(t, 35, b.remaining())
	require.True(t, b.spend(35))
	require.False(t, b.spend(1), "no room left until the bucket leaks")
	// Answers in another order than their requests went in: the fill to
	// go by is the highest stated.
	b.answer(200, shopify(30, 40)...)
	b.answer(200, shopify(12, 40)...)
	require.EqualValues(t, 36-30-33, b.remaining())
}

// leakyServer is a leaky bucket of size that leaks rate requests a second,
// with the imitation's arithmetic.
type leakyServer struct {
	size, rate float64
	fill       float64
	last       time.Time
}

func (s *leakyServer) take(now time.Time) (fill int, ok bool) {
	if !s.last.IsZero() {
		s.fill = max(s.fill-now.Sub(s.last).Seconds()*s.rate, 0)
	}
	s.last = now
	if s.fill+1 > s.size {
		return int(math.Ceil(s.fill)), false
	}
	s.fill++
	return int(math.Ceil(s.fill - 1e-9)), true
}

// Issue 9: against a bucket of 40 leaking 130 a second, which states its
// fill and not its leak, 300 requests at once go with no refusal, within
// 10% of the ideal: the burst fills the bucket and the rest follow at the
// leak the client measures. Each attempt is answered a step after it is
// sent, and the answers of one step come back in another order.
func TestStatedBucketLearnsTheLeak(t *testing.T) {
	b := newBudgetHost(t)
	srv := &leakyServer{size: 40, rate: 130}
	type answer struct {
		status, fill int
	}
	const step = 5 * time.Millisecond
	start := b.fake.Now()
	// First contact: the first request goes alone.
	require.True(t, b.spend(1))
	fill, _ := srv.take(start)
	b.fake.Advance(step)
	b.answer(200, shopify(fill, 40)...)
	var due []answer
	accepted, refused, last := 1, 0, time.Duration(0)
	for accepted < 300 {
		for i := len(due) - 1; i >= 0; i-- { // last sent, first answered
			b.answer(due[i].status, shopify(due[i].fill, 40)...)
		}
		due = due[:0]
		for accepted+len(due) < 300 && b.spend(1) {
			fill, ok := srv.take(b.fake.Now())
			if !ok {
				refused++
				due = append(due, answer{429, fill})
				continue
			}
			accepted++
			last = b.fake.Now().Sub(start)
			due = append(due, answer{200, fill})
		}
		b.fake.Advance(step)
		require.Less(t, b.fake.Now().Sub(start), 10*time.Second, "stalled: %d accepted", accepted)
	}
	ideal := time.Duration(float64(time.Second) * 260 / 130)
	require.Zero(t, refused)
	require.Less(t, last, ideal+ideal/10, "took %v, ideal %v", last, ideal)
	b.ht.mu.Lock()
	leak := b.h.bucket.leak * float64(time.Second)
	b.ht.mu.Unlock()
	t.Logf("leak measured: %.1f a second", leak)
	require.InDelta(t, 130, leak, 15, "the leak measured")
	require.LessOrEqual(t, leak, 130.0, "the leak measured is a lower bound")
}

// A refusal beside a bucket's statement (Shopify's literal Retry-After:
// 2.0) delays only its own request's retry: the host waits for the leak,
// not for 2 s.
func TestStatedBucketRefusalDoesNotPauseTheHost(t *testing.T) {
	b := newBudgetHost(t)
	require.True(t, b.spend(1))
	b.answer(200, shopify(1, 40)...)
	require.True(t, b.spend(1))
	b.answer(http.StatusTooManyRequests, append(shopify(40, 40), "Retry-After", "2.0")...)
	b.ht.mu.Lock()
	require.Zero(t, b.h.pausedUntil)
	b.ht.mu.Unlock()
	require.LessOrEqual(t, b.blockedFor(), bucketProbeWait, "the bucket is tried again within bucketProbeWait")
}

// While no leak is known and nothing is in flight, one request at a time
// goes into the margin, bucketProbeGap apart, to measure the leak; a full
// bucket is tried after bucketProbeWait.
func TestStatedBucketProbesForTheLeak(t *testing.T) {
	b := newBudgetHost(t)
	require.True(t, b.spend(1))
	b.answer(200, shopify(37, 40)...)
	require.False(t, b.spend(1), "the margin is not for the burst")
	require.Equal(t, bucketProbeGap, b.blockedFor())
	b.fake.Advance(bucketProbeGap)
	require.True(t, b.spend(1), "a probe into the margin")
	require.False(t, b.spend(1), "one at a time")
	b.answer(200, shopify(40, 40)...)
	require.Equal(t, bucketProbeWait, b.blockedFor())
	b.fake.Advance(bucketProbeWait)
	require.True(t, b.spend(1), "a full bucket is tried after bucketProbeWait")
}

// Callers that a spent budget holds are woken when a response gives it
// room before its reset.
func TestStatedBudgetWakesOnRoom(t *testing.T) {
	b := newBudgetHost(t)
	require.True(t, b.spend(12))
	// The first answer is of the 10th request: the 11 others in flight
	// may all follow it.
	b.answer(200, "RateLimit", `"d";r=10;t=1`)
	require.False(t, b.spend(1))
	b.ht.mu.Lock()
	now := b.ht.now()
	wake := b.h.budgetWakeLocked(now, b.h.blockedUntil(now))
	b.ht.mu.Unlock()
	require.NotNil(t, wake)
	// The next is of the first: the 8 between them went in before.
	b.answer(200, "RateLimit", `"d";r=19;t=1`)
	select {
	case <-wake:
	default:
		t.Fatal("a budget given room did not wake its waiters")
	}
	require.True(t, b.spend(8))
	require.False(t, b.spend(1))
}
