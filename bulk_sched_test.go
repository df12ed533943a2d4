package throttle

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBulkWorkersFollowSession(t *testing.T) {
	s, err := NewSession(WithMaxConcurrency(7))
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, 7, s.bulkWorkers())
	s2, err := NewSession(WithHostConcurrency(2))
	require.NoError(t, err)
	defer s2.Close()
	assert.Equal(t, defaultBulkWorkers, s2.bulkWorkers())
}

// takeIndex takes an item and returns its index, failing if none is ready
// (the scheduler would block).
func takeIndex(t *testing.T, q *bulkSched) (int, *bulkHost) {
	t.Helper()
	q.mu.Lock()
	it, ok := q.next()
	if ok {
		q.parked--
		it.host.waiting++
	}
	q.mu.Unlock()
	require.True(t, ok, "nothing to take")
	return it.index, it.host
}

func nothingReady(q *bulkSched) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.next()
	return !ok
}

func TestBulkSchedOneWaitingPerHost(t *testing.T) {
	q := newBulkSched(100, 0)
	req := &http.Request{}
	for i, host := range []string{"a", "a", "a", "b", "c", "b"} {
		require.True(t, q.put(bulkItem{index: i, req: req}, host))
	}
	i, a := takeIndex(t, q)
	assert.Equal(t, 0, i)
	i, b := takeIndex(t, q) // a has one waiting: b goes, not a's second
	assert.Equal(t, 3, i)
	i, _ = takeIndex(t, q)
	assert.Equal(t, 4, i)
	assert.True(t, nothingReady(q), "a and b each have one waiting")
	q.sent(a)
	i, _ = takeIndex(t, q)
	assert.Equal(t, 1, i, "a's next, in input order")
	q.sent(b)
	i, _ = takeIndex(t, q)
	assert.Equal(t, 5, i)
	q.end() // nothing else will come: a's last goes although a has one waiting
	i, _ = takeIndex(t, q)
	assert.Equal(t, 2, i)
	assert.True(t, nothingReady(q))
}

func TestBulkSchedFullLookaheadLetsAnyGo(t *testing.T) {
	q := newBulkSched(3, 0)
	req := &http.Request{}
	for i := range 3 {
		require.True(t, q.put(bulkItem{index: i, req: req}, "a"))
	}
	i, _ := takeIndex(t, q)
	assert.Equal(t, 0, i)
	assert.True(t, nothingReady(q), "look-ahead not full: a's next waits")
	require.True(t, q.put(bulkItem{index: 3, req: req}, "a"))
	i, _ = takeIndex(t, q)
	assert.Equal(t, 1, i, "look-ahead full: a's next goes anyway")
}

func TestBulkSchedForgetsIdleHosts(t *testing.T) {
	q := newBulkSched(100, 0)
	for i := range 50 {
		require.True(t, q.put(bulkItem{index: i, req: &http.Request{}}, string(rune('a'+i%26))+"x"))
	}
	q.end()
	var held []*bulkHost
	for range 50 {
		_, h := takeIndex(t, q)
		held = append(held, h)
	}
	for _, h := range held {
		q.sent(h)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.ready.len() > 0 || q.any.len() > 0 {
		_, ok := q.next()
		require.False(t, ok)
	}
	assert.Empty(t, q.hosts)
}
