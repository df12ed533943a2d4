package throttle

import (
	"fmt"
	"io"
	"mime/multipart"
	"os"
	"strings"
	"sync"
)

// Multipart is a multipart/form-data body that streams its parts one after
// another, reading each source only as it is sent: no goroutine, no pipe,
// and never a whole file in memory. When every part's size is known (fields,
// bytes, strings, files added by path or as *os.File, seekable readers) it
// knows its own length, so a request carrying it has a Content-Length, and
// it is replayable: each attempt streams it afresh. A part added from any
// other stream makes the form a one-shot body.
//
// Add every part before the form is first read; Read and Close are safe
// for concurrent use. Wrap a Multipart in a Payload to cap its rate.
//
// The zero value is an empty form ready to use, as NewMultipart's is: its
// random boundary is chosen on first use. ContentType names it, for the
// request's Content-Type header.
type Multipart struct {
	boundary string
	once     sync.Once // chooses boundary
	parts    []formPart

	mu  sync.Mutex
	cur io.ReadCloser // the reader Read uses, opened on first Read
}

type formPart struct {
	header string // the delimiter line and the part's headers
	src    source
}

// NewMultipart returns an empty form with a random boundary. It is the
// same as new(Multipart).
func NewMultipart() *Multipart { return new(Multipart) }

// ContentType returns the form's Content-Type, with its boundary.
func (m *Multipart) ContentType() string {
	return "multipart/form-data; boundary=" + m.bound()
}

// bound returns the form's boundary, chosen at random on first use (as
// mime/multipart chooses its Writer's).
func (m *Multipart) bound() string {
	m.once.Do(func() { m.boundary = multipart.NewWriter(io.Discard).Boundary() })
	return m.boundary
}

// AddField adds a form field.
func (m *Multipart) AddField(name, value string) {
	m.add(fmt.Sprintf("Content-Disposition: form-data; name=\"%s\"\r\n", escapeQuotes(name)),
		newSource(strings.NewReader(value)))
}

// AddFile adds a file part read from r, sent as application/octet-stream.
// The form is replayable only if r is (see Multipart); if r is an
// io.Closer, Close closes it.
func (m *Multipart) AddFile(field, filename string, r io.Reader) {
	m.add(fileHeader(field, filename), newSource(r))
}

// AddFileFromPath adds the file at path as a part named by its base name.
// The file is opened only while its part is being sent, once per attempt,
// so a form of many files holds at most one open at a time; its size is
// taken now. It fails if path is not a regular file.
func (m *Multipart) AddFileFromPath(field, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("throttle: AddFileFromPath(%q): %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("throttle: AddFileFromPath(%q): not a regular file", path)
	}
	m.add(fileHeader(field, st.Name()), &pathSource{path: path, n: st.Size()})
	return nil
}

func fileHeader(field, filename string) string {
	return fmt.Sprintf("Content-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"+
		"Content-Type: application/octet-stream\r\n", escapeQuotes(field), escapeQuotes(filename))
}

// add frames the part exactly as mime/multipart.Writer does, so any
// multipart reader parses it.
func (m *Multipart) add(headers string, src source) {
	delim := "\r\n--" + m.bound() + "\r\n"
	if len(m.parts) == 0 {
		delim = delim[2:]
	}
	m.parts = append(m.parts, formPart{header: delim + headers + "\r\n", src: src})
}

func (m *Multipart) trailer() string { return "\r\n--" + m.bound() + "--\r\n" }

// quoteEscaper is mime/multipart's: \ and " are backslash-escaped, CR and
// LF percent-encoded, so a name cannot end the header line and inject
// headers of its own.
var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "%0D", "\n", "%0A")

func escapeQuotes(s string) string { return quoteEscaper.Replace(s) }

// Read reads the encoded form.
func (m *Multipart) Read(p []byte) (int, error) {
	m.mu.Lock()
	if m.cur == nil {
		m.cur, _ = m.open()
	}
	cur := m.cur
	m.mu.Unlock()
	return cur.Read(p)
}

// Close closes every part's source: the readers given to AddFile that are
// io.Closers, and any file still open.
func (m *Multipart) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var first error
	if m.cur != nil {
		first = m.cur.Close()
	}
	for _, p := range m.parts {
		if err := p.src.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Size reports the encoded form's length in bytes, or -1 when a part's
// size is unknown.
func (m *Multipart) Size() int64 { return m.size() }

func (m *Multipart) size() int64 {
	total := int64(len(m.trailer()))
	for _, p := range m.parts {
		n := p.src.size()
		if n < 0 {
			return -1
		}
		total += int64(len(p.header)) + n
	}
	return total
}

func (m *Multipart) replayable() bool {
	for _, p := range m.parts {
		if !p.src.replayable() {
			return false
		}
	}
	return true
}

func (m *Multipart) close() error { return m.Close() }

// open returns a reader over the whole encoded form, opening each part's
// source only when the reader reaches it.
func (m *Multipart) open() (io.ReadCloser, error) {
	return &formReader{m: m}, nil
}

// formReader walks the form: for each part its header, then its source;
// then the trailer.
type formReader struct {
	// mu guards the walk: net/http may close a request body from another
	// goroutine while a read is in progress.
	mu   sync.Mutex
	m    *Multipart
	i    int           // the part being sent; len(parts) means the trailer
	pend string        // framing not yet returned
	body io.ReadCloser // the current part's opened source
	done bool
}

func (r *formReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.pend != "" {
			n := copy(p, r.pend)
			r.pend = r.pend[n:]
			return n, nil
		}
		if r.body != nil {
			n, err := r.body.Read(p)
			if err == io.EOF {
				err = r.body.Close()
				r.body = nil
				r.i++
				if n > 0 || err != nil {
					return n, err
				}
				continue
			}
			return n, err
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
}

// next moves to the next part's header and source, or to the trailer.
func (r *formReader) next() error {
	parts := r.m.parts
	switch {
	case r.done:
		return io.EOF
	case r.i >= len(parts):
		r.pend, r.done = r.m.trailer(), true
		return nil
	}
	body, err := parts[r.i].src.open()
	if err != nil {
		return localError(fmt.Sprintf("opening multipart part %d", r.i), err)
	}
	r.pend, r.body = parts[r.i].header, body
	return nil
}

func (r *formReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done, r.i, r.pend = true, len(r.m.parts), ""
	if r.body != nil {
		err := r.body.Close()
		r.body = nil
		return err
	}
	return nil
}

// pathSource opens its file once per attempt.
type pathSource struct {
	path string
	n    int64
}

func (s *pathSource) open() (io.ReadCloser, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	return &localBody{r: io.NewSectionReader(f, 0, s.n), c: f}, nil
}

func (s *pathSource) size() int64      { return s.n }
func (s *pathSource) replayable() bool { return true }
func (s *pathSource) close() error     { return nil }
