package semaphore

import (
	"context"
	"sync"
)

// Keyed holds one Throttler per key, such as one per host. The Throttler of
// a key is created on first use, with capacity capacityFor(key) and the
// options given to NewKeyed, and is dropped as soon as no permit of it is
// held and nobody waits on it: each entry counts its users (holders and
// waiters) under the map's lock. So memory is bounded by the keys in use,
// and a key that comes back later starts afresh.
//
// Keys are independent: waiting on one never holds up another. A Keyed is
// safe for concurrent use. The zero value is not usable (it has no
// capacityFor and no table); create one with NewKeyed.
type Keyed struct {
	capacityFor func(key string) int64
	cfg         config

	mu      sync.Mutex
	entries map[string]*keyedEntry
}

// keyedEntry is the Throttler of one key and the number of its users.
type keyedEntry struct {
	t    *Throttler
	refs int // permits held plus callers in Acquire or TryAcquire
}

// NewKeyed returns a Keyed whose key k gets capacity capacityFor(k).
// capacityFor is the per-key override hook: it is called when an entry is
// created, under Keyed's lock, so it must be quick and must not call back
// into the Keyed. A bad option, or a nil capacityFor, gives an error
// wrapping ErrInvalid.
func NewKeyed(capacityFor func(key string) int64, opts ...Option) (*Keyed, error) {
	if capacityFor == nil {
		return nil, invalidf("NewKeyed(capacityFor=nil): capacityFor must not be nil")
	}
	cfg, err := buildConfig(opts, true)
	if err != nil {
		return nil, err
	}
	return &Keyed{capacityFor: capacityFor, cfg: cfg, entries: make(map[string]*keyedEntry)}, nil
}

// Acquire is Throttler.Acquire on the Throttler of key. A negative
// capacityFor(key) gives an error wrapping ErrInvalid.
func (k *Keyed) Acquire(ctx context.Context, key string, n int64) (KeyedPermit, error) {
	if ctx == nil { // before the entry is made
		return KeyedPermit{}, nilCtxErr("Keyed.Acquire", n)
	}
	e, err := k.ref(key)
	if err != nil {
		return KeyedPermit{}, err
	}
	p, err := e.t.Acquire(ctx, n)
	if err != nil {
		k.unref(key, e)
		return KeyedPermit{}, err
	}
	return KeyedPermit{Permit: p, k: k, key: key, e: e}, nil
}

// TryAcquire is Throttler.TryAcquire on the Throttler of key. A failed
// try leaves no entry behind.
func (k *Keyed) TryAcquire(ctx context.Context, key string, n int64) (KeyedPermit, bool) {
	if ctx == nil { // before the entry is made
		return KeyedPermit{}, false
	}
	e, err := k.ref(key)
	if err != nil {
		return KeyedPermit{}, false
	}
	p, ok := e.t.TryAcquire(ctx, n)
	if !ok {
		k.unref(key, e)
		return KeyedPermit{}, false
	}
	return KeyedPermit{Permit: p, k: k, key: key, e: e}, true
}

// Len returns the number of keys in use: with a permit held or a caller
// waiting.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.entries)
}

// Waiting returns the number of callers waiting, over all keys.
func (k *Keyed) Waiting() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	total := 0
	for _, e := range k.entries {
		total += e.t.Waiting()
	}
	return total
}

// ref returns the entry of key, creating it, and counts one more user.
func (k *Keyed) ref(key string) (*keyedEntry, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.entries[key]
	if e == nil {
		c := k.capacityFor(key)
		if c < 0 {
			return nil, invalidf("Keyed capacityFor(%q)=%d: capacity must not be negative", key, c)
		}
		e = &keyedEntry{t: newThrottler(c, k.cfg)}
		k.entries[key] = e
	}
	e.refs++
	return e, nil
}

// unref counts one user of e fewer and drops e once it has none. e is
// compared too, so that a stray second release cannot drop a newer entry
// of the same key.
func (k *Keyed) unref(key string, e *keyedEntry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e.refs > 0 {
		e.refs--
	}
	if e.refs == 0 && k.entries[key] == e {
		delete(k.entries, key)
	}
}

// KeyedPermit is the units a Keyed granted: a Permit plus the entry it
// keeps alive. The zero KeyedPermit holds nothing and its Release does
// nothing.
type KeyedPermit struct {
	Permit
	k   *Keyed
	key string
	e   *keyedEntry
}

// Release gives back the units and, if nobody else uses the key, drops its
// entry. Call it exactly once, as Permit.Release.
func (p KeyedPermit) Release() {
	if p.k == nil {
		return
	}
	p.Permit.Release()
	p.k.unref(p.key, p.e)
}

// Key returns the key the permit was taken for.
func (p KeyedPermit) Key() string { return p.key }
