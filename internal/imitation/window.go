package imitation

import (
	"net/http"
	"time"
)

// fixedWindow accepts at most limit requests per window of length per. A
// window opens with the first request after the previous one has ended
// (as a Redis INCR with EXPIRE on the first hit does, and as GitHub's and
// Discord's buckets do), so its phase is set by the client's first
// request and the Ideal does not depend on when a run starts.
type fixedWindow struct {
	limit   int
	per     time.Duration
	start   time.Time
	count   int
	started bool
}

// take opens a new window if needed and counts one request in it if there
// is room, reporting whether there was.
func (w *fixedWindow) take(now time.Time) bool {
	if !w.started || now.Sub(w.start) >= w.per {
		w.start, w.count, w.started = now, 0, true
	}
	if w.count >= w.limit {
		return false
	}
	w.count++
	return true
}

func (w *fixedWindow) remaining() int { return w.limit - w.count }

// resetIn is how long until the current window ends.
func (w *fixedWindow) resetIn(now time.Time) time.Duration { return w.start.Add(w.per).Sub(now) }

// idealSpan: limit requests at once in each window, and each window opens
// as the previous one ends, so n requests need ceil(n/limit) windows and
// the last of them opens (ceil(n/limit)-1)·per after the first request.
func (w *fixedWindow) idealSpan(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(ceilDiv(int64(n), int64(w.limit))-1) * w.per
}

// dialect writes what a fixed-window server says about a route's window,
// and returns the body of a rejection.
type dialect func(h http.Header, w *fixedWindow, route string, now time.Time, ok bool) (body string)

// windowRule is a fixed window (one per route when perRoute) answering in
// a dialect, with status on a rejection.
type windowRule struct {
	limit    int
	per      time.Duration
	status   int
	perRoute bool
	say      dialect // nil: say nothing
	windows  map[string]*fixedWindow
}

func newWindowRule(limit int, per time.Duration, status int, say dialect) *windowRule {
	return &windowRule{limit: limit, per: per, status: status, say: say, windows: map[string]*fixedWindow{}}
}

func (r *windowRule) admit(now time.Time, route string, _ int) decision {
	if !r.perRoute {
		route = ""
	}
	w := r.windows[route]
	if w == nil {
		w = &fixedWindow{limit: r.limit, per: r.per}
		r.windows[route] = w
	}
	ok := w.take(now)
	var header http.Header
	var body string
	if r.say != nil {
		header = http.Header{}
		body = r.say(header, w, route, now, ok)
	}
	if ok {
		return accept(header)
	}
	d := reject(r.status, header)
	d.body = body
	return d
}

func (r *windowRule) ideal(n int, service time.Duration) time.Duration {
	w := fixedWindow{limit: r.limit, per: r.per}
	return w.idealSpan(n) + service
}
