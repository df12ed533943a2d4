package ratelimit_test

import (
	"context"
	"testing"

	"github.com/go-throttle/throttle/ratelimit"
)

type countingPending struct{ commits, cancels, restamps int }

func (p *countingPending) Commit()  { p.commits++ }
func (p *countingPending) Cancel()  { p.cancels++ }
func (p *countingPending) Restamp() { p.restamps++ }

func TestPendingGrantCallsOnce(t *testing.T) {
	p := &countingPending{}
	g := ratelimit.NewPendingGrant(2, p)
	if g.N() != 2 {
		t.Fatalf("N = %d, want 2", g.N())
	}
	g.Restamp() // not committed yet: nothing
	g.Commit()
	g.Commit()
	g.Cancel()
	g.Restamp()
	if *p != (countingPending{commits: 1, restamps: 1}) {
		t.Fatalf("calls = %+v, want one commit and one restamp", *p)
	}
	q := &countingPending{}
	g = ratelimit.NewPendingGrant(1, q)
	g.Cancel()
	g.Commit()
	g.Restamp()
	if *q != (countingPending{cancels: 1}) {
		t.Fatalf("calls = %+v, want one cancel", *q)
	}
}

func TestPendingGrantNil(t *testing.T) {
	g := ratelimit.NewPendingGrant(1, nil)
	g.Commit()
	g.Cancel()
	if g.N() != 0 {
		t.Fatalf("N = %d, want 0", g.N())
	}
}

type reservingLimiter struct{ p *countingPending }

func (l reservingLimiter) Acquire(context.Context, int) error { return nil }
func (l reservingLimiter) Reserve(_ context.Context, n int) (*ratelimit.Grant, error) {
	return ratelimit.NewPendingGrant(n, l.p), nil
}

func TestReserveUsesExternalReserve(t *testing.T) {
	p := &countingPending{}
	g, err := ratelimit.Reserve(context.Background(), reservingLimiter{p}, 1)
	if err != nil {
		t.Fatal(err)
	}
	g.Cancel()
	if p.cancels != 1 {
		t.Fatalf("cancels = %d, want 1", p.cancels)
	}
}
