package clock

import "time"

// AfterFunc calls fn in its own goroutine once the fake time reaches now+d
// (at once if d <= 0), as time.AfterFunc does on the wall clock, and
// returns a function that stops it, reporting whether it stopped fn from
// being called. The goroutine ends when fn has run or the timer is
// stopped, so a test that stops what it armed leaks nothing.
//
// The root package runs WithTimeout on a clock that has this method, so
// that a test expires an attempt by advancing the fake clock.
func (f *Fake) AfterFunc(d time.Duration, fn func()) (stop func() bool) {
	c, stopTimer := f.NewTimer(d)
	stopped := make(chan struct{})
	go func() {
		select {
		case <-c:
			fn()
		case <-stopped:
		}
	}()
	return func() bool {
		if !stopTimer() {
			return false // fired, or stopped already
		}
		close(stopped)
		return true
	}
}
