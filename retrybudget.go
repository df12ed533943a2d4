package throttle

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

// RetryBudget bounds the retries a Session makes to each host, so that a
// host that rejects a burst does not get a retry storm back: in any window
// of Window, the retries to a host number at most Ratio times the requests
// first sent to it in that window, plus MinPerSecond per second of the
// window. The floor lets short jobs and a lone failing call still retry;
// the ratio lets a busy host's occasional failures all be retried. It is
// Finagle's RetryBudget (and tower's), kept per host; gRPC's retry
// throttling and failsafe-go's budget bound retries the same way.
//
// A retry the budget refuses is not made, and the call ends at once, with
// no backoff: its error is a *RetryError naming the attempts made and the
// last status, wrapping ErrRetryBudget and the last attempt's error, if
// any (an error that is only the first attempt's wraps them directly). A
// refused retry counts in Stats.RetriesRefused, and is not spent: it
// leaves room for another.
//
// The window slides in tenths: a request or a retry stops counting between
// 0.9·Window and Window after it was made. The budget runs on the
// session's clock (WithClock) and keeps a few dozen bytes per host that
// has been sent to within the window, with no goroutine; a host forgotten
// by the budget starts afresh.
//
// It is plain data. Every zero field means its default, so the zero
// RetryBudget is the default budget: Ratio 0.2, MinPerSecond 10, Window
// 10 s (100 retries per window, plus one for every five requests).
type RetryBudget struct {
	// Ratio is the retries each request earns in the window; 0 means 0.2.
	// A negative Ratio turns the budget off (see NoRetryBudget).
	Ratio float64
	// MinPerSecond is the floor: retries allowed per second of the window
	// whatever the requests; 0 means 10. Give a tiny value (such as 1e-9)
	// for almost none.
	MinPerSecond float64
	// Window is how long a request or a retry counts; 0 means 10 s.
	Window time.Duration
}

// NoRetryBudget is a RetryBudget that is off: every retry that MaxRetries
// and the CheckRetry allow is made. Use it as RetryPolicy.Budget.
var NoRetryBudget = &RetryBudget{Ratio: -1}

// The defaults of RetryBudget, Finagle's.
const (
	defaultRetryRatio  = 0.2
	defaultRetryFloor  = 10
	defaultRetryWindow = 10 * time.Second
	budgetSlices       = 10 // a window's tenths: how finely it slides
)

// withDefaults returns b with its zero fields set, or nil when b turns the
// budget off; a bad field is an error naming it. A nil b is the default.
func (b *RetryBudget) withDefaults() (*RetryBudget, error) {
	if b == nil {
		b = &RetryBudget{}
	}
	switch {
	case math.IsNaN(b.Ratio) || math.IsInf(b.Ratio, 0):
		return nil, invalidOption("WithRetry", fmt.Sprintf("Budget.Ratio=%v", b.Ratio), "Ratio must be a finite number")
	case b.Ratio < 0:
		return nil, nil
	case math.IsNaN(b.MinPerSecond) || math.IsInf(b.MinPerSecond, 0) || b.MinPerSecond < 0:
		return nil, invalidOption("WithRetry", fmt.Sprintf("Budget.MinPerSecond=%v", b.MinPerSecond), "MinPerSecond must be a finite number, not negative")
	case b.Window < 0:
		return nil, invalidOption("WithRetry", "Budget.Window="+b.Window.String(), "Window must not be negative")
	}
	d := *b
	if d.Ratio == 0 {
		d.Ratio = defaultRetryRatio
	}
	if d.MinPerSecond == 0 {
		d.MinPerSecond = defaultRetryFloor
	}
	if d.Window == 0 {
		d.Window = defaultRetryWindow
	}
	if floor := d.MinPerSecond * d.Window.Seconds(); math.IsInf(floor, 0) || floor > math.MaxInt32 {
		return nil, invalidOption("WithRetry", fmt.Sprintf("Budget.MinPerSecond=%v", d.MinPerSecond),
			"MinPerSecond times Window must not pass 2^31 retries")
	}
	return &d, nil
}

// retryBudgets is a RetryBudget's state: one ring of counts per host, in a
// map that forgets the hosts whose counts have all expired. A sweep runs
// when as many hosts have been added since the last sweep as it left, so
// its cost is amortised over the additions and the map holds at most
// about twice the hosts sent to within a window (as ratelimit.Keyed does).
type retryBudgets struct {
	ratio float64
	floor float64 // MinPerSecond × Window, in retries
	slice int64   // a tenth of the window, in nanoseconds
	clock ratelimit.Clock
	epoch time.Time

	mu   sync.Mutex
	m    map[string]*budgetRing
	adds int // hosts added since the last sweep
	kept int // hosts the last sweep left
}

// budgetRing counts one host's requests and retries per tenth of the
// window; head is the newest tenth's number, and tenth k sits at k mod
// budgetSlices.
type budgetRing struct {
	head             int64
	sent, retried    [budgetSlices]int32
	sentSum, retrSum int64
}

// newRetryBudgets returns the state of budget b (with its defaults), or
// nil for no budget.
func newRetryBudgets(b *RetryBudget, clk ratelimit.Clock) *retryBudgets {
	if b == nil {
		return nil
	}
	return &retryBudgets{
		ratio: b.Ratio,
		floor: b.MinPerSecond * b.Window.Seconds(),
		slice: max(int64(b.Window)/budgetSlices, 1),
		clock: clk,
		epoch: clk.Now(),
		m:     make(map[string]*budgetRing),
	}
}

// tenth is the number of the tenth of a window the clock is in.
func (s *retryBudgets) tenth() int64 {
	return int64(s.clock.Now().Sub(s.epoch)) / s.slice
}

// ringLocked returns host's ring, advanced to now, creating it if needed.
func (s *retryBudgets) ringLocked(host string, now int64) *budgetRing {
	r := s.m[host]
	if r == nil {
		s.sweepLocked(now)
		r = &budgetRing{head: now}
		s.m[host] = r
		s.adds++
	}
	r.advance(now)
	return r
}

// sweepLocked forgets the hosts whose counts have all expired.
func (s *retryBudgets) sweepLocked(now int64) {
	if s.adds < s.kept {
		return
	}
	for host, r := range s.m {
		if r.advance(now); r.sentSum == 0 && r.retrSum == 0 {
			delete(s.m, host)
		}
	}
	s.adds, s.kept = 0, len(s.m)
}

// advance drops the counts of the tenths that have left the window at
// tenth now. A clock that steps back leaves the ring as it is.
func (r *budgetRing) advance(now int64) {
	if now <= r.head {
		return
	}
	if now-r.head >= budgetSlices {
		*r = budgetRing{head: now}
		return
	}
	for k := r.head + 1; k <= now; k++ {
		i := k % budgetSlices
		r.sentSum -= int64(r.sent[i])
		r.retrSum -= int64(r.retried[i])
		r.sent[i], r.retried[i] = 0, 0
	}
	r.head = now
}

// deposit counts a request first sent to host.
func (s *retryBudgets) deposit(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.tenth()
	r := s.ringLocked(host, now)
	if i := r.head % budgetSlices; r.sent[i] < math.MaxInt32 {
		r.sent[i]++
		r.sentSum++
	}
}

// withdraw reports whether host's budget allows one more retry now, and
// counts it if so.
func (s *retryBudgets) withdraw(host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.tenth()
	r := s.ringLocked(host, now)
	// The epsilon keeps a product such as 0.7 × 10 from falling a hair
	// short of the whole retry it earns.
	if float64(r.retrSum+1) > s.ratio*float64(r.sentSum)+s.floor+1e-9 {
		return false
	}
	if i := r.head % budgetSlices; r.retried[i] < math.MaxInt32 {
		r.retried[i]++
		r.retrSum++
	}
	return true
}

// len reports how many hosts the budget remembers.
func (s *retryBudgets) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// retryCall is one call's progress through the retry layer, which the
// layer's hooks reach through the request's context: its host, for the
// budget, and the attempt being made.
type retryCall struct {
	host    string
	attempt int
}

type retryCallKey struct{}

func withRetryCall(ctx context.Context, c *retryCall) context.Context {
	return context.WithValue(ctx, retryCallKey{}, c)
}

func retryCallOf(ctx context.Context) *retryCall {
	c, _ := ctx.Value(retryCallKey{}).(*retryCall)
	return c
}

// spendBudget is the budget's say on a retry the policy wants: nil if it
// may be made (or no budget applies), otherwise the error that ends the
// call, wrapping ErrRetryBudget and the last attempt's error err.
func (l *retryLayer) spendBudget(ctx context.Context, err error) error {
	c := retryCallOf(ctx)
	if l.budget == nil || c == nil || c.attempt >= l.policy.MaxRetries {
		return nil // no budget, or no retry left to spend it on
	}
	if l.budget.withdraw(c.host) {
		return nil
	}
	l.stats.retriesRefused.Add(1)
	if err == nil {
		return fmt.Errorf("%w for host %s", ErrRetryBudget, c.host)
	}
	return fmt.Errorf("%w for host %s: %w", ErrRetryBudget, c.host, err)
}
