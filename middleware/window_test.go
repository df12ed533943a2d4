package middleware

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/go-throttle/throttle/internal/clock"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// A window admits n per any window of length per, reports what is left
// and when the oldest leaves, and is idle once all have left.
func TestWindowSteps(t *testing.T) {
	clk := clock.NewFake(t0)
	w := newWindow(2, 10*time.Second, clk)
	steps := []struct {
		advance   time.Duration
		ok        bool
		remaining int
		reset     time.Duration
		idle      bool // IdleAt after the step
	}{
		{0, true, 1, 10 * time.Second, false},
		{3 * time.Second, true, 0, 7 * time.Second, false},
		{6 * time.Second, false, 0, time.Second, false},
		{time.Second, true, 0, 3 * time.Second, false}, // the first left at 10s
		{13*time.Second - time.Nanosecond, true, 1, 10 * time.Second, false},
		{10 * time.Second, false, 0, 0, true},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		if i == len(steps)-1 {
			if !w.IdleAt(clk.Now()) {
				t.Errorf("step %d: not idle", i)
			}
			break
		}
		rc := &rateCtx{Context: context.Background()}
		err := w.Acquire(rc, 1)
		if (err == nil) != st.ok || rc.res.ok != st.ok || rc.res.remaining != st.remaining || rc.res.reset != st.reset {
			t.Errorf("step %d: got err %v, %+v; want ok=%v remaining=%d reset=%v", i, err, rc.res, st.ok, st.remaining, st.reset)
		}
		if got := w.IdleAt(clk.Now()); got != st.idle {
			t.Errorf("step %d: IdleAt = %v", i, got)
		}
	}
}

// A huge limit keeps a bounded history: arrivals are rounded up to the
// granularity, never down, so the limit stays strict.
func TestWindowBoundedHistory(t *testing.T) {
	tests := []struct {
		per  time.Duration
		gran int64
	}{
		{time.Hour, int64(time.Millisecond)},
		{time.Second, int64(time.Millisecond)},
		{100 * time.Millisecond, int64(100 * time.Microsecond)},
		{time.Microsecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.per.String(), func(t *testing.T) {
			if got := granularity(tt.per); got != tt.gran {
				t.Errorf("granularity = %d, want %d", got, tt.gran)
			}
		})
	}
	clk := clock.NewFake(t0)
	w := newWindow(1<<30, time.Second, clk)
	for range 100_000 {
		clk.Advance(3 * time.Microsecond)
		w.take(&rateResult{})
	}
	if len(w.entries) > 1001 {
		t.Errorf("%d entries after 0.3s of a 1s window, want at most 1001", len(w.entries))
	}
	if w.used != 100_000 {
		t.Errorf("used = %d, want 100000", w.used)
	}
	if last := w.entries[len(w.entries)-1].at; last < int64(300*time.Millisecond) {
		t.Errorf("newest stamp %d is before the arrival", last)
	}
	clk.Advance(time.Second + time.Millisecond)
	if !w.IdleAt(clk.Now()) {
		t.Error("not idle a window after the last arrival")
	}
}

// Memory stays bounded: the windows of consumers gone quiet are dropped.
func TestIdleConsumersDropped(t *testing.T) {
	clk := clock.NewFake(t0)
	th, err := New(WithRateLimit(5, time.Minute), WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	h := th.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	call := func(consumer string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Service-Name", consumer)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	for i := range 100 {
		call("c" + strconv.Itoa(i))
	}
	if n := th.rate.Len(); n != 100 {
		t.Fatalf("%d windows, want 100", n)
	}
	clk.Advance(time.Minute)
	for range 101 {
		call("z")
	}
	if n := th.rate.Len(); n > 1 {
		t.Errorf("%d windows after the others went quiet, want 1", n)
	}
}
