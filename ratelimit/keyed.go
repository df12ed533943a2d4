package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// idler is implemented by limiters that can tell when they are back to
// their initial state (Window, Bucket).
type idler interface {
	IdleAt(now time.Time) bool
}

// tryAcquirer is implemented by limiters that can take without waiting.
type tryAcquirer interface {
	TryAcquire(n int) bool
}

// stater is implemented by limiters that report their state (Window).
type stater interface {
	State() (remaining int, reset time.Duration)
}

// Keyed keeps one limiter per key, such as one Window per host, created on
// first use by the function given to NewKeyed.
//
// Memory stays bounded by the keys active within a window: an entry is
// dropped once no call is using it and its limiter reports IdleAt(now),
// that is, once its history no longer limits anything and a fresh limiter
// would behave the same. Dropping is lazy and amortised: once there have
// been as many calls as the last sweep left entries, the next call sweeps
// the table, so each call costs O(1) on average, however many keys are
// new, and no goroutine runs. An entry whose limiter has
// no IdleAt method cannot be judged idle and is never dropped; give such
// limiters an IdleAt to bound memory.
//
// Keyed reads the time for IdleAt from its own Clock (WithClock); give it
// the clock its limiters use.
//
// Keyed is safe for concurrent use. The zero value is not usable (it has
// no way to make limiters); call NewKeyed.
type Keyed struct {
	newLimiter func(key string) (Limiter, error)
	clock      Clock

	mu      sync.Mutex
	entries map[string]*keyedEntry
	calls   int // calls since the last sweep
	kept    int // entries the last sweep left
}

// keyedEntry is one key's limiter and how many calls are using it.
type keyedEntry struct {
	lim  Limiter
	refs int
}

// NewKeyed returns a Keyed creating each key's limiter with newLimiter,
// which must not be nil. newLimiter is called with Keyed's lock held, once
// per key until the entry is dropped, and must not call back into the
// Keyed. The only option that applies is WithClock.
func NewKeyed(newLimiter func(key string) (Limiter, error), opts ...Option) (*Keyed, error) {
	cfg, err := buildConfig(opts)
	if newLimiter == nil {
		err = joinErr(err, invalidf("NewKeyed(newLimiter=nil)", "newLimiter must not be nil"))
	}
	if cfg.burstSet {
		err = joinErr(err, invalidf(callOp("NewKeyed(WithBurst", cfg.burst)+")", "WithBurst applies to NewBucket only"))
	}
	if cfg.gran != 0 {
		err = joinErr(err, invalidf("NewKeyed(WithGranularity("+cfg.gran.String()+"))", "WithGranularity applies to NewWindow only"))
	}
	if err != nil {
		return nil, err
	}
	return &Keyed{newLimiter: newLimiter, clock: cfg.clock, entries: make(map[string]*keyedEntry)}, nil
}

// Acquire calls Acquire on key's limiter, creating it if needed. An error
// from newLimiter is returned wrapped, naming the key. A nil ctx is an
// error wrapping ErrNilContext, before any limiter is created.
func (k *Keyed) Acquire(ctx context.Context, key string, n int) error {
	if ctx == nil {
		return nilCtxError(fmt.Sprintf("Keyed.Acquire(key=%q, n=%d)", key, n))
	}
	e, err := k.get(key)
	if err != nil {
		return err
	}
	defer k.put(e)
	return e.lim.Acquire(ctx, n)
}

// Reserve takes n units from key's limiter as a Grant (see the package's
// Reserve function). A nil ctx is an error wrapping ErrNilContext. While the Grant is pending the limiter is not idle,
// so the entry is kept.
func (k *Keyed) Reserve(ctx context.Context, key string, n int) (*Grant, error) {
	if ctx == nil {
		return nil, nilCtxError(fmt.Sprintf("Keyed.Reserve(key=%q, n=%d)", key, n))
	}
	e, err := k.get(key)
	if err != nil {
		return nil, err
	}
	defer k.put(e)
	return Reserve(ctx, e.lim, n)
}

// TryAcquire calls TryAcquire on key's limiter, creating it if needed. It
// reports false if the limiter cannot be created, or has no TryAcquire
// method (it cannot take without possibly waiting).
func (k *Keyed) TryAcquire(key string, n int) bool {
	e, err := k.get(key)
	if err != nil {
		return false
	}
	defer k.put(e)
	t, ok := e.lim.(tryAcquirer)
	return ok && t.TryAcquire(n)
}

// State calls State on key's limiter (see Window.State), creating it if
// needed, so that a caller can report what TryAcquire left. ok is false if
// the limiter cannot be created or has no State method.
func (k *Keyed) State(key string) (remaining int, reset time.Duration, ok bool) {
	e, err := k.get(key)
	if err != nil {
		return 0, 0, false
	}
	defer k.put(e)
	if s, ok := e.lim.(stater); ok {
		remaining, reset = s.State()
		return remaining, reset, true
	}
	return 0, 0, false
}

// Len reports how many keys have an entry, idle ones not yet swept
// included.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.entries)
}

// get returns key's entry, creating it if needed, and marks it in use.
func (k *Keyed) get(key string) (*keyedEntry, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.entries[key]
	if e == nil {
		lim, err := k.newLimiter(key)
		if err == nil && lim == nil {
			err = invalidf(fmt.Sprintf("Keyed(key=%q)", key), "newLimiter returned a nil Limiter")
		}
		if err != nil {
			return nil, fmt.Errorf("ratelimit: Keyed(key=%q): %w", key, err)
		}
		e = &keyedEntry{lim: lim}
		k.entries[key] = e
	}
	e.refs++
	return e, nil
}

// put marks e no longer in use by one call, and sweeps the table once
// there have been as many calls as the last sweep left entries. Counting
// against what the last sweep left, not against the entries now, keeps
// the sweeps coming when every call names a new key: the table then grows
// by one entry a call, and would always stay ahead of the calls.
func (k *Keyed) put(e *keyedEntry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e.refs--
	if k.calls++; k.calls >= k.kept {
		k.calls = 0
		k.sweep(k.clock.Now())
		k.kept = len(k.entries)
	}
}

// sweep drops the entries that no call uses and whose limiter is idle at
// now. Called with mu held.
func (k *Keyed) sweep(now time.Time) {
	for key, e := range k.entries {
		if e.refs > 0 {
			continue
		}
		if id, ok := e.lim.(idler); ok && id.IdleAt(now) {
			delete(k.entries, key)
		}
	}
}
