package semaphore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-throttle/throttle/semaphore"
)

// TestNilContext: every call that takes a context returns an error
// wrapping ErrNilContext (and ErrInvalid) for a nil one, as net/http does,
// never a panic, and takes nothing (issue 7, item 9).
func TestNilContext(t *testing.T) {
	var nilCtx context.Context
	cases := []struct {
		name string
		call func(t *testing.T) (held func() int64, err error)
	}{
		{"Weighted.Acquire", func(t *testing.T) (func() int64, error) {
			s := newWeighted(t, 2)
			return s.Held, s.Acquire(nilCtx, 1)
		}},
		{"Throttler.Acquire", func(t *testing.T) (func() int64, error) {
			s := newThrottler(t, 2)
			_, err := s.Acquire(nilCtx, 1)
			return s.Held, err
		}},
		{"Keyed.Acquire", func(t *testing.T) (func() int64, error) {
			k := newKeyed(t, func(string) int64 { return 2 })
			_, err := k.Acquire(nilCtx, "k", 1)
			return keyedLen(k), err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var held func() int64
			err := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panic: %v", r)
					}
				}()
				held, err = tc.call(t)
				return err
			}()
			if !errors.Is(err, semaphore.ErrNilContext) || !errors.Is(err, semaphore.ErrInvalid) {
				t.Fatalf("err = %v, want one wrapping ErrNilContext and ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), "nil Context") {
				t.Errorf("err = %q, want it to say nil Context", err)
			}
			if h := held(); h != 0 {
				t.Errorf("after the failed call, %d held (or keys kept), want 0", h)
			}
		})
	}
}

// TestNilContextTry: a try with a nil context fails, never panics, and
// takes nothing (it has no error to return since TryAcquireErr went).
func TestNilContextTry(t *testing.T) {
	var nilCtx context.Context
	th := newThrottler(t, 2)
	_, ok := th.TryAcquire(nilCtx, 1)
	isTrue(t, !ok, "Throttler.TryAcquire(nil ctx) succeeded")
	equal(t, int64(0), th.Held())
	k := newKeyed(t, func(string) int64 { return 2 })
	_, ok = k.TryAcquire(nilCtx, "k", 1)
	isTrue(t, !ok, "Keyed.TryAcquire(nil ctx) succeeded")
	equal(t, 0, k.Len())
}

// TestNilContextFrom: the accessors read a nil context as one that
// carries nothing.
func TestNilContextFrom(t *testing.T) {
	var nilCtx context.Context
	equal(t, semaphore.PriorityNormal, semaphore.PriorityFrom(nilCtx))
	equal(t, "", semaphore.ConsumerFrom(nilCtx))
}

func keyedLen(k *semaphore.Keyed) func() int64 {
	return func() int64 { return int64(k.Len()) }
}
