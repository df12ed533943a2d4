package throttle_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/imitation"
	"github.com/go-throttle/throttle/internal/imitation/clients"
	"github.com/go-throttle/throttle/internal/imitation/real"
	"github.com/stretchr/testify/assert"
)

// politeBound is the worst a client may do against one server in
// TestPoliteness: rejections the server answered, time as a multiple of
// the server's Ideal, requests failed and unfinished at the run's bound.
type politeBound struct {
	Rejections int
	Ratio      float64
	Failed     int
	Unfinished int
}

// Issue 9's Done: told the limit, at most 2 rejections within 1.1x of the
// ideal; untold, within 1.5x and fewer rejections than go-retryablehttp
// earns from the same server (the retryablehttp column of
// examples/politeness); never a request failed or unfinished.
var (
	doneTold   = politeBound{Rejections: 2, Ratio: 1.1}
	doneUntold = politeBound{Ratio: 1.5} // Rejections: below retryablehttp's
)

// politenessBounds are the bounds TestPoliteness holds each server to, per
// column: today's figures (in the comments: untold; told, measured on
// main at 34925c4 with -race; its retry budget makes the untold column
// give up on up to 135 of 150 requests at once instead of retrying them)
// with headroom, to be tightened toward doneTold and doneUntold as issue
// 9's algorithm lands. n is how many requests are fired at once.
var politenessBounds = map[string]struct {
	n            int
	untold, told politeBound
}{
	// server: n, untold bound, told bound // today: untold; told
	"silent":           {n1, politeBound{420, cut, n1, n1}, politeBound{5, 2.0, 0, 0}},      // 151/1.21x, 21 failed; 0/1.36x
	"busy503":          {n1, politeBound{700, cut, n1, n1}, politeBound{5, 2.0, 0, 0}},      // 242/1.55x, 112 failed; 0/1.12x
	"busy429":          {n1, politeBound{1000, cut, n1, n1}, politeBound{5, 2.0, 0, 0}},     // 257/0.25x, 127 failed; 0/1.13x
	"shopify":          {n1, politeBound{2, 1.4, 0, 0}, politeBound{2, 1.4, 0, 0}},          // 0/1.11x; 0/1.06x (the bucket it states, statedbucket.go)
	"discord":          {n1, politeBound{2, 1.3, 0, 0}, politeBound{2, 1.3, 0, 0}},          // 0/1.04x; 0/1.09x
	"github":           {n1, politeBound{2, 2.2, 0, 0}, politeBound{2, 2.2, 0, 0}},          // 0/1.38x; 0/1.98x (a reset in whole seconds: see statedbudget.go)
	"ietf10":           {n1, politeBound{2, 1.3, 0, 0}, politeBound{2, 1.3, 0, 0}},          // 0/1.06x; 0/1.05x
	"ietf06":           {n1, politeBound{2, 1.3, 0, 0}, politeBound{2, 1.3, 0, 0}},          // 0/1.05x; 0/1.06x
	"nginx-req":        {n1, politeBound{1000, cut, n1, n1}, politeBound{80, cut, n1, n1}},  // 265/0.15x, 135 failed; 8/1.21x
	"nginx-burst":      {n1, politeBound{700, cut, n1, n1}, politeBound{25, 2.0, 0, 0}},     // 198/0.50x, 68 failed; 1/1.01x
	"nginx-conn":       {n1, politeBound{1000, cut, n1, n1}, politeBound{5, 2.0, 0, 0}},     // 250/0.34x, 120 failed; 0/1.11x
	"haproxy":          {n2, politeBound{550, cut, n2, n2}, politeBound{250, cut, n2, n2}},  // 190/0.61x, 50 failed; 171/1.75x, 31 failed
	"real-nginx-req":   {n1, politeBound{1000, cut, n1, n1}, politeBound{100, cut, n1, n1}}, // 259/0.31x, 129 failed; 14/1.18x
	"real-nginx-burst": {n1, politeBound{700, cut, n1, n1}, politeBound{30, 2.0, 0, 0}},     // 231/0.35x, 101 failed; 2/1.02x
	"real-nginx-conn":  {n1, politeBound{1000, cut, n1, n1}, politeBound{5, 2.0, 0, 0}},     // 263/0.21x, 133 failed; 0/1.14x
	"real-haproxy":     {n2, politeBound{550, cut, n2, n2}, politeBound{350, cut, n2, n2}},  // 190/0.57x, 50 failed; 148/2.46x, 8 failed, 2 unfinished
}

// n1 requests give every server about 1 s of ideal; the HAProxy rows
// take n2, since their limit of 150 would let n1 through at once.
const (
	n1 = 150
	n2 = 200
)

// cut is a ratio bound no run can exceed: the run is cut there
// (politeBoundRatio) and its requests left count as unfinished.
const cut = politeBoundRatio

// politeBoundRatio bounds every run, as a multiple of its Ideal, so that
// the whole test stays within about a minute.
const politeBoundRatio = 2.5

// politeTarget is one server of TestPoliteness, started afresh per run.
type politeTarget struct {
	name  string
	limit imitation.Limit
	start func(t *testing.T) imitation.Target
}

func politeTargets() []politeTarget {
	var out []politeTarget
	for _, s := range imitation.Imitations() {
		out = append(out, politeTarget{s.Name, s.Limit, func(*testing.T) imitation.Target { return imitation.Start(s.New()) }})
	}
	for _, s := range real.Specs() {
		out = append(out, politeTarget{s.Name, s.Limit, func(t *testing.T) imitation.Target {
			srv, err := s.Start()
			real.Require(t, err)
			return srv
		}})
	}
	return out
}

// TestPoliteness fires requests at once at every imitation and real
// server of issue 9's table, through a Session with retries and no limits
// (untold) and one told the server's limit, and holds each to its row of
// politenessBounds. Whatever the bounds, every request has exactly one
// outcome and none is served twice.
func TestPoliteness(t *testing.T) {
	if testing.Short() {
		t.Skip("politeness runs take about a minute; skipped with -short")
	}
	for _, target := range politeTargets() {
		bounds, ok := politenessBounds[target.name]
		if !ok {
			t.Errorf("politenessBounds has no row for %s", target.name)
			continue
		}
		t.Run(target.name, func(t *testing.T) {
			for _, mode := range clients.Modes()[1:] {
				bound := bounds.untold
				if mode.Name == clients.Told {
					bound = bounds.told
				}
				t.Run(mode.Name, func(t *testing.T) {
					politeRun(t, target, mode, bounds.n, bound)
				})
			}
		})
	}
}

func politeRun(t *testing.T, target politeTarget, mode clients.Mode, n int, bound politeBound) {
	srv := target.start(t)
	defer func() { assert.NoError(t, srv.Close()) }()
	client, release, err := mode.New(target.limit)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(politeBoundRatio*float64(srv.Ideal(n))))
	defer cancel()
	res := imitation.Measure(ctx, client, srv, n)
	t.Logf("%s %s n=%d: %s (accepted %d, rejected %v, elapsed %v, ideal %v)",
		target.name, mode.Name, n, res.Cell(), res.Server.Accepted, res.Server.Rejected,
		res.Elapsed.Round(time.Millisecond), res.Ideal.Round(time.Millisecond))
	if len(res.Errors) > 0 {
		t.Logf("first failure: %s", res.Errors[0])
	}

	assert.Equal(t, n, res.OK+res.Failed+res.Unfinished, "every request has exactly one outcome")
	assert.Zero(t, res.Server.Duplicates, "no request is served twice")
	assert.GreaterOrEqual(t, res.Server.Accepted, res.OK, "every success was accepted by the server")
	if res.Unfinished == 0 {
		assert.Equal(t, res.OK, res.Server.Accepted, "every accepted request reached its caller")
	}
	assert.LessOrEqual(t, res.Rejections(), bound.Rejections, "rejections")
	assert.LessOrEqual(t, res.Ratio(), bound.Ratio+0.01, "time as a multiple of the ideal")
	assert.LessOrEqual(t, res.Failed, bound.Failed, "failed: %v", res.Errors)
	assert.LessOrEqual(t, res.Unfinished, bound.Unfinished, "unfinished")
}
