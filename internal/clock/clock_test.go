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
