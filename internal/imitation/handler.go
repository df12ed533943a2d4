package imitation

import (
	"io"
	"maps"
	"net/http"
	"sync"
	"time"
)

// A Handler is one imitation server: a rule, a service time for each
// accepted request, and counters. It is safe for concurrent use; its zero
// value is not usable (the catalogue's constructors make Handlers).
type Handler struct {
	name    string
	rule    rule
	service time.Duration

	mu       sync.Mutex
	inflight int
	counts   Counts
	seen     map[string]bool
}

// Counts is what a server counted: the requests it accepted, those it
// rejected by status, and accepted requests that carried an id it had
// already accepted (a request the client sent again after it had been
// served).
type Counts struct {
	Accepted   int
	Rejected   map[int]int
	Duplicates int
}

// Rejections is the number of requests rejected, whatever the status.
func (c Counts) Rejections() int {
	n := 0
	for _, v := range c.Rejected {
		n += v
	}
	return n
}

// IDParam is the query parameter Measure numbers its requests with, so
// that a server can tell a request served twice.
const IDParam = "req"

func newHandler(name string, r rule, service time.Duration) *Handler {
	return &Handler{name: name, rule: r, service: service, counts: Counts{Rejected: map[int]int{}}, seen: map[string]bool{}}
}

// Name is the imitation's name in the catalogue.
func (h *Handler) Name() string { return h.name }

// Ideal is the least time from firing n requests at once to the last
// response, for a client that knows the rule and has no latency.
func (h *Handler) Ideal(n int) time.Duration { return h.rule.ideal(n, h.service) }

// Counts reports the counters now.
func (h *Handler) Counts() Counts {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.counts
	c.Rejected = maps.Clone(c.Rejected)
	return c
}

// ServeHTTP applies the rule at the wall clock's now. An accepted request
// is answered 200 after the service time (or when its client goes away);
// it stops counting as in flight before its answer is written, so a client
// that waits for the answer never trips an in-flight cap.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	d := h.decide(time.Now(), r)
	for k, v := range d.header {
		w.Header()[k] = v
	}
	if !d.ok {
		w.WriteHeader(d.status)
		_, _ = io.WriteString(w, d.body)
		return
	}
	serve(r, h.service)
	h.mu.Lock()
	h.inflight--
	h.mu.Unlock()
	_, _ = io.WriteString(w, "ok\n")
}

func (h *Handler) decide(now time.Time, r *http.Request) decision {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.rule.admit(now, r.URL.Path, h.inflight)
	if !d.ok {
		h.counts.Rejected[d.status]++
		return d
	}
	h.inflight++
	h.counts.Accepted++
	if id := r.URL.Query().Get(IDParam); id != "" {
		if h.seen[id] {
			h.counts.Duplicates++
		}
		h.seen[id] = true
	}
	return d
}

// serve waits for the service time, or until the request's client goes
// away.
func serve(r *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}
