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
// first time gets a window of its own; one whose limit or period changed
// has its window changed in place (its waiters see the change at once);
// then each window is told how much the server says is spent (see
// syncBudget).
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
		if i < 0 {
			b := l.newBudget(x, now)
			if b == nil {
				continue
			}
			next.budgets, changed = append(next.budgets, b), true
			i = len(next.budgets) - 1
		} else {
			l.retune(next.budgets[i], x, now)
		}
		syncBudget(next.budgets[i], x, now, ch)
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

// newBudget returns the window of a budget x states, for its stated
// period, or the one its figures imply, or else assumedPeriod.
func (l *learnedBudgets) newBudget(x feedback.Budget, now time.Time) *costBudget {
	per := x.Window
	if per == 0 {
		if per = inferWindow(x, now); per == 0 {
			per = assumedPeriod
		}
	}
	// A budget is a pause too: no server may stall the client for longer
	// than WithMaxPause.
	per = min(per, l.maxPause)
	var w budgetLimiter
	var err error
	if x.Window > 0 {
		// A quota per window (IETF): a window of its own, as a request
		// policy gets.
		w, err = ratelimit.NewWindow(x.Limit, l.guard.window(per), ratelimit.WithClock(l.clock))
	} else {
		// OpenAI and Anthropic refill their budgets continuously (a token
		// bucket of Limit, refilled at Limit per period): a Bucket just
		// like it admits what they admit, where a window would wait for
		// whole periods to pass.
		w, err = ratelimit.NewBucket(x.Limit, per, ratelimit.WithClock(l.clock))
	}
	if err != nil {
		return nil
	}
	b := newCostBudget(x.Name, x.Limit, per, w)
	b.learned, b.stated = true, x.Window
	return b
}

// assumedPeriod is the period of a budget stated without one until its
// figures imply one: OpenAI's and Anthropic's budgets are per minute.
const assumedPeriod = time.Minute

// retune changes b's window when x states another limit, or when b's
// period was not stated and x's figures imply one far from it (by half as
// much again either way, so that the rounding of resets cannot make it
// swing).
func (l *learnedBudgets) retune(b *costBudget, x feedback.Budget, now time.Time) {
	n, per := int64(x.Limit), b.period()
	if b.stated == 0 {
		if est := min(inferWindow(x, now), l.maxPause); est > 0 && (3*est < 2*per || 2*est > 3*per) {
			per = est
		}
	}
	if n == b.limit() && per == b.period() {
		return
	}
	var err error
	switch w := b.w.(type) {
	case *ratelimit.Window:
		err = w.SetLimit(x.Limit, l.guard.window(per))
	case *ratelimit.Bucket:
		if err = w.SetLimit(x.Limit, per); err == nil {
			err = w.SetBurst(x.Limit)
		}
	}
	if err == nil {
		b.n.Store(n)
		b.per.Store(int64(per))
	}
}

// inferWindow works out the period of a budget stated without one (OpenAI
// and Anthropic state per-minute budgets without saying so), from what it
// says at one instant: its limit, its remaining count and the time until
// it is whole again. A server that refills continuously (OpenAI,
// Anthropic) takes period·spent/limit to refill what is spent, so the
// period is reset·limit/spent. Values near a common period are taken to be
// it. It returns 0 when too little is spent for the reset to say anything
// (under minInferReset).
func inferWindow(x feedback.Budget, now time.Time) time.Duration {
	spent := x.Limit - x.Remaining
	d := x.ResetAt.Sub(now)
	if !x.HasRemaining || spent <= 0 || d < max(minInferReset, 10*resetGranularity(x.ResetAt, d)) {
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

// resetGranularity is how finely a reset was stated, judged from the
// instant (an RFC 3339 time to the second, as Anthropic sends) or the delay
// (a Go duration in whole seconds, such as OpenAI's "6m0s"): a reset
// rounded to a second is read only when it is ten seconds or more, so
// that the rounding cannot make the period more than a tenth off.
func resetGranularity(at time.Time, d time.Duration) time.Duration {
	for _, g := range [...]time.Duration{time.Second, time.Millisecond, time.Microsecond} {
		if at.Nanosecond()%int(g) == 0 || d%g == 0 {
			return g
		}
	}
	return time.Nanosecond
}

// minInferReset is the shortest reset inferWindow reads: resets are
// rounded (OpenAI's to the microsecond at best, Anthropic's to the second),
// and a shorter one would say little.
const minInferReset = 100 * time.Microsecond

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
		until = now.Add(b.period())
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
	switch w := b.w.(type) {
	case *ratelimit.Window:
		w.Occupy(until, units(int64(x.Limit-x.Remaining)+after))
	case *ratelimit.Bucket:
		w.Drain(units(int64(x.Remaining) - after))
	}
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
