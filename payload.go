package throttle

import (
	"context"
	"io"
	"sync"

	"github.com/go-throttle/throttle/ratelimit"
)

// Payload is a request body that is read no faster than its rate, as the
// aiohttp rate-limited upload payload is, without ever holding more than
// one chunk in memory. Given to a Session, the Payload's rate and the
// session's WithUploadLimit both hold at once.
//
// A Payload over bytes, a string, a regular file, a seekable reader or a
// Multipart built from such sources knows its length (so Content-Length is
// set and nothing is sent chunked) and is replayable: each attempt reads it
// afresh from the start, and the rate holds across attempts. A Payload over
// any other stream is sent once and never retried.
//
// Read and Close are safe for concurrent use, but a Payload is one body:
// use it for one request at a time. A Payload must be made with
// NewPayload: the zero value is not usable.
type Payload struct {
	src     source
	limiter *ratelimit.Bucket
	ctx     context.Context // ended by Close, so no read waits after it
	cancel  context.CancelFunc

	mu  sync.Mutex
	cur io.ReadCloser // the reader Read uses, opened on first Read
}

// NewPayload returns a body that reads r at no more than bytesPerSecond:
// in any window of 1 s, from the first byte, at most bytesPerSecond plus
// one chunk of 100 ms of transfer (at least 4 KiB, at most 64 KiB), so a
// slow rate still flows smoothly; see WithUploadLimit for the burst in
// full. A Read never returns more than the limit can grant at once.
func NewPayload(r io.Reader, bytesPerSecond int64) (*Payload, error) {
	if r == nil {
		return nil, invalidOption("NewPayload", "r=nil", "reader must not be nil")
	}
	if bytesPerSecond <= 0 {
		return nil, invalidOption("NewPayload", "bytesPerSecond="+itoa(bytesPerSecond), "bytes per second must be positive")
	}
	limiter, err := newByteBucket("NewPayload", bytesPerSecond, nil)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Payload{src: newSource(r), limiter: limiter, ctx: ctx, cancel: cancel}, nil
}

// Read reads the body at the Payload's rate.
func (p *Payload) Read(b []byte) (int, error) {
	p.mu.Lock()
	if p.cur == nil {
		cur, err := p.open()
		if err != nil {
			p.mu.Unlock()
			return 0, err
		}
		p.cur = cur
	}
	cur := p.cur
	p.mu.Unlock()
	return cur.Read(b)
}

// Close ends any read that is waiting for the rate, and closes the
// underlying source (files it opened, and r if r is an io.Closer), as a
// transport closes a request body.
func (p *Payload) Close() error {
	p.cancel()
	return p.src.close()
}

// Size reports the body's length in bytes, or -1 if it is unknown.
func (p *Payload) Size() int64 { return p.src.size() }

// Replayable reports whether each attempt can read the body afresh.
func (p *Payload) Replayable() bool { return p.src.replayable() }

// open starts a new attempt: a reader over the source from its start, at
// the Payload's rate. Closing it ends only its own waits.
func (p *Payload) open() (io.ReadCloser, error) {
	r, err := p.src.open()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(p.ctx)
	return &rateReader{Reader: ratelimit.NewReader(ctx, r, p.limiter), c: r, cancel: cancel}, nil
}

func (p *Payload) size() int64      { return p.src.size() }
func (p *Payload) replayable() bool { return p.src.replayable() }
func (p *Payload) close() error     { return p.Close() }

// rateReader is one attempt's rate-limited reader.
type rateReader struct {
	io.Reader
	c      io.Closer
	cancel context.CancelFunc
}

func (r *rateReader) Close() error {
	r.cancel()
	return r.c.Close()
}
