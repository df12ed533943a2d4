package throttle

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/go-throttle/throttle/feedback"
	"github.com/go-throttle/throttle/internal/clock"
	"github.com/stretchr/testify/require"
)

func TestStatedWindowBudget(t *testing.T) {
	type count struct {
		remaining int
		accepted  bool
	}
	cases := []struct {
		name   string
		quota  int
		counts []count
		others int // attempts in flight beyond the one answered last
		want   int32
	}{
		{"alone", 100, []count{{99, true}}, 0, 99},
		{"others-uncounted", 100, []count{{99, true}}, 5, 94},
		// The 12th request's count came after the first's: the 10
		// between them are among the others in flight, the other 74 are
		// not counted yet.
		{"holes-before", 100, []count{{99, true}, {88, true}}, 84, 14},
		{"holes-filled", 100, []count{{99, true}, {88, true}, {95, true}}, 83, 14},
		{"no-quota-holes-between", 0, []count{{99, true}, {88, true}}, 84, 88 - 84 + 10},
		{"no-quota-no-holes", 0, []count{{88, true}}, 84, 4},
		{"refusals-fill-nothing", 100, []count{{0, false}, {0, false}}, 3, 0},
		{"overdrawn", 10, []count{{2, true}}, 20, 2 - (20 - 7)},
		{"duplicate-counts", 0, []count{{5, true}, {5, true}, {5, true}}, 2, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var w statedWindow
			for _, c := range tc.counts {
				w.add(c.remaining, tc.quota, c.accepted)
			}
			require.Equal(t, tc.want, w.budget(tc.others))
		})
	}
}

// budgetHost is one host of a host table with feedback, driven by hand:
// spend and answer stand for an attempt sent and its response.
type budgetHost struct {
	t    *testing.T
	fake *clock.Fake
	ht   *hostTable
	h    *host
}

func newBudgetHost(t *testing.T) *budgetHost {
	fake := clock.NewFake(t0)
	ht := newTestTable(t, fake)
	h := ht.enter("api.example")
	t.Cleanup(func() { ht.leave(h) })
	return &budgetHost{t: t, fake: fake, ht: ht, h: h}
}

// spend sends n attempts if the host lets them all through.
func (b *budgetHost) spend(n int) bool {
	for range n {
		if _, ok := b.ht.spend(b.h); !ok {
			return false
		}
	}
	return true
}

// answer applies a response with header kv (pairs) and status.
func (b *budgetHost) answer(status int, kv ...string) {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	now := b.fake.Now()
	sig := feedback.Parse(h, status, now)
	b.ht.observe(b.h, &sig, now, false, true, outcome{})
}

func (b *budgetHost) remaining() int32 {
	b.ht.mu.Lock()
	defer b.ht.mu.Unlock()
	return b.h.remaining
}

func (b *budgetHost) blockedFor() time.Duration {
	b.ht.mu.Lock()
	defer b.ht.mu.Unlock()
	now := b.ht.now()
	if until := b.h.blockedUntil(now); until != 0 {
		return time.Duration(until - now)
	}
	return 0
}

// github states a GitHub-style count, with a reset in seconds from now.
func github(remaining, reset int) []string {
	return []string{"X-RateLimit-Limit", "20", "X-RateLimit-Remaining", strconv.Itoa(remaining),
		"X-RateLimit-Reset", strconv.Itoa(reset)}
}

// Issue 9: the counts a burst's responses state, whatever their order,
// leave the budget at what the server has left; taking every attempt in
// flight off each count left the burst's last requests without budget
// until the reset, a whole window lost.
func TestStatedBudgetCountsWhatTheServerDidNot(t *testing.T) {
	b := newBudgetHost(t)
	require.True(t, b.spend(1))
	b.answer(200, github(19, 1)...)
	require.EqualValues(t, 19, b.remaining())
	require.True(t, b.spend(9), "9 of the 19 go")
	// The server counted them in an order of its own, and answers in
	// another: the 7th first.
	for i, pos := range []int{7, 2, 10, 3, 4, 5, 6, 8, 9} {
		b.answer(200, github(20-pos, 1)...)
		require.EqualValues(t, 10, b.remaining(), "after %d answers", i+1)
	}
	require.True(t, b.spend(10))
	require.False(t, b.spend(1), "the budget is spent")
}

// Issue 9: a reset stated in whole seconds is rounded up, from one instant
// for every response of a window, so the earliest stated is the window's
// end; a count of 0 on an accepted request holds the host until then, not
// until the latest response's rounded reset.
func TestStatedBudgetResetsAtTheEarliestStated(t *testing.T) {
	b := newBudgetHost(t)
	require.True(t, b.spend(20))
	b.answer(200, github(19, 1)...) // the window ends 1 s from now at most
	b.fake.Advance(300 * time.Millisecond)
	for r := 18; r >= 0; r-- {
		b.answer(200, github(r, 1)...)
	}
	require.Equal(t, 700*time.Millisecond, b.blockedFor())
	b.ht.mu.Lock()
	require.Zero(t, b.h.pausedUntil, "an accepted count of 0 is a budget, not a pause")
	b.ht.mu.Unlock()
	// A refusal still pauses the host until the reset it states.
	b.answer(429, github(0, 1)...)
	require.Equal(t, time.Second, b.blockedFor())
}

// Issue 9: once a window has reset, the callers that waited for it go as
// the budget of the last window allows, not all at once before the first
// response of the new one states it.
func TestStatedBudgetRenewsAtTheReset(t *testing.T) {
	b := newBudgetHost(t)
	require.True(t, b.spend(1))
	b.answer(200, github(19, 1)...)
	require.True(t, b.spend(19))
	require.False(t, b.spend(1))
	b.fake.Advance(time.Second)
	require.True(t, b.spend(20), "the new window holds the quota")
	require.False(t, b.spend(1), "and no more until a response says so")
	b.answer(200, github(0, 1)...) // the new window's statement
	require.Equal(t, time.Second, b.blockedFor())
	b.fake.Advance(time.Second)
	require.True(t, b.spend(1))
}

// Without a stated limit, a renewed window holds what the last one was
// first seen to hold.
func TestStatedBudgetRenewsWithoutALimit(t *testing.T) {
	b := newBudgetHost(t)
	require.True(t, b.spend(1))
	b.answer(200, "RateLimit", `"d";r=4;t=1`)
	require.True(t, b.spend(4))
	b.fake.Advance(time.Second)
	require.True(t, b.spend(5))
	require.False(t, b.spend(1))
}

// githubAt states a GitHub-style count with its reset as a Unix time in
// whole seconds, at the instant reset.
func githubAt(remaining int, reset time.Time) []string {
	return []string{"X-RateLimit-Limit", "20", "X-RateLimit-Remaining", strconv.Itoa(remaining),
		"X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10)}
}

// guessedWindow brings b to a window its own request opened 1 ms after a
// reset stated as t0+2 s, whose reset is stated as t0+4 s: the window of
// 1 s ends by t0+3 s and 6 ms, when its first answer came plus 1 s.
func guessedWindow(t *testing.T, b *budgetHost) {
	b.fake.Advance(300 * time.Millisecond)
	require.True(t, b.spend(1))
	b.answer(200, githubAt(19, t0.Add(2*time.Second))...)
	require.True(t, b.spend(19))
	for r := 18; r >= 0; r-- {
		b.answer(200, githubAt(r, t0.Add(2*time.Second))...)
	}
	b.fake.Set(t0.Add(2*time.Second + time.Millisecond))
	require.True(t, b.spend(1), "renewed at the reset")
	b.fake.Advance(5 * time.Millisecond)
	b.answer(200, githubAt(19, t0.Add(4*time.Second))...)
	require.True(t, b.spend(19))
	for r := 18; r >= 0; r-- {
		b.answer(200, githubAt(r, t0.Add(4*time.Second))...)
	}
	require.False(t, b.spend(1))
	require.Equal(t, time.Second, b.blockedFor(), "the guessed end, not the reset stated")
}

// Issue 9: a reset stated in whole Unix seconds rounds the end of a
// 1-second window up by as much as a second; when the client's request
// opened the window, one request tries the server once the window's
// length in whole seconds has passed, and the others follow its answer.
func TestStatedBudgetGuessesAWholeSecondWindow(t *testing.T) {
	b := newBudgetHost(t)
	guessedWindow(t, b)
	b.fake.Advance(time.Second)
	require.True(t, b.spend(1), "one tries the guessed end")
	require.False(t, b.spend(1), "the others wait for its answer")
	b.fake.Advance(5 * time.Millisecond)
	b.answer(200, githubAt(19, t0.Add(5*time.Second))...)
	require.True(t, b.spend(19), "a new window")
}

// A server that refuses the request that tried a guessed end is not of
// that kind: the host waits for the resets it states from then on.
func TestStatedBudgetGuessRefusedOnce(t *testing.T) {
	b := newBudgetHost(t)
	guessedWindow(t, b)
	b.fake.Advance(time.Second)
	require.True(t, b.spend(1))
	b.answer(http.StatusTooManyRequests, githubAt(0, t0.Add(4*time.Second))...)
	require.Equal(t, 994*time.Millisecond, b.blockedFor(), "paused until the reset stated")
	b.fake.Set(t0.Add(4*time.Second + time.Millisecond))
	require.True(t, b.spend(1))
	b.fake.Advance(5 * time.Millisecond)
	b.answer(200, githubAt(19, t0.Add(6*time.Second))...)
	require.True(t, b.spend(19))
	require.False(t, b.spend(1))
	b.ht.mu.Lock()
	defer b.ht.mu.Unlock()
	require.Zero(t, b.h.late, "no guess after a refusal")
}
