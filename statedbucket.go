package throttle

import (
	"math"
	"time"

	"github.com/go-throttle/throttle/feedback"
)

// statedBucket is a leaky bucket its server states at each response
// (Shopify's X-Shopify-Shop-Api-Call-Limit: 32/40): how many requests it
// holds, of how many. The client keeps it from overflowing: it sends what
// the bucket has room for, less its own attempts in flight, and waits for
// the bucket to leak for more.
//
// The fill to go by is the highest one stated, less what has leaked since
// it was: responses come back in another order than their requests went
// in (a burst's do, on connections opened together), so the last fill
// stated may be an old one. The server does not state how fast the bucket
// leaks, so the client measures it, between two moments when none of its
// attempts is in flight: then every request it sent has gone in, the
// last of them when the bucket held the highest fill stated since the
// moment before, so the requests accepted less that fill is what had
// leaked. Between two such moments far enough apart, the difference over
// the time is the leak, short by what a time when the bucket ran empty
// did not leak, and off by the spread of the responses' delays, which
// leakMargin covers. A refusal says the bucket was fuller than the client
// thought: the leak is taken lower. Until a leak is known, the responses
// to the attempts in flight say what room there is, and a request at a
// time measures the leak while the bucket has room for it.
//
// A refusal beside a bucket's statement (Shopify's 429 with its literal
// "Retry-After: 2.0") delays its own request's retry, as the server asks,
// and does not pause the host: the statement beside it says how full the
// bucket is, and the leak frees room in a fraction of those 2 s (at 130
// a second, a request's worth in 8 ms; at Shopify's standard 2 a second,
// in 0.5 s), so pausing every caller for the literal 2 s would throw away
// up to 2 s of the bucket's rate for one request's refusal. The budget
// holds the other callers until the leak makes room.
type statedBucket struct {
	size int32
	// fill is the fill to go by: stated at at, the highest with what has
	// leaked since taken off.
	fill int32
	at   int64
	// accepted counts the requests answered and accepted, which went in;
	// top is the highest fill an accepted one stated since the last
	// moment with nothing in flight (0: none).
	accepted int64
	top      int32
	// The leak is measured from the reference, a moment with nothing in
	// flight when refLeaked had leaked, at refAt; leak is the rate it
	// leaks at, in requests per nanosecond (0 while unknown).
	refLeaked int64
	refAt     int64
	hasRef    bool
	leak      float64
}

// observe takes in one response's statement, at now, with others of the
// client's attempts in flight; accepted is false for a refusal, which did
// not go into the bucket.
func (b *statedBucket) observe(fill, size int, accepted bool, others int, now int64) {
	f, n := clamp32(fill), clamp32(size)
	if n != b.size {
		*b = statedBucket{size: n}
	}
	switch {
	case accepted:
		b.accepted++
		b.top = max(b.top, f)
	case b.leak > 0:
		b.leak *= refusedLeak
	}
	// Had the bucket leaked empty by now, going by the fills before this
	// one?
	emptied := b.leak > 0 && b.fillAt(now) <= 0
	if float64(f) >= b.fillAt(now) {
		b.fill, b.at = f, now
	}
	if others <= 0 && b.top > 0 {
		b.measure(b.accepted-int64(b.top), now, emptied)
		b.top = 0
	}
}

// refusedLeak scales the leak measured when the bucket refuses a request.
const refusedLeak = 0.9

// leakMargin scales the leak measured: its ends are timed by responses,
// whose delays vary by a few milliseconds.
const leakMargin = 0.95

// minLeakSpan is the shortest time a leak is measured over, so that the
// few milliseconds its ends are off by say little.
const minLeakSpan = int64(100 * time.Millisecond)

// measure takes in a moment with nothing in flight, now, when leaked had
// leaked (give or take the fill's rounding): the leak is measured since
// the reference once it is far enough back. The first moment, or one
// before which the bucket may have run empty (emptied), becomes the
// reference.
func (b *statedBucket) measure(leaked, now int64, emptied bool) {
	if !b.hasRef || emptied || leaked < b.refLeaked {
		b.refLeaked, b.refAt, b.hasRef = leaked, now, true
		return
	}
	if span := now - b.refAt; span >= minLeakSpan && leaked > b.refLeaked {
		b.leak = leakMargin * float64(leaked-b.refLeaked) / float64(span)
	}
}

// fillAt is the fill to go by at t.
func (b *statedBucket) fillAt(t int64) float64 {
	return max(float64(b.fill)-b.leak*float64(t-b.at), 0)
}

// room is how many more requests the client sends into the bucket at t,
// with others of its attempts on their way to it: what the bucket takes,
// less a margin for a leak measured too high since the fill to go by was
// stated (a tenth of the bucket; none below 10). The margin costs one
// burst of its size once, not the rate: a bucket kept nearly full leaks
// at its full rate all the same.
func (b *statedBucket) room(t int64, others int) float64 {
	return float64(b.size-b.size/10) - b.fillAt(t) - float64(max(others, 0))
}

// refillAt is when the bucket will have room for want, with others on
// their way: at the leak measured; while no leak is known, after
// bucketProbeGap if the bucket takes one more request (a probe, see
// renewBucketLocked) and after bucketProbeWait if not. A room held by the
// attempts in flight waits for their responses, which will say more. It
// is after t, and no later than t+bucketProbeWait.
func (b *statedBucket) refillAt(t int64, others int, want float64) int64 {
	need := float64(b.fill) - float64(b.size-b.size/10) + float64(max(others, 0)) + want // to leak since b.at
	u := t + int64(bucketProbeWait)
	switch {
	case b.leak > 0 && need <= float64(b.fill):
		u = min(b.at+int64(math.Ceil(need/b.leak)), u)
	case b.leak == 0 && others <= 0 && b.probe(t):
		u = t + int64(bucketProbeGap)
	}
	return max(u, t+int64(minRefill))
}

// probe reports whether the bucket takes one more request at t, beyond
// the margin room leaves: while no leak is known, a request at a time
// goes into the margin to measure it.
func (b *statedBucket) probe(t int64) bool { return b.fillAt(t)+1 <= float64(b.size) }

// batch is how much room a waiting host waits for: the callers waiting
// wake together, so one wake-up per leaked request would cost a wake-up of
// every waiter each time, for nothing.
func (b *statedBucket) batch() float64 { return float64(max(b.size/8, 1)) }

const (
	// bucketProbeWait is how long a bucket left full, with nothing in
	// flight and no leak known, waits before one request tries it: long
	// enough for the slowest buckets APIs state to leak one (Shopify's
	// standard plan leaks 2 a second).
	bucketProbeWait = time.Second
	// bucketProbeGap spaces the requests that measure the leak while the
	// bucket has room for them: a few of them over minLeakSpan.
	bucketProbeGap = 25 * time.Millisecond
	// minRefill keeps a host's waiters from spinning on a refill due now.
	minRefill = time.Millisecond
)

// bucketLocked takes in a response's statement of a bucket, at now, with
// others of the client's attempts in flight beyond the one answered: the
// budget is what the bucket has room for now, less those, until the leak
// makes room for more.
func (b *statedBudget) bucketLocked(sig *feedback.Signal, now int64, others int) {
	if b.bucket == nil {
		b.bucket = &statedBucket{}
	}
	was := b.resetAt
	b.bucket.observe(sig.BucketFill, sig.BucketSize, !sig.Throttled, others, now)
	b.hasBudget = true
	b.bucketBudgetLocked(now, others)
	b.roomLocked(was)
}

// bucketBudgetLocked sets the budget to the bucket's room at now, with
// others of the client's attempts in flight, until the leak makes room for
// a batch more.
func (b *statedBudget) bucketBudgetLocked(now int64, others int) {
	k := b.bucket
	room := math.Floor(k.room(now, others))
	b.remaining = clamp32(int(max(room, -math.MaxInt32)))
	b.resetAt = k.refillAt(now, others, max(room, 0)+k.batch())
}

// renewBucketLocked is the bucket's budget once its refill is due, with
// inflight attempts in flight: the room the leak has made. While no leak
// is known and nothing is in flight, one request tries the bucket (and
// measures its leak): in the margin if it has room for it, or else once
// it has waited bucketProbeWait.
func (b *statedBudget) renewBucketLocked(now int64, inflight int) {
	b.bucketBudgetLocked(now, inflight)
	if b.remaining <= 0 && inflight == 0 && b.bucket.leak == 0 {
		b.remaining = 1
	}
}
