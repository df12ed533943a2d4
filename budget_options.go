package throttle

import (
	"fmt"
	"math"
	"time"
)

// budgetSpec is one budget an option sets: at most n units of name in any
// window of length per, session-wide (host "") or for one host.
type budgetSpec struct {
	host, name string
	n          int64
	per        time.Duration
}

// WithBudget lets at most n units of the cost called name start in any
// window of length per, over the whole session. Requests say what they
// cost with WithCost; a request that names no cost for the budget costs
// nothing against it. Like WithRateLimit it is strict at the wire: an
// attempt's cost counts from when it is granted until its headers are
// written, and then for per plus the window guard (see WithWindowGuard);
// every attempt, retries included, is charged again. A wait for the budget
// is ordered like every other wait (by priority, then first come, first
// served, so a large cost is never starved by small ones), counts against
// WithQueueLimit, ends with the context, and fails at once when it could
// not end before the context's deadline. A cost larger than n fails at
// once with an error wrapping ErrCostExceedsBudget. Settle gives back what
// an attempt did not use.
//
// Budgets are charged after the host's limits and WithBudgetFor's, and
// after the session's slot and rate limit. Setting a budget name twice
// keeps the last. name must not be empty, n and per must be positive.
// Without it, the session has no budget of that name (the server may still
// state one: see WithServerFeedback).
func WithBudget(name string, n int64, per time.Duration) Option {
	return option(func(c *config) error {
		return c.addBudget("WithBudget", budgetSpec{name: name, n: n, per: per})
	})
}

// WithBudgetFor is WithBudget for the requests to one host, named as in
// WithRateLimitFor. A request to that host that names the cost is charged
// both this budget and WithBudget's of the same name, the host's first.
func WithBudgetFor(host, name string, n int64, per time.Duration) Option {
	return option(func(c *config) error {
		key, err := hostOption("WithBudgetFor", host)
		if err != nil {
			return err
		}
		return c.addBudget("WithBudgetFor", budgetSpec{host: key, name: name, n: n, per: per})
	})
}

// addBudget checks spec and records it, replacing a budget of the same
// host and name.
func (c *config) addBudget(option string, spec budgetSpec) error {
	value := fmt.Sprintf("name=%q, n=%d, per=%v", spec.name, spec.n, spec.per)
	if spec.host != "" {
		value = fmt.Sprintf("host=%q, ", spec.host) + value
	}
	switch {
	case spec.name == "":
		return invalidOption(option, value, "a budget needs a name")
	case spec.n <= 0:
		return invalidOption(option, value, "n must be positive")
	case spec.n > math.MaxInt32:
		return invalidOption(option, value, fmt.Sprintf("n must be at most %d", math.MaxInt32))
	case spec.per <= 0:
		return invalidOption(option, value, "per must be positive")
	}
	for i, b := range c.budgets {
		if b.host == spec.host && b.name == spec.name {
			c.budgets[i] = spec
			return nil
		}
	}
	c.budgets = append(c.budgets, spec)
	return nil
}
