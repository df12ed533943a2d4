package waitq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// order lists the queue's values in grant order.
func order(q *Queue[string]) string {
	var s []string
	for w := q.Front(); w != nil; w = w.Next() {
		s = append(s, w.Val)
	}
	return fmt.Sprint(s)
}

func TestOrderByPriorityThenArrival(t *testing.T) {
	var q Queue[string]
	for _, p := range []struct {
		v    string
		prio int
	}{{"n1", 0}, {"l1", -1}, {"h1", 1}, {"n2", 0}, {"h2", 1}, {"l2", -1}, {"x", 7}} {
		q.Push(p.v, p.prio)
	}
	if got, want := order(&q), "[x h1 h2 n1 n2 l1 l2]"; got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
	if q.Len() != 7 {
		t.Fatalf("Len %d", q.Len())
	}
}

func TestRemoveKeepsOrder(t *testing.T) {
	var q Queue[string]
	ws := map[string]*Waiter[string]{}
	for _, v := range []string{"a", "b", "c"} {
		ws[v] = q.Push(v, 0)
	}
	ws["h"] = q.Push("h", 1)
	ws["l"] = q.Push("l", -1)
	steps := []struct{ remove, want string }{
		{"b", "[h a c l]"},
		{"c", "[h a l]"}, // the tail of its level
		{"h", "[a l]"},   // the head, and the last of its level
		{"l", "[a]"},
	}
	for _, st := range steps {
		q.Remove(ws[st.remove])
		if got := order(&q); got != st.want {
			t.Fatalf("after removing %s: %s, want %s", st.remove, got, st.want)
		}
	}
	// A level emptied and filled again goes back in its place.
	q.Push("h2", 1)
	q.Push("a2", 0)
	if got, want := order(&q), "[h2 a a2]"; got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
	if len(q.levels) != 2 {
		t.Fatalf("%d levels, want 2 (empty ones are dropped)", len(q.levels))
	}
}

func TestServeVerdicts(t *testing.T) {
	var q Queue[string]
	ws := map[string]*Waiter[string]{}
	for _, v := range []string{"g1", "skip", "g2", "stop", "g3"} {
		ws[v] = q.Push(v, 0)
	}
	n := q.Serve(func(w *Waiter[string]) Verdict {
		switch w.Val {
		case "skip":
			return Skip
		case "stop":
			return Stop
		}
		return Grant
	})
	if n != 2 {
		t.Fatalf("granted %d, want 2", n)
	}
	if got, want := order(&q), "[skip stop g3]"; got != want {
		t.Fatalf("left %s, want %s", got, want)
	}
	for v, want := range map[string]bool{"g1": true, "g2": true, "skip": false, "stop": false, "g3": false} {
		w := ws[v]
		if q.Queued(w) == want {
			t.Errorf("%s queued = %v", v, q.Queued(w))
		}
		closed := false
		select {
		case _, ok := <-w.sig:
			closed = !ok
		default:
		}
		if closed != want {
			t.Errorf("%s woken as granted = %v", v, closed)
		}
	}
}

// counter is a test Owner: a semaphore of free units whose waiters are
// granted by release (Serve), or, with a clock, one that refills one unit
// per tick and whose front waiter takes it itself (Look).
type counter struct {
	mu      sync.Mutex
	q       Queue[int]
	free    int
	clk     *clock.Fake
	refill  time.Time // with clk: when the next unit comes
	lookErr error
	aband   int
}

func (c *counter) serve() {
	c.q.Serve(func(w *Waiter[int]) Verdict {
		if w.Val > c.free {
			return Stop
		}
		c.free -= w.Val
		return Grant
	})
}

func (c *counter) Look(_ context.Context, w *Waiter[int]) (time.Time, bool, error) {
	if c.lookErr != nil {
		return time.Time{}, false, c.lookErr
	}
	if c.clk == nil || c.q.Front() != w {
		return time.Time{}, false, nil
	}
	if now := c.clk.Now(); !now.Before(c.refill) {
		c.free++
		c.refill = now.Add(time.Second)
	}
	if w.Val <= c.free {
		c.free -= w.Val
		c.q.Grant(w)
		c.q.WakeFront()
		return time.Time{}, false, nil
	}
	return c.refill, true, nil
}

func (c *counter) Abandon(w *Waiter[int]) {
	c.aband++
	if !c.q.Queued(w) {
		c.free += w.Val
	} else {
		c.q.Remove(w)
	}
	c.serve()
	if c.clk != nil {
		c.q.WakeFront() // its turn: it watches the clock now
	}
}

// push queues a waiter for n units under c's lock, waking it if it is the
// front (as a rate limiter does), and starts its Wait.
func (c *counter) push(ctx context.Context, n int) chan error {
	c.mu.Lock()
	w := c.q.Push(n, 0)
	if c.clk != nil && c.q.Front() == w {
		c.q.WakeFront()
	}
	c.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		var clk clock.Clock
		if c.clk != nil {
			clk = c.clk
		}
		done <- Wait(ctx, &c.mu, w, Owner[int](c), clk)
	}()
	return done
}

func (c *counter) release(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.free += n
	c.serve()
}

func (c *counter) state() (free, queued, abandoned int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.free, c.q.Len(), c.aband
}

func recv(t *testing.T, ch chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Wait never returned")
		return nil
	}
}

func quiet(t *testing.T, ch chan error) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("Wait returned early: %v", err)
	default:
	}
}

func TestWaitGrantedByRelease(t *testing.T) {
	c := &counter{}
	first := c.push(t.Context(), 2)
	second := c.push(t.Context(), 1)
	c.release(1)
	quiet(t, first)
	quiet(t, second) // FIFO: the 1 does not pass the 2
	c.release(2)
	if err := recv(t, first); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, second); err != nil {
		t.Fatal(err)
	}
	if free, queued, _ := c.state(); free != 0 || queued != 0 {
		t.Fatalf("free %d, queued %d", free, queued)
	}
}

func TestWaitCancelGivesBack(t *testing.T) {
	c := &counter{}
	ctx, cancel := context.WithCancel(t.Context())
	front := c.push(ctx, 5)
	next := c.push(t.Context(), 1)
	c.release(1) // fits next, but front holds it up
	quiet(t, next)
	cancel()
	if err := recv(t, front); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Wait = %v", err)
	}
	if err := recv(t, next); err != nil {
		t.Fatalf("the waiter behind was not let in: %v", err)
	}
	if free, queued, abandoned := c.state(); free != 0 || queued != 0 || abandoned != 1 {
		t.Fatalf("free %d, queued %d, abandoned %d", free, queued, abandoned)
	}
}

// The front waiter watches the clock: it sleeps until the owner's time,
// takes its units itself, and wakes the next front, which sleeps in turn.
func TestWaitFrontWatchesClock(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	c := &counter{clk: clk, refill: clk.Now().Add(time.Second)}
	first := c.push(t.Context(), 1)
	second := c.push(t.Context(), 1)
	if !clk.BlockUntilTimers(1, 10*time.Second) {
		t.Fatal("the front set no timer")
	}
	quiet(t, first)
	clk.Advance(time.Second)
	if err := recv(t, first); err != nil {
		t.Fatal(err)
	}
	if !clk.BlockUntilTimers(1, 10*time.Second) {
		t.Fatal("the next front set no timer")
	}
	quiet(t, second)
	clk.Advance(time.Second)
	if err := recv(t, second); err != nil {
		t.Fatal(err)
	}
	if clk.Timers() != 0 {
		t.Fatalf("%d timers left", clk.Timers())
	}
}

// A cancelled front stops its timer and hands the turn to the next.
func TestWaitCancelFrontStopsTimer(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	c := &counter{clk: clk, refill: clk.Now().Add(time.Second)}
	ctx, cancel := context.WithCancel(t.Context())
	first := c.push(ctx, 1)
	if !clk.BlockUntilTimers(1, 10*time.Second) {
		t.Fatal("the front set no timer")
	}
	second := c.push(t.Context(), 1)
	cancel()
	if err := recv(t, first); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Wait = %v", err)
	}
	// The second becomes the front and sets its own timer.
	if !clk.BlockUntilTimers(1, 10*time.Second) {
		t.Fatal("the new front set no timer")
	}
	clk.Advance(time.Second)
	if err := recv(t, second); err != nil {
		t.Fatal(err)
	}
}

// An error from Look makes the waiter give up: it is abandoned, and Wait
// returns the error.
func TestWaitLookError(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	errLate := errors.New("too late")
	c := &counter{clk: clk, lookErr: errLate}
	if err := recv(t, c.push(t.Context(), 1)); !errors.Is(err, errLate) {
		t.Fatalf("Wait = %v, want the Look error", err)
	}
	if _, queued, abandoned := c.state(); queued != 0 || abandoned != 1 {
		t.Fatalf("queued %d, abandoned %d", queued, abandoned)
	}
}

// selfGranter is an owner whose Look grants the waiter it is asked about.
type selfGranter struct{ q *Queue[int] }

func (g selfGranter) Look(_ context.Context, w *Waiter[int]) (time.Time, bool, error) {
	g.q.Grant(w)
	return time.Time{}, false, nil
}

func (g selfGranter) Abandon(*Waiter[int]) { panic("a granted waiter was abandoned") }

// A waiter that its own Look grants while a wake is still due (sent
// before the look took the lock) is reported granted: going back to its
// select, it could pick a done context and abandon what it was granted.
func TestLookGrantedBehindStaleWake(t *testing.T) {
	var (
		q  Queue[int]
		mu sync.Mutex
	)
	w := q.Push(1, 0)
	w.wake() // due before the look
	_, _, granted, err := look(context.Background(), &mu, w, selfGranter{&q}, nil)
	if err != nil || !granted {
		t.Fatalf("look = granted %v, err %v; want granted", granted, err)
	}
}
