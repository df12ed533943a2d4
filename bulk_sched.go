package throttle

import (
	"net/http"
	"sync"
)

// bulkItem is one request of a bulk run, read from the input and not yet
// done.
type bulkItem struct {
	index int
	req   *http.Request
	host  *bulkHost // set when the item is queued
}

// bulkHost is the scheduler's queue of one host. Hosts are keyed lazily
// and forgotten as soon as they have nothing queued or waiting, so a crawl
// over many hosts keeps only those of the look-ahead.
type bulkHost struct {
	key     string
	items   fifo[bulkItem]
	waiting int  // handed to a worker and not yet past the session's limits
	inReady bool // listed in ready (maybe stale)
	inAny   bool // listed in any (maybe stale)
}

func (h *bulkHost) len() int { return h.items.len() }

func (h *bulkHost) pop() bulkItem { return h.items.pop() }

// bulkSched hands a bulk run's requests to its workers: one FIFO queue per
// host, and a worker takes the next request of a host that has no request
// waiting for the session's limits (ready), round-robin over such hosts.
// The host of a request that must wait thus holds up one worker at most,
// while the others serve the rest of the look-ahead. When nothing is ready
// but the look-ahead is (nearly: slack) full or the input has ended, a worker takes a
// request of a host that has one waiting already (any): nothing else
// could use it, and only so does the input move on.
//
// Its state changes under mu; workers wait on work, the feeder on space.
type bulkSched struct {
	mu        sync.Mutex
	work      sync.Cond
	space     sync.Cond
	hosts     map[string]*bulkHost
	ready     fifo[*bulkHost]
	any       fifo[*bulkHost]
	parked    int // items queued in hosts
	lookahead int
	slack     int  // the look-ahead counts as full this much early, so the feeder need not refill it before each take
	ended     bool // the input is done: no more puts
	cancelled bool // hand out anything, in any order: it is not sent
	stopped   bool // the consumer is gone: hand out nothing
}

func newBulkSched(lookahead, slack int) *bulkSched {
	q := &bulkSched{hosts: make(map[string]*bulkHost), lookahead: lookahead, slack: slack}
	q.work.L = &q.mu
	q.space.L = &q.mu
	return q
}

// refill is where a feeder waiting for a full look-ahead is woken: half
// the slack below full, so that it puts a batch each time it wakes rather
// than waking for every request taken.
func (q *bulkSched) refill() int { return q.lookahead - max(q.slack/2, 1) }

// put queues it under its host key, waiting while the look-ahead is full.
// It reports false if the run was stopped.
func (q *bulkSched) put(it bulkItem, key string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.parked >= q.lookahead && !q.stopped && !q.cancelled {
		q.space.Wait()
	}
	if q.stopped {
		return false
	}
	h := q.hosts[key]
	if h == nil {
		h = &bulkHost{key: key}
		q.hosts[key] = h
	}
	it.host = h
	h.items.push(it)
	q.parked++
	q.list(h)
	if h.waiting == 0 || q.parked >= q.lookahead-q.slack {
		q.work.Signal()
	}
	return true
}

// list puts h on the lists it belongs to.
func (q *bulkSched) list(h *bulkHost) {
	if h.len() == 0 {
		return
	}
	if !h.inAny {
		h.inAny = true
		q.any.push(h)
	}
	if h.waiting == 0 && !h.inReady {
		h.inReady = true
		q.ready.push(h)
	}
}

// take hands out the next item, waiting for one; it reports false when
// the input is done and nothing is queued, or the run was stopped.
func (q *bulkSched) take() (bulkItem, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.stopped {
			return bulkItem{}, false
		}
		if it, ok := q.next(); ok {
			q.parked--
			it.host.waiting++
			if q.parked == q.refill() {
				q.space.Signal()
			}
			return it, true
		}
		if q.ended && q.parked == 0 {
			return bulkItem{}, false
		}
		q.work.Wait()
	}
}

// next pops from a ready host, or, when the look-ahead is full, the input
// has ended or the run is cancelled, from any host. Stale list entries
// are dropped on the way.
func (q *bulkSched) next() (bulkItem, bool) {
	for q.ready.len() > 0 {
		h := q.ready.pop()
		h.inReady = false
		if h.waiting == 0 && h.len() > 0 {
			return q.popFrom(h), true
		}
		q.forget(h)
	}
	if q.parked < q.lookahead-q.slack && !q.ended && !q.cancelled {
		return bulkItem{}, false
	}
	for q.any.len() > 0 {
		h := q.any.pop()
		h.inAny = false
		if h.len() > 0 {
			return q.popFrom(h), true
		}
		q.forget(h)
	}
	return bulkItem{}, false
}

func (q *bulkSched) popFrom(h *bulkHost) bulkItem {
	it := h.pop()
	if h.len() > 0 && !h.inAny {
		h.inAny = true
		q.any.push(h) // round-robin: to the back
	}
	return it
}

// forget drops h from the table once nothing refers to it.
func (q *bulkSched) forget(h *bulkHost) {
	if h.len() == 0 && h.waiting == 0 && !h.inReady && !h.inAny {
		delete(q.hosts, h.key)
	}
}

// sent reports that an item handed out by take is past the session's
// limits (or done): its host may have the next one.
func (q *bulkSched) sent(h *bulkHost) {
	q.mu.Lock()
	defer q.mu.Unlock()
	h.waiting--
	if h.waiting == 0 {
		if h.len() > 0 {
			q.list(h)
			q.work.Signal()
		} else {
			q.forget(h)
		}
	}
}

// end reports that the input is done.
func (q *bulkSched) end() {
	q.mu.Lock()
	q.ended = true
	q.mu.Unlock()
	q.work.Broadcast()
}

// cancel lets everything queued out at once, in any order: the run's
// context is done, so none of it is sent.
func (q *bulkSched) cancel() {
	q.mu.Lock()
	q.cancelled = true
	q.mu.Unlock()
	q.work.Broadcast()
	q.space.Broadcast()
}

// stop wakes everyone to return: the consumer is gone.
func (q *bulkSched) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	q.work.Broadcast()
	q.space.Broadcast()
}

// fifo is a queue over a slice that reuses its space.
type fifo[E any] struct {
	s    []E
	head int
}

func (f *fifo[E]) len() int { return len(f.s) - f.head }

func (f *fifo[E]) push(e E) { f.s = append(f.s, e) }

func (f *fifo[E]) pop() E {
	var zero E
	e := f.s[f.head]
	f.s[f.head] = zero
	f.head++
	if f.head > 32 && f.head*2 > len(f.s) {
		n := copy(f.s, f.s[f.head:])
		clear(f.s[n:])
		f.s, f.head = f.s[:n], 0
	}
	return e
}
