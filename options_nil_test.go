package throttle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/go-throttle/throttle/internal/clock"
	"github.com/go-throttle/throttle/ratelimit"
)

// rtFunc is a RoundTripper made of a function; its nil value is a typed
// nil that is not a pointer.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTypedNilOptions: an interface argument holding a nil pointer, func
// or map is refused at construction with an error wrapping
// ErrInvalidOption that names the option and the type, never a panic at
// the first request or at Close (issue 7, item 8).
func TestTypedNilOptions(t *testing.T) {
	cases := []struct {
		name string
		make func() (interface{ Close() error }, error)
		want string // in the error text
	}{
		{"WithTransport(*http.Transport)", session(WithTransport((*http.Transport)(nil))), "WithTransport((*http.Transport)(nil))"},
		{"WithTransport(func)", session(WithTransport(rtFunc(nil))), "WithTransport((throttle.rtFunc)(nil))"},
		{"WithLimiter(*Window)", session(WithLimiter((*ratelimit.Window)(nil))), "WithLimiter((*ratelimit.Window)(nil))"},
		{"WithLimiter(*Bucket)", session(WithLimiter((*ratelimit.Bucket)(nil))), "WithLimiter((*ratelimit.Bucket)(nil))"},
		{"WithClock(*clock.Fake)", session(WithClock((*clock.Fake)(nil)), WithRateLimit(1, 1)), "WithClock((*clock.Fake)(nil))"},
		{"NewTransport(base)", transport((*http.Transport)(nil)), "NewTransport(base=(*http.Transport)(nil))"},
		{"NewTransport(WithLimiter)", transport(nil, WithLimiter((*ratelimit.Window)(nil))), "WithLimiter((*ratelimit.Window)(nil))"},
		{"NewTransport(WithClock)", transport(nil, WithClock((*clock.Fake)(nil))), "WithClock((*clock.Fake)(nil))"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panic: %v", r)
					}
				}()
				c, err := tc.make()
				if err != nil {
					return err
				}
				// Accepted: show what the first request and Close do.
				defer c.Close()
				req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://127.0.0.1:1/", nil)
				switch c := c.(type) {
				case *Session:
					if resp, err := c.Do(req); err == nil {
						resp.Body.Close()
					}
				case *transportCloser:
					if resp, err := c.RoundTrip(req); err == nil {
						resp.Body.Close()
					}
				}
				return errors.New("accepted")
			}()
			if !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("err = %v, want one wrapping ErrInvalidOption", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to name %s", err, tc.want)
			}
		})
	}
}

// transportCloser gives a Transport the Close the table expects.
type transportCloser struct{ *Transport }

func (transportCloser) Close() error { return nil }

func session(opts ...Option) func() (interface{ Close() error }, error) {
	return func() (interface{ Close() error }, error) {
		s, err := NewSession(opts...)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

func transport(base http.RoundTripper, opts ...Option) func() (interface{ Close() error }, error) {
	return func() (interface{ Close() error }, error) {
		t, err := NewTransport(base, opts...)
		if err != nil {
			return nil, err
		}
		return &transportCloser{t}, nil
	}
}
