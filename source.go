package throttle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"sync"
)

// source is a request body that can be opened once per attempt. A
// replayable source opens afresh from its start each time, so retries and
// 307/308 redirects resend it without anything being read into memory; a
// one-shot stream opens once.
type source interface {
	// open returns a reader over the whole body from its start. The
	// reader's Close releases only what open took.
	open() (io.ReadCloser, error)
	// size is the body's length in bytes, or -1 when it is unknown.
	size() int64
	replayable() bool
	// close releases what the source owns (files, the caller's closer).
	close() error
}

// newSource picks the cheapest replayable form r allows: bytes and string
// readers and regular files are read at offsets (no shared position, so
// attempts cannot disturb each other), other seekers are rewound, and any
// other reader is a one-shot stream. Nothing is read ahead.
func newSource(r io.Reader) source {
	if r == nil || isNilPointer(r) {
		return &readerAtSource{ra: bytes.NewReader(nil)}
	}
	switch r := r.(type) {
	case source:
		return r
	case *bytes.Buffer:
		b := r.Bytes()
		return &readerAtSource{ra: bytes.NewReader(b), n: int64(len(b))}
	case unreadAt: // *bytes.Reader, *strings.Reader: from what is unread
		return &readerAtSource{ra: r, off: r.Size() - int64(r.Len()), n: int64(r.Len())}
	case *os.File:
		// A regular file is read at offsets; anything else (a pipe, a
		// device such as /dev/zero whose "size" means nothing) is a stream.
		if s, ok := fileAtSource(r); ok {
			return s
		}
		return &streamSource{r: r}
	}
	if rs, ok := r.(io.ReadSeeker); ok {
		if s, err := newSeekerSource(rs); err == nil {
			return s
		}
	}
	return &streamSource{r: r}
}

// unreadAt is an in-memory reader that can be read at offsets and tells
// how much of it is unread, as *bytes.Reader and *strings.Reader do.
type unreadAt interface {
	io.ReaderAt
	Len() int
	Size() int64
}

// readerAtSource reads n bytes from off of ra; every open is independent.
type readerAtSource struct {
	ra     io.ReaderAt
	off, n int64
	closer io.Closer // owned, closed by close; may be nil
}

func (s *readerAtSource) open() (io.ReadCloser, error) {
	return &localBody{r: io.NewSectionReader(s.ra, s.off, s.n)}, nil
}
func (s *readerAtSource) size() int64      { return s.n }
func (s *readerAtSource) replayable() bool { return true }
func (s *readerAtSource) close() error     { return closeIfSet(s.closer) }

func fileAtSource(f *os.File) (source, bool) {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, false
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil || off > st.Size() {
		return nil, false
	}
	return &readerAtSource{ra: f, off: off, n: st.Size() - off, closer: f}, true
}

// seekerSource rewinds a shared io.ReadSeeker. Each open starts a new
// epoch: a reader from an earlier attempt (which net/http may still be
// draining in the background) fails instead of moving the shared position
// under the current one.
type seekerSource struct {
	mu       sync.Mutex
	rs       io.ReadSeeker
	start, n int64
	at       int64 // the seeker's position, as far as we know
	epoch    uint64
}

var errStaleAttempt = errors.New("throttle: body of an earlier attempt read after a retry reopened it")

func newSeekerSource(rs io.ReadSeeker) (*seekerSource, error) {
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	end, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return nil, err
	}
	if end < start {
		return nil, errors.New("throttle: seekable body positioned past its end")
	}
	return &seekerSource{rs: rs, start: start, n: end - start, at: start}, nil
}

func (s *seekerSource) open() (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	return &seekerView{s: s, epoch: s.epoch}, nil
}

func (s *seekerSource) size() int64      { return s.n }
func (s *seekerSource) replayable() bool { return true }
func (s *seekerSource) close() error     { return closeIfSet(s.rs) }

type seekerView struct {
	s     *seekerSource
	epoch uint64
	pos   int64
}

func (v *seekerView) Read(p []byte) (int, error) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != v.epoch {
		return 0, localError("reading", errStaleAttempt)
	}
	if v.pos >= s.n {
		return 0, io.EOF
	}
	if s.at != s.start+v.pos {
		if _, err := s.rs.Seek(s.start+v.pos, io.SeekStart); err != nil {
			return 0, localError("rewinding", err)
		}
		s.at = s.start + v.pos
	}
	p = p[:min(int64(len(p)), s.n-v.pos)]
	n, err := s.rs.Read(p)
	v.pos += int64(n)
	s.at += int64(n)
	if err == io.EOF && v.pos < s.n {
		err = io.ErrUnexpectedEOF // the source shrank since it was measured
	}
	if err != nil && err != io.EOF {
		err = localError("reading", err)
	}
	return n, err
}

func (v *seekerView) Close() error { return nil }

// streamSource is a one-shot reader: it can be opened once.
type streamSource struct {
	mu     sync.Mutex
	r      io.Reader
	opened bool
}

func (s *streamSource) open() (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		return nil, ErrNotReplayable
	}
	s.opened = true
	return &localBody{r: s.r}, nil
}

func (s *streamSource) size() int64 {
	if l, ok := s.r.(interface{ Len() int }); ok {
		return int64(l.Len())
	}
	return -1
}
func (s *streamSource) replayable() bool { return false }
func (s *streamSource) close() error     { return closeIfSet(s.r) }

// getBodySource replays a request through its GetBody, as net/http does
// for redirects; the original Body is closed by close.
type getBodySource struct {
	req *http.Request
}

func (s getBodySource) open() (io.ReadCloser, error) {
	rc, err := s.req.GetBody()
	switch {
	case err != nil:
		return nil, localError("GetBody", err)
	case rc == nil:
		return nil, localError("GetBody", errors.New("returned a nil body and no error"))
	}
	if _, ours := rc.(*localBody); ours {
		return rc, nil // a source's own reader: already marked
	}
	return &localBody{r: rc, c: rc}, nil
}
func (s getBodySource) size() int64 {
	if s.req.ContentLength > 0 {
		return s.req.ContentLength
	}
	return -1
}
func (s getBodySource) replayable() bool { return true }
func (s getBodySource) close() error     { return s.req.Body.Close() }

// requestSource is req's body as a source, or nil when it has none.
func requestSource(req *http.Request) source {
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		return nil
	case req.GetBody != nil:
		return getBodySource{req}
	}
	return newSource(req.Body)
}

// localBody is a reader over a request body's local source. A failure to
// read it happened on this side, not at the server, so it is marked with
// ErrRequestBody, which the retry policy never retries.
type localBody struct {
	r io.Reader
	c io.Closer // nil: nothing to close
}

func (b *localBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = localError("reading", err)
	}
	return n, err
}

func (b *localBody) Close() error { return closeIfSet(b.c) }

// localError marks err, a failure to op (open, read) a request body's
// source, with ErrRequestBody; an error already marked is returned as is,
// so nested sources do not repeat it.
func localError(op string, err error) error {
	if errors.Is(err, ErrRequestBody) {
		return err
	}
	return fmt.Errorf("%w: %s: %w", ErrRequestBody, op, err)
}

func closeIfSet(v any) error {
	if c, ok := v.(io.Closer); ok && c != nil {
		return c.Close()
	}
	return nil
}

// isNilPointer reports whether r is a typed nil pointer, which would panic
// on first use: it is treated as an empty body, as a nil io.Reader is.
func isNilPointer(r io.Reader) bool {
	v := reflect.ValueOf(r)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
