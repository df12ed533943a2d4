package throttle

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
	"github.com/go-throttle/throttle/semaphore"
)

// costBudgets are the cost budgets of a Transport: the user's (WithBudget,
// WithBudgetFor) and those servers state (learned per host). A nil
// *costBudgets has none and learns none.
type costBudgets struct {
	session []*costBudget            // WithBudget, by name
	hosts   map[string][]*costBudget // WithBudgetFor, by host key, then by name
	learned *learnedBudgets          // nil when server feedback is off
}

// costBudget is one window of a cost: the user's, or one a server stated.
type costBudget struct {
	name string
	n    int
	per  time.Duration // as stated: the window counts per plus the guard
	w    *ratelimit.Window
	// learned only (see budget_learn.go): the window the server stated (0
	// when it was inferred), and the cost of its attempts sent so far and
	// of those sent whose response has not arrived.
	learned        bool
	stated         time.Duration
	sent, inflight atomic.Int64
}

func (x *costBudget) learnedBudget() bool { return x.learned }

func newCostBudgets(c *config) (*costBudgets, error) {
	if len(c.budgets) == 0 && c.noFeedback {
		return nil, nil
	}
	b := &costBudgets{}
	for _, spec := range c.budgets {
		w, err := ratelimit.NewWindow(int(spec.n), c.guard.window(spec.per), ratelimit.WithClock(c.clock))
		if err != nil {
			return nil, fmt.Errorf("%w: WithBudget(%q): %w", ErrInvalidOption, spec.name, err)
		}
		x := &costBudget{name: spec.name, n: int(spec.n), per: spec.per, w: w}
		if spec.host == "" {
			b.session = append(b.session, x)
			continue
		}
		if b.hosts == nil {
			b.hosts = make(map[string][]*costBudget)
		}
		b.hosts[spec.host] = append(b.hosts[spec.host], x)
	}
	// One order for every caller, so that callers holding one budget's
	// units while they wait for the next never wait for each other in a
	// circle.
	slices.SortFunc(b.session, compareCostBudgets)
	for _, l := range b.hosts {
		slices.SortFunc(l, compareCostBudgets)
	}
	if !c.noFeedback {
		b.learned = newLearnedBudgets(c)
	}
	return b, nil
}

func compareCostBudgets(a, b *costBudget) int {
	if c := strings.Compare(a.name, b.name); c != 0 {
		return c
	}
	return int(a.stated - b.stated)
}

// check fails at once, before any wait, when a cost on ctx is malformed
// or larger than a whole budget it names: such a request could never be
// sent.
func (b *costBudgets) check(ctx context.Context, key string) error {
	costs := costsOf(ctx)
	if costs == nil {
		return nil
	}
	if err := costs.check(); err != nil {
		return err
	}
	if b == nil {
		return nil
	}
	lists := [...][]*costBudget{b.hosts[key], b.learned.budgetsOf(key), b.session}
	for _, l := range lists {
		for _, x := range l {
			if n, ok := costs.cost(x.name); ok {
				if err := x.fits(n, key); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// fits reports a cost larger than the whole budget.
func (x *costBudget) fits(n int64, key string) error {
	if n <= int64(x.n) {
		return nil
	}
	whose := "the session's budget"
	if key != "" {
		whose = "the budget of host " + key
	}
	return fmt.Errorf("%w: %s %q allows %d per %v, and the request costs %d: %w",
		ErrCostExceedsBudget, whose, x.name, x.n, x.per, n, ErrExceedsLimit)
}

// costCharge is one budget's part of an attempt: the cost, its grant, and for
// a learned budget where its in-flight count stands.
type costCharge struct {
	b    *costBudget
	cost int64
	g    *ratelimit.Grant
	mark int64 // b.sent once this attempt was counted in it
	host string
}

// costHold is what an attempt holds of the budgets: its charges, in the
// order taken, and the host's slot of a concurrency limit its server
// stated. Part of the hold, allocated only for attempts that are charged.
type costHold struct {
	charges []costCharge
	slot    semaphore.Permit
	// mu guards the in-flight counts (sent, answered and the charges'
	// marks): commit runs on net/http's write loop and again on the
	// caller's goroutine.
	mu             sync.Mutex
	sent, answered bool
}

// costs returns the attempt's costHold, making it on first use.
func (h *hold) costHold() *costHold {
	if h.costs == nil {
		h.costs = &costHold{}
	}
	return h.costs
}

// hostCharges lists what an attempt to key costs on the host's budgets,
// the user's first, then the server's, each in name order.
func (b *costBudgets) hostCharges(ctx context.Context, key string, size int64) []costCharge {
	if b == nil {
		return nil
	}
	costs := costsOf(ctx)
	var out []costCharge
	if costs != nil {
		for _, x := range b.hosts[key] {
			if n, ok := costs.cost(x.name); ok && n > 0 {
				out = append(out, costCharge{b: x, cost: n, host: key})
			}
		}
	}
	for _, x := range b.learned.budgetsOf(key) {
		if n := implicitCost(costs, x.name, size); n > 0 {
			out = append(out, costCharge{b: x, cost: n, host: key})
		}
	}
	return out
}

// sessionCharges lists what an attempt costs on the session's budgets.
func (b *costBudgets) sessionCharges(ctx context.Context) []costCharge {
	if b == nil || len(b.session) == 0 {
		return nil
	}
	costs := costsOf(ctx)
	if costs == nil {
		return nil
	}
	var out []costCharge
	for _, x := range b.session {
		if n, ok := costs.cost(x.name); ok && n > 0 {
			out = append(out, costCharge{b: x, cost: n})
		}
	}
	return out
}

// tryCharges takes every charge without waiting, reporting false at the
// first that does not fit now.
func (h *hold) tryCharges(cs []costCharge) bool {
	for _, c := range cs {
		if c.cost > int64(c.b.n) {
			return false // fails in acquire, with its error
		}
		g := new(ratelimit.Grant)
		if !c.b.w.TryReserveInto(g, units(c.cost)) {
			return false
		}
		c.g = g
		h.costHold().add(c)
	}
	return true
}

// waitCharges takes every charge, waiting under ctx for each in turn.
func (h *hold) waitCharges(ctx context.Context, cs []costCharge) error {
	for _, c := range cs {
		if err := c.b.fits(c.cost, c.host); err != nil {
			return err
		}
		g, err := c.b.w.Reserve(ctx, units(c.cost))
		if err != nil {
			return fmt.Errorf("throttle: waiting for %d of budget %q%s: %w", c.cost, c.b.name, ofHost(c.host), err)
		}
		c.g = g
		h.costHold().add(c)
	}
	return nil
}

func ofHost(key string) string {
	if key == "" {
		return ""
	}
	return " of host " + key
}

func (ch *costHold) add(c costCharge) { ch.charges = append(ch.charges, c) }

// tryHostBudgets is acquireHostBudgets without waiting.
func (t *Transport) tryHostBudgets(ctx context.Context, key string, size int64, h *hold) bool {
	if t.budgets == nil {
		return true
	}
	if !h.tryBudgetSlot(ctx, t.budgets.learned.slotsOf(key)) {
		return false
	}
	return h.tryCharges(t.budgets.hostCharges(ctx, key, size))
}

// acquireHostBudgets takes the host's part of the budgets, after the
// host's own slot and tokens: the slot of a concurrency limit its server
// stated, then the costs on the user's budgets for the host and on those
// its server stated.
func (t *Transport) acquireHostBudgets(w *waiter, key string, h *hold) error {
	if t.budgets == nil {
		return nil
	}
	slots := t.budgets.learned.slotsOf(key)
	cs := t.budgets.hostCharges(w.send, key, w.size)
	if slots == nil && len(cs) == 0 {
		return nil
	}
	ctx := w.bounded()
	if slots != nil {
		p, err := slots.Acquire(ctx, 1)
		if h.costHold().slot = p; err != nil {
			return fmt.Errorf("throttle: waiting for a concurrency slot host %s stated: %w", key, err)
		}
	}
	return h.waitCharges(ctx, cs)
}

// tryBudgetSlot takes a slot of slots (nil: none) without waiting.
func (h *hold) tryBudgetSlot(ctx context.Context, slots *semaphore.Throttler) bool {
	if slots == nil {
		return true
	}
	p, ok := slots.TryAcquire(ctx, 1)
	h.costHold().slot = p
	return ok
}

// trySessionBudgets is acquireSessionBudgets without waiting.
func (t *Transport) trySessionBudgets(ctx context.Context, h *hold) bool {
	return h.tryCharges(t.budgets.sessionCharges(ctx))
}

// acquireSessionBudgets takes the costs on the session's budgets, after
// the session's slot and tokens.
func (t *Transport) acquireSessionBudgets(w *waiter, h *hold) error {
	cs := t.budgets.sessionCharges(w.send)
	if len(cs) == 0 {
		return nil
	}
	return h.waitCharges(w.bounded(), cs)
}

// commit stamps the charges with the attempt's other grants, and counts
// the attempt in flight in the learned budgets. Safe to call more than
// once, from the write loop and the caller's goroutine.
func (ch *costHold) commit() {
	if ch == nil {
		return
	}
	for _, c := range ch.charges {
		c.g.Commit()
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.sent {
		return
	}
	ch.sent = true
	for i := range ch.charges {
		c := &ch.charges[i]
		if c.b.learnedBudget() {
			c.b.inflight.Add(c.cost)
			c.mark = c.b.sent.Add(c.cost)
		}
	}
}

// restamp counts the charges from now (see hold.readLate).
func (ch *costHold) restamp() {
	if ch == nil {
		return
	}
	for _, c := range ch.charges {
		c.g.Restamp()
	}
}

// answer ends the attempt's in-flight count: its response has arrived (or
// it never will). Only the first call, after commit, does anything.
func (ch *costHold) answer() {
	if ch == nil {
		return
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if !ch.sent || ch.answered {
		return
	}
	ch.answered = true
	for _, c := range ch.charges {
		if c.b.learnedBudget() {
			c.b.inflight.Add(-c.cost)
		}
	}
}

// release gives back the charges not yet committed and the slot. Called
// once, from hold.release.
func (ch *costHold) release() {
	if ch == nil {
		return
	}
	ch.answer()
	for _, c := range ch.charges {
		c.g.Cancel()
	}
	ch.slot.Release()
}

// settle sets the charges on budget name to actual.
func (ch *costHold) settle(name string, actual int64) {
	if ch == nil {
		return
	}
	for _, c := range ch.charges {
		if c.b.name == name {
			c.g.Settle(units(max(actual, 0)))
		}
	}
}
