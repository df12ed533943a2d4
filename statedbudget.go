package throttle

import (
	"math"
	"time"

	"github.com/go-throttle/throttle/feedback"
)

// statedWindow is what the responses of one window of a host's stated
// budget said: the lowest and highest remaining counts stated, how many
// accepted requests stated them, and the quota they count down from.
//
// A stated remaining count is a snapshot: the server counted the request
// that carries it and the ones that reached it before, not the requests
// still on their way. Which of the client's other requests in flight were
// counted is not known one by one, but the counts tell it in sum: a
// request the server counted at position p (the quota less the count it
// states) went in after p-1 others, and every position up to the highest
// one stated that no answer has filled is a request the server holds,
// taken to be one of ours in flight. So the attempts in flight the count
// may miss are those beyond the holes, not all of them: taking all of
// them off (as a snapshot read alone must) leaves a burst's last requests
// without budget until the window's reset, a whole window lost each time
// (issue 9: 1.5x the ideal against a stated 100 per second).
//
// The holes are ours only if the client is the server's only caller in
// that window; another caller's requests in them make the budget a few
// requests too generous, until their counts come in. The windows a
// server's policy sets are strict whatever the budget says.
//
// A reset stated as a Unix time in whole seconds (GitHub's
// X-RateLimit-Reset) is the window's end rounded up to the second, which
// at a 1-second window costs up to a whole window each time; worse, a
// client that waits for it opens the next window just after a second
// begins, whose end is then rounded up by almost a second. When the
// client's request opened the window (its count is the quota less one),
// the window's length in whole seconds can be told from when that request
// was sent and answered: the window opened in between, and ended in the
// second before the reset. Then one request tries the server once that
// length has passed since the answer (see guessEndLocked); if the server
// refuses it, its windows are not of that kind (a window aligned to the
// clock, say, which our first request did not open), and the host waits
// for the stated reset from then on: one refusal, once per host.
type statedWindow struct {
	opened    int64 // when its first count came, an offset as resetAt
	sent      int64 // when its first attempt was sent, if hasSent
	hasSent   bool
	low, high int32 // the lowest and highest remaining counts stated
	stated    int32 // responses that stated a count
	answered  int32 // of which accepted requests'
	quota     int32 // the quota counted down from; 0: unknown
}

// add takes in one response's count; accepted is false for a refusal,
// which the server did not count.
func (w *statedWindow) add(remaining, quota int, accepted bool) {
	r, q := clamp32(remaining), clamp32(quota)
	if q > 0 && q != w.quota {
		if w.quota > 0 {
			// A quota that changed counts another way: what the earlier
			// counts said does not place this one.
			*w = statedWindow{}
		}
		w.quota = q
	}
	if w.stated == 0 {
		w.low, w.high = r, r
	}
	w.stated++
	w.low, w.high = min(w.low, r), max(w.high, r)
	if accepted {
		w.answered++
	}
}

// budget is what remains of the window for the client with others of its
// attempts in flight (beyond the one whose response is being read).
func (w *statedWindow) budget(others int) int32 {
	span := int64(w.high) - int64(w.low) + 1 // positions from high's to low's
	if w.quota > w.high {
		span = int64(w.quota) - int64(w.low) // positions 1 to low's
	}
	holes := max(span-int64(w.answered), 0)
	return clamp32(int(int64(w.low) - max(int64(others)-holes, 0)))
}

// capacity is how many requests the window took in all, as far as its
// counts tell: its quota, or else the highest count stated and the
// request that stated it; 0 when nothing was stated.
func (w *statedWindow) capacity() int32 {
	switch {
	case w.quota > 0:
		return w.quota
	case w.stated > 0:
		return clamp32(int(w.high) + 1)
	}
	return 0
}

// statedBudget is the budget a server states: no more than remaining
// attempts start before resetAt, then it is renewed. hasBudget is false
// while nothing was stated, or what was has expired and could not be
// renewed. Its count comes from a window's remaining counts (stated) or
// a leaky bucket's fill (bucket, non-nil then). A host has one, and so
// has each route bucket its server keeps (routes.go). Its methods are
// called with hostTable.mu held.
type statedBudget struct {
	remaining int32
	hasBudget bool
	resetAt   int64 // an offset from the table's epoch
	stated    statedWindow
	bucket    *statedBucket
	// late is the reset stated, when resetAt is the earlier end the
	// window was guessed to have (0: none); early is set while a request
	// tries that end, and noEarly once the server refused one (see
	// guessEndLocked).
	late           int64
	early, noEarly bool
	// roomed is closed when a spent budget gets room before its reset
	// (see wakeLocked); nil when nobody waits for that.
	roomed chan struct{}
}

// countLocked takes in a stated remaining count, resetting at resetAt,
// with others of the client's attempts in flight beyond the one answered.
// The budget is worked out again from what every response of its window
// said, counting the attempts in flight that the server may not have
// counted yet (see statedWindow). Its reset is the earliest its window's
// responses stated: a reset stated in whole seconds is rounded up, from
// the same instant for every response of the window, so the earliest is
// the tightest; the latest would hold the host past the window's end by
// as much as its rounding and the spread of its responses. Once the reset
// has passed, the next count starts a new window.
//
// sent, when not 0, is when the attempt answered was sent, if it is the
// first of its window (the host's first contact); a window the budget
// renewed knows when its first attempt was sent.
func (b *statedBudget) countLocked(sig *feedback.Signal, resetAt, now int64, others int, sent int64) {
	was := b.resetAt
	fresh := !b.hasBudget || now >= b.resetAt || b.stated.stated == 0 || b.bucket != nil
	if fresh {
		w := statedWindow{opened: now, sent: sent, hasSent: sent != 0}
		if b.hasBudget && b.stated.stated == 0 && b.bucket == nil {
			w.sent, w.hasSent = b.stated.opened, true // renewed when its first attempt was sent
		}
		if b.early && sig.Throttled {
			b.noEarly = true // the window did not end when guessed
		}
		b.early, b.late, b.bucket = false, 0, nil
		b.stated, b.resetAt = w, resetAt
	}
	b.resetAt = min(b.resetAt, resetAt)
	b.stated.add(sig.Remaining, statedQuota(sig), !sig.Throttled)
	b.hasBudget, b.remaining = true, b.stated.budget(others)
	if fresh {
		b.guessEndLocked(sig, now)
	}
	b.roomLocked(was)
}

// guessEndLocked guesses when the window a first count (sig, answered at
// now) states ends, from a reset stated as a whole Unix second R, rounded
// up: if the client's attempt opened the window (its count is the quota
// less one), the window opened between the attempt's send and now, and
// lasts whole seconds W with R-1 < open+W <= R; if one W fits every such
// open, the window ends by now+W, and if that is before R, that is the
// reset to go by, late keeping R. Only the first count of a window is
// read: it is the one answered nearest its opening.
func (b *statedBudget) guessEndLocked(sig *feedback.Signal, now int64) {
	w := &b.stated
	if b.noEarly || !w.hasSent || sig.Throttled || sig.Limit <= 0 || sig.Remaining != sig.Limit-1 ||
		sig.ResetAt.Nanosecond() != 0 || w.sent > now {
		return
	}
	sec := int64(time.Second)
	lo, hi := b.resetAt-sec-now, b.resetAt-w.sent // W in (lo, hi]
	if hi < sec {
		return
	}
	whole := hi / sec * sec
	if whole <= lo || whole-sec > lo {
		return // no whole second fits, or more than one
	}
	if end := now + whole; end+int64(minEarly) < b.resetAt {
		b.late, b.resetAt = b.resetAt, end
	}
}

// minEarly is the least a guessed end must be before the stated reset for
// a request to try it.
const minEarly = 10 * time.Millisecond

// spendLocked counts one attempt against the budget, with inflight
// attempts in flight, reporting false if the budget has no room for it. A
// budget whose reset is due is renewed first: a bucket by what has leaked
// (statedBucket); a window by taking the next one to hold what the last
// one did (a fixed window starts again at its quota) until a response
// states it, for as long as the last one lasted from its first count. So
// the callers that waited for the reset go as the budget allows, not all
// at once, whether or not the server stated a policy.
func (b *statedBudget) spendLocked(now int64, inflight int) bool {
	if !b.hasBudget {
		return true
	}
	if now >= b.resetAt {
		if b.bucket != nil {
			b.renewBucketLocked(now, inflight)
		} else if !b.renewWindowLocked(now) {
			return true
		}
	}
	if b.remaining <= 0 {
		return false
	}
	b.remaining--
	return true
}

// spentUntil is the reset of a budget spent at now, or 0.
func (b *statedBudget) spentUntil(now int64) int64 {
	if b.hasBudget && now < b.resetAt && b.remaining <= 0 {
		return b.resetAt
	}
	return 0
}

// spendBudgetLocked counts one attempt against the host's stated budget
// (see statedBudget.spendLocked).
func (h *host) spendBudgetLocked(now int64) bool { return h.spendLocked(now, h.live.inflight) }

// budgetWakeLocked is what wakes the callers that the host's spent budget
// holds at now until its reset (until) before then (see wakeLocked); nil
// when the budget does not hold the host: when nothing does, or a pause
// does.
func (h *host) budgetWakeLocked(now, until int64) <-chan struct{} {
	if now < h.pausedUntil {
		return nil
	}
	return h.wakeLocked(until)
}

// wakeLocked is what wakes the callers that the spent budget holds until
// its reset (until) before then: a channel closed when a response gives
// it room (roomLocked). Each response works the budget out again from its
// window's counts, or from its bucket's fill, so room can come before the
// reset: a burst's responses, which come back in another order than their
// requests went in, tell more of what the server counted with each. It is
// nil when the budget holds nobody.
func (b *statedBudget) wakeLocked(until int64) <-chan struct{} {
	if until == 0 || !b.hasBudget || b.remaining > 0 {
		return nil
	}
	if b.roomed == nil {
		b.roomed = make(chan struct{})
	}
	return b.roomed
}

// roomLocked wakes the callers a spent budget holds once it has room, or
// once it resets earlier than before (than was, the reset they were told
// to wait for).
func (b *statedBudget) roomLocked(was int64) {
	if b.roomed != nil && (b.remaining > 0 || b.resetAt < was) {
		close(b.roomed)
		b.roomed = nil
	}
}

// renewWindowLocked starts the stated window's next one, reporting false
// (and dropping the budget) when nothing said what it holds. At a guessed
// end (see guessEndLocked), one request tries it, and the others wait for
// its answer or the reset stated.
func (b *statedBudget) renewWindowLocked(now int64) bool {
	w := b.stated
	if w.stated == 0 || w.capacity() <= 0 {
		b.hasBudget = false
		return false
	}
	b.stated = statedWindow{opened: now, quota: w.quota}
	if b.late > now {
		b.remaining, b.resetAt, b.late, b.early = 1, b.late, 0, true
		return true
	}
	b.remaining, b.resetAt, b.late = w.capacity(), now+max(b.resetAt-w.opened, minRenewal), 0
	return true
}

// minRenewal is the shortest a renewed window lasts before a response
// states it.
const minRenewal = int64(time.Second)

// statedQuota is the quota sig's remaining count counts down from: the
// limit stated beside it, or the quota of the only policy stated; 0 when
// unknown.
func statedQuota(sig *feedback.Signal) int {
	if sig.Limit > 0 {
		return sig.Limit
	}
	if sig.NPolicies == 1 {
		return sig.Policies[0].Quota
	}
	return 0
}

func clamp32(n int) int32 { return int32(max(min(n, math.MaxInt32), math.MinInt32)) }
