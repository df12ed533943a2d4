package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-throttle/throttle/ratelimit"
)

// plainLimiter is a custom Limiter with no Reserve of its own, which
// dereferences ctx as many do: the package's entry points must not hand it
// a nil one.
type plainLimiter struct{}

func (plainLimiter) Acquire(ctx context.Context, n int) error { return ctx.Err() }

// TestNilContext: every entry point that takes a context returns an error
// wrapping ErrNilContext (and ErrInvalid) for a nil one, as net/http does,
// never a panic (issue 7, item 9).
func TestNilContext(t *testing.T) {
	var nilCtx context.Context
	newWindow := func(t *testing.T) *ratelimit.Window {
		w, err := ratelimit.NewWindow(10, time.Second, ratelimit.WithClock(newFake()))
		noErr(t, err)
		return w
	}
	newBucket := func(t *testing.T) *ratelimit.Bucket {
		b, err := ratelimit.NewBucket(10, time.Second, ratelimit.WithClock(newFake()))
		noErr(t, err)
		return b
	}
	newKeyed := func(t *testing.T) *ratelimit.Keyed {
		clk := newFake()
		k, err := ratelimit.NewKeyed(func(string) (ratelimit.Limiter, error) {
			return ratelimit.NewWindow(10, time.Second, ratelimit.WithClock(clk))
		}, ratelimit.WithClock(clk))
		noErr(t, err)
		return k
	}
	cases := []struct {
		name string
		call func(t *testing.T) error
	}{
		{"Window.Acquire", func(t *testing.T) error { return newWindow(t).Acquire(nilCtx, 1) }},
		{"Window.Reserve", func(t *testing.T) error { _, err := newWindow(t).Reserve(nilCtx, 1); return err }},
		{"Bucket.Acquire", func(t *testing.T) error { return newBucket(t).Acquire(nilCtx, 1) }},
		{"Bucket.Reserve", func(t *testing.T) error { _, err := newBucket(t).Reserve(nilCtx, 1); return err }},
		{"Keyed.Acquire", func(t *testing.T) error { return newKeyed(t).Acquire(nilCtx, "k", 1) }},
		{"Keyed.Reserve", func(t *testing.T) error { _, err := newKeyed(t).Reserve(nilCtx, "k", 1); return err }},
		{"Reserve/Window", func(t *testing.T) error { _, err := ratelimit.Reserve(nilCtx, newWindow(t), 1); return err }},
		{"Reserve/custom", func(t *testing.T) error { _, err := ratelimit.Reserve(nilCtx, plainLimiter{}, 1); return err }},
		{"Reader.Read", func(t *testing.T) error {
			_, err := ratelimit.NewReader(nilCtx, strings.NewReader("abc"), newBucket(t)).Read(make([]byte, 8))
			return err
		}},
		{"Reader.Read/no limiters", func(t *testing.T) error {
			_, err := ratelimit.NewReader(nilCtx, strings.NewReader("abc")).Read(make([]byte, 8))
			return err
		}},
		{"Writer.Write", func(t *testing.T) error {
			_, err := ratelimit.NewWriter(nilCtx, new(bytes.Buffer), plainLimiter{}).Write([]byte("abc"))
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := callNoPanic(t, tc.call)
			if !errors.Is(err, ratelimit.ErrNilContext) || !errors.Is(err, ratelimit.ErrInvalid) {
				t.Fatalf("err = %v, want one wrapping ErrNilContext and ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), "nil Context") {
				t.Errorf("err = %q, want it to say nil Context", err)
			}
		})
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// callNoPanic runs f, turning a panic into an error so that one case's
// panic fails that case instead of the whole test binary.
func callNoPanic(t *testing.T, f func(t *testing.T) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f(t)
}
