package throttle

import (
	"context"
	"fmt"
	"math"
)

// WithCost returns a context whose requests cost n units of the budget
// called name (see WithBudget): an estimate made before the request is
// sent, such as an LLM call's prompt tokens plus its max_tokens. Several
// names may be set on one context, each with its own call; setting a name
// again replaces its cost. A request that names no cost for a budget costs
// nothing against it, except the budgets a server states that count every
// request ("requests", one each) or every request body ("content-bytes",
// its length), which a named cost overrides.
//
// The cost is charged on every attempt, retries included, when the attempt
// is sent. Once the response says what the attempt really cost (an LLM
// response's usage), Settle corrects the charge.
//
// A cost of 0 charges nothing. An empty name or a negative n makes the
// request fail with an error wrapping ErrInvalidOption that names them; a
// cost larger than a whole budget fails with ErrCostExceedsBudget.
func WithCost(ctx context.Context, name string, n int64) context.Context {
	next, _ := ctx.Value(costKey{}).(*costList)
	return context.WithValue(ctx, costKey{}, &costList{name: name, n: n, next: next})
}

// costKey is the context key of a request's costs.
type costKey struct{}

// costList is the costs WithCost set on a context, the latest first.
type costList struct {
	name string
	n    int64
	next *costList
}

// costsOf returns the costs set on ctx; nil if none.
func costsOf(ctx context.Context) *costList {
	l, _ := ctx.Value(costKey{}).(*costList)
	return l
}

// cost returns the cost l names for budget name, and whether it names one.
func (l *costList) cost(name string) (int64, bool) {
	for ; l != nil; l = l.next {
		if l.name == name {
			return l.n, true
		}
	}
	return 0, false
}

// check reports the first cost that no budget could ever charge.
func (l *costList) check() error {
	for ; l != nil; l = l.next {
		switch {
		case l.name == "":
			return invalidOption("WithCost", fmt.Sprintf("name=%q, n=%d", l.name, l.n), "a budget needs a name")
		case l.n < 0:
			return invalidOption("WithCost", fmt.Sprintf("name=%q, n=%d", l.name, l.n), "a cost must not be negative")
		}
	}
	return nil
}

// units is a cost as a window's units: a window cannot be larger than an
// int, and such a cost fails the limit check anyway.
func units(n int64) int { return int(min(n, math.MaxInt)) }
