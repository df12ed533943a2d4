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
// at a 1-second window is up to twice the window: the client waits for
// it, since nothing it is told says when in that second the window ends.
// (Guessing that the window opened with the client's first request and
// lasts whole seconds would send early to a server whose windows are
// aligned to the clock, earning a refusal per window.) At GitHub's
// windows of an hour the rounding costs nothing measurable.
type statedWindow struct {
	opened    int64 // when its first count came, an offset as resetAt
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

// spendBudgetLocked counts one attempt against the host's stated budget,
// reporting false if the budget has no room for it. A budget whose reset
// is due is renewed first: a bucket by what has leaked (statedBucket); a
// window by taking the next one to hold what the last one did (a fixed
// window starts again at its quota) until a response states it, for as
// long as the last one lasted from its first count. So the callers that
// waited for the reset go as the budget allows, not all at once, whether
// or not the server stated a policy. Called with hostTable.mu held.
func (h *host) spendBudgetLocked(now int64) bool {
	if !h.hasBudget {
		return true
	}
	if now >= h.resetAt {
		if h.bucket != nil {
			h.renewBucketLocked(now)
		} else if !h.renewWindowLocked(now) {
			return true
		}
	}
	if h.remaining <= 0 {
		return false
	}
	h.remaining--
	return true
}

// budgetWakeLocked is what wakes the callers that a spent budget holds at
// now until its reset (until) before then: a channel closed when a
// response gives the budget room (budgetRoomLocked). Each response works
// the budget out again from its window's counts, or from its bucket's
// fill, so room can come before the reset: a burst's responses, which
// come back in another order than their requests went in, tell more of
// what the server counted with each. It is nil when the budget does not
// hold the host: when nothing does, or a pause does.
func (h *host) budgetWakeLocked(now, until int64) <-chan struct{} {
	if until == 0 || now < h.pausedUntil || !h.hasBudget || h.remaining > 0 {
		return nil
	}
	if h.roomed == nil {
		h.roomed = make(chan struct{})
	}
	return h.roomed
}

// budgetRoomLocked wakes the callers a spent budget holds once it has
// room, or once it resets earlier than before (than was, the reset they
// were told to wait for).
func (h *host) budgetRoomLocked(was int64) {
	if h.roomed != nil && (h.remaining > 0 || h.resetAt < was) {
		close(h.roomed)
		h.roomed = nil
	}
}

// renewWindowLocked starts the stated window's next one, reporting false
// (and dropping the budget) when nothing said what it holds.
func (h *host) renewWindowLocked(now int64) bool {
	w := h.stated
	if w.stated == 0 || w.capacity() <= 0 {
		h.hasBudget = false
		return false
	}
	h.stated = statedWindow{opened: now, quota: w.quota}
	h.remaining, h.resetAt = w.capacity(), now+max(h.resetAt-w.opened, minRenewal)
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
