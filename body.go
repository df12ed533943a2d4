package throttle

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/go-throttle/throttle/ratelimit"
)

// wrapRequestBody counts the bytes the base RoundTripper reads from body
// and holds them to the session's upload limit, waiting under ctx, the
// attempt's context. When ctx ends, body is closed: net/http waits for
// its write of the body before it returns, and closing the body is the
// only way to end a Read that blocks (a stalled pipe, say).
func (t *Transport) wrapRequestBody(ctx context.Context, body io.ReadCloser) io.ReadCloser {
	rb := &requestBody{rc: body, r: body, sent: &t.stats.bytesSent, ctx: ctx}
	if t.upload != nil {
		rb.r = ratelimit.NewReader(ctx, body, t.upload)
	}
	if ctx.Done() != nil {
		rb.stop = context.AfterFunc(ctx, rb.end)
	}
	return rb
}

// requestBody is the attempt's request body. It is closed exactly once,
// by whichever comes first: the base RoundTripper, or the end of the
// attempt's context.
type requestBody struct {
	rc     io.ReadCloser
	r      io.Reader
	sent   *atomic.Int64
	ctx    context.Context
	stop   func() bool // stops end; nil when ctx never ends
	closed atomic.Bool
	ended  atomic.Bool // closed because ctx ended
}

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.sent.Add(int64(n))
	if err != nil && b.ended.Load() {
		// The read failed because the body was closed under it: report
		// why, so that the attempt's error says its context ended.
		err = context.Cause(b.ctx)
	}
	return n, err
}

func (b *requestBody) Close() error {
	if b.stop != nil {
		b.stop()
	}
	return b.close()
}

// end closes the body when the attempt's context ends.
func (b *requestBody) end() {
	b.ended.Store(true)
	b.close()
}

func (b *requestBody) close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	return b.rc.Close()
}

// wrapResponse makes resp.Body release the attempt's hold at EOF, on Close
// or on a read error, counting the bytes read and holding them to the
// session's download limit. A response with no body releases at once:
// there is nothing for the caller to read, so nothing to wait for.
func (t *Transport) wrapResponse(resp *http.Response, h *hold) {
	if resp.Body == nil || resp.Body == http.NoBody {
		h.release()
		if resp.Body == nil {
			resp.Body = http.NoBody
		}
		return
	}
	rb := &h.body // part of the hold: one allocation less per attempt
	rb.rc, rb.r, rb.h = resp.Body, resp.Body, h
	if t.download != nil {
		ctx := context.Background()
		if resp.Request != nil {
			ctx = resp.Request.Context() // the attempt's, with its timeout
		}
		rb.r = ratelimit.NewReader(ctx, resp.Body, t.download)
	}
	resp.Body = rb
}

// responseBody is the attempt's response body. Like net/http's
// cancelTimerBody, it ends the attempt when the body ends: whatever the
// attempt held is released exactly once.
type responseBody struct {
	rc io.ReadCloser
	r  io.Reader
	h  *hold
}

func (b *responseBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.h.t.stats.bytesReceived.Add(int64(n))
	if err != nil {
		if err != io.EOF {
			err = b.h.attemptError(err)
		}
		b.h.release()
	}
	return n, err
}

func (b *responseBody) Close() error {
	err := b.rc.Close()
	b.h.release()
	return err
}
