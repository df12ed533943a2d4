package clock

import (
	"testing"
	"time"
)

// AfterFunc runs its function once the fake time reaches its instant, not
// before; a stopped one never runs.
func TestFakeAfterFunc(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	fired := make(chan struct{})
	f.AfterFunc(time.Second, func() { close(fired) })
	f.Advance(time.Second - 1)
	select {
	case <-fired:
		t.Fatal("fired before its time")
	default:
	}
	f.Advance(1)
	<-fired

	stop := f.AfterFunc(time.Second, func() { t.Error("a stopped AfterFunc ran") })
	if !stop() {
		t.Fatal("stop did not report stopping a pending AfterFunc")
	}
	if stop() {
		t.Fatal("a second stop reported stopping it again")
	}
	f.Advance(time.Hour)
}
