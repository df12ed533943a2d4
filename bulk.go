package throttle

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"time"
)

// ErrHandlerPanic is wrapped by the error of a bulk Result whose handle
// function panicked; the error names the request's index and the panic's
// value.
var ErrHandlerPanic = errors.New("throttle: bulk handle panicked")

// ErrNilRequest is wrapped by the error of a bulk Result whose request
// was nil.
var ErrNilRequest = errors.New("throttle: nil request")

// Result is the outcome of one request of a bulk run (Map or Stream).
type Result[T any] struct {
	Index int   // position of the request in the input
	Value T     // what handle returned; the zero value when Err comes from the request
	Err   error // the request's error, or handle's
}

// Progress is a snapshot of a bulk run, passed to WithProgress's function.
type Progress struct {
	Total    int64         // requests in the input; -1 when unknown (Stream)
	Done     int64         // results delivered, failures included
	Failed   int64         // results with a non-nil Err
	InFlight int64         // requests handed to a worker and not yet done: sending or waiting for the session's limits
	Rate     float64       // results per second over the last few seconds
	Elapsed  time.Duration // since the run started
}

// BulkOption configures a bulk run (Map or Stream). A bad value is not a
// panic: every Result of the run then carries an error wrapping
// ErrInvalidOption that names the option and the value.
type BulkOption interface {
	applyBulk(c *bulkConfig) error
}

type bulkConfig struct {
	workers  int // 0: follow the session's limits
	progress func(Progress)
}

type bulkOptionFunc func(c *bulkConfig) error

func (f bulkOptionFunc) applyBulk(c *bulkConfig) error { return f(c) }

// maxBulkWorkers bounds WithWorkers: each worker is a goroutine, and a
// look-ahead of 8 requests per worker is read ahead of them.
const maxBulkWorkers = 1 << 16

// WithWorkers sets how many requests a bulk run has in flight or waiting
// for the session's limits at most: n must be between 1 and 65,536. The default
// follows the session: its WithMaxConcurrency if set (more workers would
// only wait for its slots, fewer would leave some unused), else 128.
func WithWorkers(n int) BulkOption {
	return bulkOptionFunc(func(c *bulkConfig) error {
		if n <= 0 || n > maxBulkWorkers {
			return invalidOption("WithWorkers", n, fmt.Sprintf("must be between 1 and %d", maxBulkWorkers))
		}
		c.workers = n
		return nil
	})
}

// WithProgress calls f with the run's progress at most every 100 ms while
// it runs, and once at the end with the final figures. Calls never
// overlap, and the last one happens before Map returns or Stream's
// iteration ends. f must not block for long: it delays the next call, not
// the run. A nil f is an error.
func WithProgress(f func(Progress)) BulkOption {
	return bulkOptionFunc(func(c *bulkConfig) error {
		if f == nil {
			return invalidOption("WithProgress", "nil", "f must not be nil")
		}
		c.progress = f
		return nil
	})
}

// Map sends every request through s, calls handle with each response (the
// runner reads what is left of the body, up to 4 KiB, and closes it after
// handle returns) and returns one Result per request, in input order.
//
// Map is Stream over a slice, with the results put back in order; see
// Stream for how requests are scheduled, what each Result holds when ctx
// is cancelled or handle panics, and the options.
func Map[T any](ctx context.Context, s *Session, reqs []*http.Request, handle func(*http.Response) (T, error), opts ...BulkOption) []Result[T] {
	out := make([]Result[T], len(reqs))
	for r := range stream(ctx, s, slices.Values(reqs), int64(len(reqs)), handle, opts) {
		out[r.Index] = r
	}
	return out
}

// Stream does what Map does for inputs too large to hold: it reads reqs
// as it goes and yields each Result as it completes, not in input order.
// Memory is bounded by the workers (WithWorkers), not by the input: the
// run holds the requests its workers are sending plus a look-ahead of at
// most max(8×workers, 1024) requests read from reqs and not yet sent.
//
// Every request gets exactly one Result:
//   - a nil request, or one Do fails, gets its error;
//   - once ctx is cancelled, nothing more is sent: requests waiting for a
//     limit return at once, and every request not yet sent, including
//     the rest of reqs, which Stream goes on reading, gets an error
//     wrapping ctx's error;
//   - if handle panics, the panic becomes that Result's error, wrapping
//     ErrHandlerPanic and naming the index.
//
// Each request is sent with a context that ends when ctx or the
// request's own context ends. Per-host limits apply to whatever hosts the
// input names, keyed lazily by the session. The runner keeps one queue
// per host and hands a worker the next request of a host that has none
// waiting for the session's limits, so a saturated host never ties up
// the workers while the requests of other hosts in the look-ahead could
// go; requests of a saturated host are sent in input order as it frees
// up. Only when every request in the look-ahead belongs to a host that
// already has one waiting does a worker take one anyway.
//
// Stopping the iteration early (break) cancels the requests in flight,
// and the iteration returns once its workers are done, which is promptly;
// reqs is not read further. Stream's goroutines never outlive the
// iteration, but a reqs that blocks keeps it waiting until it yields.
func Stream[T any](ctx context.Context, s *Session, reqs iter.Seq[*http.Request], handle func(*http.Response) (T, error), opts ...BulkOption) iter.Seq[Result[T]] {
	return stream(ctx, s, reqs, -1, handle, opts)
}

func stream[T any](ctx context.Context, s *Session, reqs iter.Seq[*http.Request], total int64, handle func(*http.Response) (T, error), opts []BulkOption) iter.Seq[Result[T]] {
	return func(yield func(Result[T]) bool) {
		c, err := newBulkConfig(s, reqs, handle, opts)
		if err != nil {
			failAll(reqs, err, yield)
			return
		}
		if c.workers == 0 {
			c.workers = s.bulkWorkers()
		}
		r := newBulkRun(ctx, s, c, total, handle)
		r.start(reqs)
		ended := false
		defer func() {
			if !ended { // the consumer stopped, or its loop panicked
				r.stop()
			}
			r.finish()
		}()
		for res := range r.out {
			if !yield(res) {
				return
			}
		}
		ended = true
	}
}

func newBulkConfig[T any](s *Session, reqs iter.Seq[*http.Request], handle func(*http.Response) (T, error), opts []BulkOption) (*bulkConfig, error) {
	c := &bulkConfig{}
	var errs []error
	if s == nil {
		errs = append(errs, invalidOption("bulk run", "nil Session", "a Session is required"))
	}
	if reqs == nil {
		errs = append(errs, invalidOption("bulk run", "nil input", "an input is required"))
	}
	if handle == nil {
		errs = append(errs, invalidOption("bulk run", "nil handle", "a handle function is required"))
	}
	for _, o := range opts {
		if o == nil {
			errs = append(errs, invalidOption("BulkOption", "nil", "must not be nil"))
			continue
		}
		if err := o.applyBulk(c); err != nil {
			errs = append(errs, err)
		}
	}
	return c, errors.Join(errs...)
}

// failAll gives every request of a run that cannot start the error that
// stops it: one Result per input, as always.
func failAll[T any](reqs iter.Seq[*http.Request], err error, yield func(Result[T]) bool) {
	if reqs == nil {
		return
	}
	i := 0
	for range reqs {
		if !yield(Result[T]{Index: i, Err: err}) {
			return
		}
		i++
	}
}

// callHandle runs handle on resp, turning a panic into the Result's
// error, and then drains and closes the body.
func callHandle[T any](index int, resp *http.Response, handle func(*http.Response) (T, error)) (v T, err error) {
	defer drainAndClose(resp.Body)
	defer func() {
		if p := recover(); p != nil {
			var zero T
			v, err = zero, fmt.Errorf("%w: request %d: %v", ErrHandlerPanic, index, p)
		}
	}()
	return handle(resp)
}
