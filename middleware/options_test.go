package middleware_test

import (
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-throttle/throttle/middleware"
	"github.com/go-throttle/throttle/semaphore"
)

// Every bad option gives an error wrapping ErrInvalidOption that names the
// option and its value; several are reported at once.
func TestNewInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []middleware.Option
		want []string // substrings of the message
	}{
		{"capacity zero", []middleware.Option{middleware.WithCapacity(0)}, []string{"WithCapacity(n=0)"}},
		{"capacity negative", []middleware.Option{middleware.WithCapacity(-3)}, []string{"WithCapacity(n=-3)"}},
		{"queue negative", []middleware.Option{middleware.WithCapacity(1), middleware.WithQueueLimit(-1)}, []string{"WithQueueLimit(n=-1)"}},
		{"queue without capacity", []middleware.Option{middleware.WithQueueLimit(4)}, []string{"WithQueueLimit(n=4): needs WithCapacity"}},
		{"rate n zero", []middleware.Option{middleware.WithRateLimit(0, time.Second)}, []string{"WithRateLimit(n=0, per=1s)"}},
		{"rate per zero", []middleware.Option{middleware.WithRateLimit(5, 0)}, []string{"WithRateLimit(n=5, per=0s)"}},
		{"consumer share zero", []middleware.Option{middleware.WithCapacity(1), middleware.WithConsumerShare(0)}, []string{"WithConsumerShare(f=0)"}},
		{"consumer share above 1", []middleware.Option{middleware.WithCapacity(1), middleware.WithConsumerShare(1.5)}, []string{"WithConsumerShare(f=1.5)"}},
		{"consumer share NaN", []middleware.Option{middleware.WithCapacity(1), middleware.WithConsumerShare(math.NaN())}, []string{"WithConsumerShare(f=NaN)"}},
		{"consumer share without capacity", []middleware.Option{middleware.WithConsumerShare(0.5)}, []string{"WithConsumerShare(f=0.5): needs WithCapacity"}},
		{"priority share", []middleware.Option{middleware.WithCapacity(1), middleware.WithPriorityShare(semaphore.PriorityLow, -1)}, []string{"WithPriorityShare(p=low, f=-1)"}},
		{"priority share without capacity", []middleware.Option{middleware.WithPriorityShare(semaphore.PriorityLow, 0.5)}, []string{"WithPriorityShare(p=low, f=0.5): needs WithCapacity"}},
		{"nil consumer func", []middleware.Option{middleware.WithConsumerFunc(nil)}, []string{"WithConsumerFunc(nil)"}},
		{"nil priority func", []middleware.Option{middleware.WithPriorityFunc(nil)}, []string{"WithPriorityFunc(nil)"}},
		{"relative exempt path", []middleware.Option{middleware.WithExempt("/ok", "healthz")}, []string{`WithExempt("healthz")`}},
		{"nil clock", []middleware.Option{middleware.WithClock(nil)}, []string{"WithClock(nil)"}},
		{"nil option", []middleware.Option{nil}, []string{"Option(nil)"}},
		{"all at once", []middleware.Option{middleware.WithCapacity(0), middleware.WithRateLimit(-1, time.Second), middleware.WithExempt("x")},
			[]string{"WithCapacity(n=0)", "WithRateLimit(n=-1, per=1s)", `WithExempt("x")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th, err := middleware.New(tt.opts...)
			if th != nil || !errors.Is(err, middleware.ErrInvalidOption) {
				t.Fatalf("New = %v, %v; want nil and an error wrapping ErrInvalidOption", th, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "middleware: ") {
				t.Errorf("error %q does not start with the package name", err)
			}
		})
	}
}

// Good options give a Throttler; with none it admits everything.
func TestNewValidOptions(t *testing.T) {
	th, err := middleware.New(
		middleware.WithCapacity(10), middleware.WithQueueLimit(0), middleware.WithRateLimit(1, time.Hour),
		middleware.WithConsumerShare(1), middleware.WithPriorityShare(semaphore.PriorityNormal, 0.1),
		middleware.WithConsumerFunc(func(*http.Request) string { return "" }),
		middleware.WithPriorityFunc(func(*http.Request) semaphore.Priority { return semaphore.PriorityHigh }),
		middleware.WithExempt(), middleware.WithExempt("/", "/x"),
	)
	if err != nil || th == nil {
		t.Fatalf("New = %v, %v", th, err)
	}
	_, srv := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 3 {
		if got := get(t, srv, "/").status; got != http.StatusOK {
			t.Errorf("status %d, want 200", got)
		}
	}
}
