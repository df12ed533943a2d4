package ratelimit

import (
	"context"
	"errors"
	"io"
)

// defaultChunk is the chunk size charged to a limiter that does not report
// MaxAcquire.
const defaultChunk = 32 << 10

// maxAcquirer is implemented by limiters that know their largest grant.
type maxAcquirer interface {
	MaxAcquire() int
}

// chunkSize returns the largest chunk every limiter can grant at once: the
// smallest MaxAcquire, counting defaultChunk for limiters without one. With
// no limiters there is no limit (0).
func chunkSize(limiters []Limiter) int {
	size := 0
	for _, l := range limiters {
		m := defaultChunk
		if ma, ok := l.(maxAcquirer); ok {
			m = ma.MaxAcquire()
		}
		if size == 0 || m < size {
			size = m
		}
	}
	return size
}

// pay acquires n units from each limiter in order.
func pay(ctx context.Context, limiters []Limiter, n int) error {
	for _, l := range limiters {
		if err := l.Acquire(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// A Reader limits the rate at which bytes are read from an io.Reader: each
// byte read is charged as one unit to every limiter, in order, before Read
// returns it. Read reads at most one chunk at a time, the smallest
// MaxAcquire of the limiters (32 KiB for a limiter without MaxAcquire), so
// a chunk is never larger than a limiter can grant.
//
// Bytes are charged after they are read, so a short read is charged for
// what it returned, never for the buffer's size: the rate is exact. If an
// Acquire fails (ctx ended, or its deadline cannot be met) once bytes were
// read, Read returns those bytes together with the error: they were taken
// from the source and would otherwise be lost, so the caller gets them,
// unpaid, and should stop reading. Once ctx is done, Read returns an error
// wrapping ctx.Err() without reading. Units already acquired from earlier
// limiters when a later one fails are spent.
//
// A Reader is not safe for concurrent use, as most io.Readers are not. The
// zero Reader has no context: every Read fails, reading nothing, with an
// error wrapping ErrNilContext. Create one with NewReader.
type Reader struct {
	ctx      context.Context
	r        io.Reader
	limiters []Limiter
	chunk    int
}

// NewReader returns a Reader reading from r, charging every limiter, and
// waiting under ctx. With no limiters it only adds the ctx check. If ctx
// is nil, every Read fails, reading nothing, with an error wrapping
// ErrNilContext.
func NewReader(ctx context.Context, r io.Reader, limiters ...Limiter) *Reader {
	return &Reader{ctx: ctx, r: r, limiters: limiters, chunk: chunkSize(limiters)}
}

// Read reads up to one chunk into p, then waits until every limiter grants
// the bytes read. See Reader for what it returns on failure.
func (r *Reader) Read(p []byte) (int, error) {
	if r.ctx == nil {
		return 0, nilCtxError("Reader.Read")
	}
	if err := r.ctx.Err(); err != nil {
		return 0, &opError{op: "Reader.Read", detail: err.Error(), err: err}
	}
	if r.chunk > 0 && len(p) > r.chunk {
		p = p[:r.chunk]
	}
	n, err := r.r.Read(p)
	if n > 0 {
		if perr := pay(r.ctx, r.limiters, n); perr != nil {
			if err != nil {
				perr = errors.Join(perr, err)
			}
			return n, perr
		}
	}
	return n, err
}

// A Writer limits the rate at which bytes are written to an io.Writer: it
// splits each Write into chunks no larger than the smallest MaxAcquire of
// the limiters (32 KiB for a limiter without MaxAcquire) and, before
// writing a chunk, acquires its length from every limiter in order. So
// nothing is written that has not been paid for. If an Acquire fails, Write
// returns the bytes written so far and an error wrapping ctx.Err() (or the
// deadline error); units already acquired from earlier limiters for the
// unwritten chunk are spent.
//
// A Writer is not safe for concurrent use, as most io.Writers are not. The
// zero Writer has no context: every Write fails, writing nothing, with an
// error wrapping ErrNilContext. Create one with NewWriter.
type Writer struct {
	ctx      context.Context
	w        io.Writer
	limiters []Limiter
	chunk    int
}

// NewWriter returns a Writer writing to w, charging every limiter, and
// waiting under ctx. With no limiters it writes p whole. If ctx is nil,
// every Write fails, writing nothing, with an error wrapping
// ErrNilContext.
func NewWriter(ctx context.Context, w io.Writer, limiters ...Limiter) *Writer {
	return &Writer{ctx: ctx, w: w, limiters: limiters, chunk: chunkSize(limiters)}
}

// Write writes p chunk by chunk, paying for each chunk before writing it.
// It returns the number of bytes written and the first error; n < len(p)
// only with an error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.ctx == nil {
		return 0, nilCtxError("Writer.Write")
	}
	written := 0
	for len(p) > 0 {
		c := len(p)
		if w.chunk > 0 && c > w.chunk {
			c = w.chunk
		}
		if err := pay(w.ctx, w.limiters, c); err != nil {
			return written, err
		}
		n, err := w.w.Write(p[:c])
		written += n
		if err != nil {
			return written, err
		}
		if n < c {
			return written, io.ErrShortWrite
		}
		p = p[c:]
	}
	return written, nil
}
