// Package clock provides the time source that throttle's waiting packages
// use: a real one, and a fake one for deterministic tests whose timers fire
// as the test advances it.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock is the time source a limiter reads and waits on. It makes timers
// rather than sleeping, so that every wait can be a select that also
// watches ctx.Done().
//
// It has the same method set as ratelimit.Clock.
type Clock interface {
	// Now reports the current time.
	Now() time.Time
	// NewTimer returns a channel that receives once d has passed, and a
	// function that stops the timer (reporting whether it stopped it
	// before it fired).
	NewTimer(d time.Duration) (<-chan time.Time, func() bool)
}

// NewTimerAt returns a timer of c that fires at the instant at, or at once
// if at has passed. Waiters arm their timers with it rather than with
// NewTimer(at.Sub(now)): a clock can move between the reading of now and
// the arming of the timer (a fake clock advanced by a test goroutine), and
// a duration measured from the stale reading would then fire that much
// late. A clock with a NewTimerAt method of its own (Fake) arms the timer
// for the instant itself; any other clock gets the duration from a fresh
// reading.
func NewTimerAt(c Clock, at time.Time) (<-chan time.Time, func() bool) {
	if a, ok := c.(interface {
		NewTimerAt(at time.Time) (<-chan time.Time, func() bool)
	}); ok {
		return a.NewTimerAt(at)
	}
	return c.NewTimer(at.Sub(c.Now()))
}

// Real is the wall clock. Its zero value is ready to use.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (Real) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// Fake is a manual clock for tests: time moves only when Advance or Set is
// called, and timers whose deadline has been reached fire then, in deadline
// order. It is safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	// changed is closed and replaced whenever a timer is added, so tests can
	// wait for a goroutine to start waiting without sleeping.
	changed chan struct{}
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

// NewFake returns a fake clock reading start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires when the fake time reaches now+d.
// A timer with d <= 0 fires at once.
func (f *Fake) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.armLocked(f.now.Add(d))
}

// NewTimerAt returns a timer that fires when the fake time reaches at, at
// once if it has.
func (f *Fake) NewTimerAt(at time.Time) (<-chan time.Time, func() bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.armLocked(at)
}

func (f *Fake) armLocked(at time.Time) (<-chan time.Time, func() bool) {
	t := &fakeTimer{at: at, c: make(chan time.Time, 1)}
	if !at.After(f.now) {
		t.c <- f.now
		return t.c, func() bool { return false }
	}
	f.timers = append(f.timers, t)
	close(f.changed)
	f.changed = make(chan struct{})
	return t.c, func() bool { return f.stop(t) }
}

func (f *Fake) stop(t *fakeTimer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.timers {
		if x == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the fake time forward by d and fires every timer that is due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.setLocked(f.now.Add(d))
	f.mu.Unlock()
}

// Set moves the fake time to t (never backwards) and fires every timer that
// is due.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	if t.After(f.now) {
		f.setLocked(t)
	}
	f.mu.Unlock()
}

func (f *Fake) setLocked(t time.Time) {
	f.now = t
	sort.Slice(f.timers, func(i, j int) bool { return f.timers[i].at.Before(f.timers[j].at) })
	kept := f.timers[:0]
	for _, x := range f.timers {
		if x.at.After(t) {
			kept = append(kept, x)
			continue
		}
		x.c <- t
	}
	f.timers = kept
}

// Timers reports how many timers are pending.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// BlockUntilTimers waits, without sleeping, until at least n timers are
// pending, or until the timeout passes in real time; it reports whether n
// were reached. Tests use it to know that the goroutines under test have
// started waiting before they advance the clock.
func (f *Fake) BlockUntilTimers(n int, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		if len(f.timers) >= n {
			f.mu.Unlock()
			return true
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}
