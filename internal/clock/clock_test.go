package clock

import (
	"testing"
	"time"
)

func TestFakeFiresDueTimersInOrder(t *testing.T) {
	start := time.Unix(1000, 0)
	f := NewFake(start)
	c2, _ := f.NewTimer(2 * time.Second)
	c1, _ := f.NewTimer(time.Second)
	c3, stop3 := f.NewTimer(3 * time.Second)
	if !stop3() {
		t.Fatal("stop of a pending timer reported false")
	}
	f.Advance(1500 * time.Millisecond)
	select {
	case got := <-c1:
		if !got.Equal(start.Add(1500 * time.Millisecond)) {
			t.Fatalf("timer fired with %v", got)
		}
	default:
		t.Fatal("due timer did not fire")
	}
	select {
	case <-c2:
		t.Fatal("timer fired early")
	default:
	}
	f.Advance(time.Second)
	<-c2
	select {
	case <-c3:
		t.Fatal("stopped timer fired")
	default:
	}
	if f.Timers() != 0 {
		t.Fatalf("Timers() = %d, want 0", f.Timers())
	}
}

func TestFakeBlockUntilTimers(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	go f.NewTimer(time.Second)
	if !f.BlockUntilTimers(1, 5*time.Second) {
		t.Fatal("timer never registered")
	}
	if f.BlockUntilTimers(2, 10*time.Millisecond) {
		t.Fatal("reported 2 timers with 1 pending")
	}
	if c, _ := f.NewTimer(0); len(c) != 1 {
		t.Fatal("zero-duration timer did not fire at once")
	}
}

// A timer armed for an instant fires at that instant, however far the
// clock moved after the instant was worked out; one for an instant already
// past fires at once. NewTimer(at.Sub(now)) with a stale now would fire
// late by however far the clock moved.
func TestNewTimerAt(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	at := start.Add(100 * time.Millisecond) // worked out at start
	f.Advance(99 * time.Millisecond)        // the clock moves before the timer is armed
	c, _ := NewTimerAt(f, at)
	f.Advance(time.Millisecond)
	select {
	case got := <-c:
		if !got.Equal(at) {
			t.Errorf("fired at %v, want %v", got, at)
		}
	default:
		t.Fatal("the timer for the instant reached did not fire")
	}

	past, _ := NewTimerAt(f, start)
	select {
	case <-past:
	default:
		t.Fatal("a timer for a past instant did not fire at once")
	}

	// Any other clock gets the duration from a fresh reading.
	real, stop := NewTimerAt(Real{}, time.Now().Add(time.Hour))
	if !stop() {
		t.Error("Real's timer for an hour ahead had already fired")
	}
	select {
	case <-real:
		t.Error("a stopped timer fired")
	default:
	}
}
