package throttle

import (
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle/feedback"
	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/semaphore"
)

// learnedBudgets are the budgets servers state (feedback.ParseBudgets),
// per host: a window per budget, and a concurrency limit when one is
// stated. They are applied on top of the user's, as the request policies
// a server states are (see hostLive.learnPolicies): a server's statement
// can only tighten what the user set.
//
// Only the hosts that state such budgets have an entry (the metered APIs
// a program calls: a handful), so the table is apart from the host table
// and costs the other hosts one atomic load per attempt. An entry is
// replaced whole when what its server states changes, never changed in
// place, so callers read it without the lock.
type learnedBudgets struct {
	clock    ratelimit.Clock
	guard    windowGuard
	maxPause time.Duration
	semOpts  []semaphore.Option

	hosts atomic.Int32 // len(m): 0 skips the lookup
	mu    sync.Mutex
	m     map[string]*learnedHost
	adds  int // hosts added since the last sweep
	kept  int // hosts the last sweep left
}

// learnedHost is what one host's server states beyond request counts.
type learnedHost struct {
	budgets []*costBudget        // in name order (see compareCostBudgets)
	slots   *semaphore.Throttler // concurrent-requests; nil if none stated
	nslots  int
}

func newLearnedBudgets(c *config) *learnedBudgets {
	return &learnedBudgets{clock: c.clock, guard: c.guard, maxPause: c.maxPause, semOpts: c.semOpts,
		m: make(map[string]*learnedHost)}
}

func (l *learnedBudgets) get(key string) *learnedHost {
	if l == nil || l.hosts.Load() == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[key]
}

// budgetsOf returns the budgets key's server stated.
func (l *learnedBudgets) budgetsOf(key string) []*costBudget {
	if h := l.get(key); h != nil {
		return h.budgets
	}
	return nil
}

// slotsOf returns the concurrency limit key's server stated; nil if none.
func (l *learnedBudgets) slotsOf(key string) *semaphore.Throttler {
	if h := l.get(key); h != nil {
		return h.slots
	}
	return nil
}

// implicitCost is what a request costs on a budget its server stated: the
// cost it names, or else one per request on "requests" and its body's
// length on "content-bytes", which count every request whether it says
// so or not.
func implicitCost(costs *costList, name string, size int64) int64 {
	if n, ok := costs.cost(name); ok {
		return n
	}
	switch name {
	case feedback.BudgetRequests:
		return 1
	case feedback.BudgetContentBytes:
		return max(size, 0)
	}
	return 0
}

// observeBudgets learns what resp says about its host's budgets, then ends
// the attempt's in-flight count in them. It runs before the host table
// observes the response, so that the callers a first contact held back
// find the budgets it learned.
func (t *Transport) observeBudgets(req *http.Request, h *hold, resp *http.Response) {
	defer h.costs.answer()
	if t.budgets == nil || t.budgets.learned == nil || resp == nil {
		return
	}
	now := t.clock.Now()
	bs := feedback.ParseBudgets(resp.Header, now)
	if bs.N > 0 {
		t.budgets.learned.apply(hostKey(req.URL), &bs, now, h.costs)
	}
}

// apply takes in what one response of key states. A budget seen for the
// first time, or with a new limit, gets a window of its own; then each
// window is told how much the server says is spent (see syncBudget).
func (l *learnedBudgets) apply(key string, bs *feedback.Budgets, now time.Time, ch *costHold) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.m[key]
	next := &learnedHost{}
	if old != nil {
		*next = *old
		next.budgets = slices.Clone(old.budgets)
	}
	changed := false
	for _, x := range bs.List[:bs.N] {
		if x.Name == feedback.BudgetConcurrentRequests {
			if next.nslots != x.Limit {
				next.slots, _ = semaphore.NewThrottler(int64(x.Limit), l.semOpts...) // checked by newHostTable
				next.nslots, changed = x.Limit, true
			}
			continue
		}
		i := slices.IndexFunc(next.budgets, func(b *costBudget) bool { return b.name == x.Name && b.stated == x.Window })
		var b *costBudget
		if i >= 0 {
			b = next.budgets[i]
		}
		if b == nil || b.n != x.Limit {
			nb := l.newBudget(x, now)
			if nb == nil {
				continue // no window known yet
			}
			if i >= 0 {
				next.budgets[i] = nb
			} else {
				next.budgets = append(next.budgets, nb)
			}
			b, changed = nb, true
		}
		syncBudget(b, x, now, ch)
	}
	if !changed {
		return
	}
	slices.SortFunc(next.budgets, compareCostBudgets)
	if old == nil {
		l.sweepLocked(now)
		l.adds++
	}
	l.m[key] = next
	l.hosts.Store(int32(len(l.m)))
}

// newBudget returns the window of a budget x states, or nil if its length
// is not known yet.
func (l *learnedBudgets) newBudget(x feedback.Budget, now time.Time) *costBudget {
	per := x.Window
	if per == 0 {
		per = inferWindow(x, now)
	}
	if per <= 0 {
		return nil
	}
	// A budget is a pause too: no server may stall the client for longer
	// than WithMaxPause.
	per = min(per, l.maxPause)
	w, err := ratelimit.NewWindow(x.Limit, l.guard.window(per), ratelimit.WithClock(l.clock))
	if err != nil {
		return nil
	}
	return &costBudget{name: x.Name, n: x.Limit, per: per, w: w, learned: true, stated: x.Window}
}

// inferWindow works out the period of a budget stated without one (OpenAI
// and Anthropic state per-minute budgets without saying so), from what it
// says at one instant: its limit, its remaining count and the time until
// it is whole again. A server that refills continuously (OpenAI,
// Anthropic) takes period·spent/limit to refill what is spent, so the
// period is reset·limit/spent. Values near a common period are taken to be
// it. It returns 0 when nothing is spent: the reset then says nothing.
func inferWindow(x feedback.Budget, now time.Time) time.Duration {
	spent := x.Limit - x.Remaining
	if !x.HasRemaining || spent <= 0 || !x.ResetAt.After(now) {
		return 0
	}
	est := float64(x.ResetAt.Sub(now)) * float64(x.Limit) / float64(spent)
	for _, p := range commonPeriods {
		if math.Abs(est-float64(p)) <= float64(p)/8 {
			return p
		}
	}
	return time.Duration(min(est, float64(feedback.MaxDelay))).Round(time.Millisecond)
}

// commonPeriods are the periods quotas are stated in.
var commonPeriods = [...]time.Duration{time.Second, 10 * time.Second, time.Minute, time.Hour, 24 * time.Hour}

// syncBudget tells b's window how much of the budget x says is spent: the limit
// less the remaining count, plus what this client sent after the attempt
// whose response states it (the server may not have counted that yet),
// until x's reset. The window then holds at least that much, so a server
// that counts requests this client did not send (another client's) is
// obeyed, and a remaining count of 0 holds back, until the reset, the
// requests that name this budget and no others.
func syncBudget(b *costBudget, x feedback.Budget, now time.Time, ch *costHold) {
	if !x.HasRemaining {
		return
	}
	until := x.ResetAt
	if until.IsZero() {
		until = now.Add(b.per)
	}
	var after int64
	if ch != nil {
		ch.mu.Lock()
		for _, c := range ch.charges {
			if c.b == b && ch.sent {
				after = max(min(b.sent.Load()-c.mark, b.inflight.Load()-c.cost), 0)
			}
		}
		ch.mu.Unlock()
	}
	b.w.Occupy(until, units(int64(x.Limit-x.Remaining)+after))
}

// sweepLocked drops the hosts whose windows are all idle, when as many
// hosts have been added since the last sweep as it left, so that its cost
// is amortised over the additions. A host with a stated concurrency limit
// is kept: its slots cannot tell whether they are idle.
func (l *learnedBudgets) sweepLocked(now time.Time) {
	if l.adds < l.kept {
		return
	}
	for key, h := range l.m {
		idle := h.slots == nil
		for _, b := range h.budgets {
			idle = idle && b.w.IdleAt(now)
		}
		if idle {
			delete(l.m, key)
		}
	}
	l.adds, l.kept = 0, len(l.m)
}
