package throttle

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// bulkRun is one iteration of Map or Stream: a feeder goroutine reads the
// input into the scheduler, workers send what it hands them, and the
// iterating goroutine yields what comes out. All of them end before the
// iteration returns.
type bulkRun[T any] struct {
	parent context.Context
	ctx    context.Context // parent, and ended by stop
	cancel context.CancelFunc
	s      *Session
	handle func(*http.Response) (T, error)
	cfg    *bulkConfig

	q        *bulkSched
	out      chan Result[T]
	stopped  chan struct{} // closed when the consumer is gone
	stopOnce sync.Once
	wg       sync.WaitGroup // the feeder and the workers
	unhook   func() bool
	prog     *bulkProgress
}

func newBulkRun[T any](ctx context.Context, s *Session, c *bulkConfig, total int64, handle func(*http.Response) (T, error)) *bulkRun[T] {
	r := &bulkRun[T]{parent: ctx, s: s, handle: handle, cfg: c}
	r.ctx, r.cancel = context.WithCancel(ctx)
	r.q = newBulkSched(max(8*c.workers, 1024), c.workers)
	r.out = make(chan Result[T], c.workers)
	r.stopped = make(chan struct{})
	r.prog = newBulkProgress(total, c.progress)
	// Once the context ends, whatever is queued comes out at once as
	// not sent, in any order.
	r.unhook = context.AfterFunc(r.ctx, r.q.cancel)
	return r
}

func (r *bulkRun[T]) start(reqs iter.Seq[*http.Request]) {
	r.wg.Add(1 + r.cfg.workers)
	go r.feed(reqs)
	for range r.cfg.workers {
		go r.work()
	}
	go func() {
		r.wg.Wait()
		close(r.out)
	}()
	r.prog.start()
}

// stop ends the run early: nothing more is read, handed out or sent, and
// the requests in flight are cancelled.
func (r *bulkRun[T]) stop() {
	r.stopOnce.Do(func() {
		close(r.stopped)
		r.q.stop()
		r.cancel()
	})
}

// finish waits for the feeder and the workers, then makes the last
// progress call.
func (r *bulkRun[T]) finish() {
	for range r.out {
		// Only after stop: results nobody will see.
	}
	r.unhook()
	r.cancel()
	r.prog.finish()
}

// feed reads the input into the scheduler. A nil request, and every
// request read once the context has ended, gets its Result here.
func (r *bulkRun[T]) feed(reqs iter.Seq[*http.Request]) {
	defer r.wg.Done()
	defer r.q.end()
	i := 0
	for req := range reqs {
		if r.isStopped() {
			return
		}
		it := bulkItem{index: i, req: req}
		i++
		switch {
		case req == nil:
			if !r.emit(Result[T]{Index: it.index, Err: fmt.Errorf("throttle: bulk request %d: %w", it.index, ErrNilRequest)}) {
				return
			}
		case r.ctx.Err() != nil:
			if !r.emit(r.notSent(it)) {
				return
			}
		default:
			if !r.q.put(it, bulkHostKey(req)) {
				return
			}
		}
	}
}

func (r *bulkRun[T]) isStopped() bool {
	select {
	case <-r.stopped:
		return true
	default:
		return false
	}
}

// bulkHostKey is the scheduler's key for req: the session's host key.
func bulkHostKey(req *http.Request) string {
	if req.URL == nil {
		return "" // Do reports it
	}
	return hostKey(req.URL)
}

func (r *bulkRun[T]) work() {
	defer r.wg.Done()
	w := &bulkWorker{q: r.q}
	w.trace.GetConn = func(string) { w.pass() }
	// A context of the worker's own, with its trace, for the requests
	// made with http.NewRequest (context.Background): the contexts
	// net/http derives from it register with this worker's, not with
	// one that every worker shares.
	base, cancel := context.WithCancel(r.ctx)
	defer cancel()
	w.plain = httptrace.WithClientTrace(base, &w.trace)
	for {
		it, ok := r.q.take()
		if !ok {
			return
		}
		if !r.emit(r.do(w, it)) {
			return
		}
	}
}

// bulkWorker is what a worker keeps across its requests: the trace that
// tells the scheduler its current request is past the session's limits.
type bulkWorker struct {
	q     *bulkSched
	plain context.Context // the run's, with trace: for requests whose own is context.Background
	trace httptrace.ClientTrace
	host  atomic.Pointer[bulkHost] // the current request's, until it passes
}

// pass reports the current request past the limits, once.
func (w *bulkWorker) pass() {
	if h := w.host.Swap(nil); h != nil {
		w.q.sent(h)
	}
}

// do sends one request and handles its response. Its host is told the
// request is past the session's limits as soon as net/http asks for a
// connection (every limit has been taken by then), or when Do returns.
func (r *bulkRun[T]) do(w *bulkWorker, it bulkItem) Result[T] {
	r.prog.inFlight.Add(1)
	defer r.prog.inFlight.Add(-1)
	w.host.Store(it.host)
	defer w.pass()
	if r.ctx.Err() != nil {
		return r.notSent(it)
	}
	ctx := w.plain
	if own := it.req.Context(); own != context.Background() {
		var cancel context.CancelFunc
		ctx, cancel = r.requestContext(own)
		defer cancel()
		ctx = r.withTrace(w, ctx)
	}
	resp, err := r.s.Do(it.req.WithContext(ctx))
	w.pass()
	if err != nil {
		return Result[T]{Index: it.index, Err: err}
	}
	v, err := callHandle(it.index, resp, r.handle)
	return Result[T]{Index: it.index, Value: v, Err: err}
}

// withTrace adds the worker's trace to ctx. The worker sends one request
// at a time, so its trace is reused; httptrace composes a new trace with
// one already in ctx by changing the new one, so then a copy is added.
func (r *bulkRun[T]) withTrace(w *bulkWorker, ctx context.Context) context.Context {
	if httptrace.ContextClientTrace(ctx) == nil {
		return httptrace.WithClientTrace(ctx, &w.trace)
	}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GetConn: w.trace.GetConn})
}

// requestContext is the request's own context (its values: consumer,
// priority, trace...) ended also by the run's.
func (r *bulkRun[T]) requestContext(own context.Context) (context.Context, context.CancelFunc) {
	if own.Done() == nil {
		return runContext{own, r.ctx}, func() {}
	}
	ctx, cancel := context.WithCancelCause(own)
	unhook := context.AfterFunc(r.ctx, func() { cancel(context.Cause(r.ctx)) })
	return ctx, func() {
		unhook()
		cancel(nil)
	}
}

// runContext has the values of a request's context that is never done,
// and the run's deadline and cancellation: one allocation, where
// WithCancel and AfterFunc would make several. Its AfterFunc method lets
// the context package propagate cancellation to children without a
// goroutine.
type runContext struct {
	context.Context                 // the request's own: its values
	run             context.Context // the run's: when it ends
}

func (c runContext) Deadline() (time.Time, bool)    { return c.run.Deadline() }
func (c runContext) Done() <-chan struct{}          { return c.run.Done() }
func (c runContext) Err() error                     { return c.run.Err() }
func (c runContext) AfterFunc(f func()) func() bool { return context.AfterFunc(c.run, f) }

// notSent is the Result of a request the run's context ended before it
// was sent.
func (r *bulkRun[T]) notSent(it bulkItem) Result[T] {
	return Result[T]{Index: it.index, Err: fmt.Errorf("throttle: bulk request %d not sent: %w", it.index, context.Cause(r.ctx))}
}

// emit hands res to the consumer, reporting false if it is gone.
func (r *bulkRun[T]) emit(res Result[T]) bool {
	select {
	case r.out <- res:
		r.prog.delivered(res.Err != nil)
		return true
	case <-r.stopped:
		return false
	}
}
