package throttle

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seekOnly hides every method of its reader but Read and Seek, so
// newSource cannot recognise the concrete type and must rewind it.
type seekOnly struct{ rs io.ReadSeeker }

func (s *seekOnly) Read(p []byte) (int, error)                { return s.rs.Read(p) }
func (s *seekOnly) Seek(off int64, whence int) (int64, error) { return s.rs.Seek(off, whence) }
func sourceTestFile(t *testing.T, content string, at int64) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "body.txt")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	_, err = f.Seek(at, io.SeekStart)
	require.NoError(t, err)
	return f
}

func sourceReadAll(t *testing.T, s source) string {
	t.Helper()
	rc, err := s.open()
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	return string(b)
}

func TestSourceKinds(t *testing.T) {
	const text = "hello, replayable world"
	tests := []struct {
		name       string
		reader     func(t *testing.T) io.Reader
		want       string // the body: what is left of the reader
		size       int64
		replayable bool
		kind       any // the source's concrete type
	}{
		{
			name:   "nil",
			reader: func(*testing.T) io.Reader { return nil },
			want:   "", size: 0, replayable: true, kind: &readerAtSource{},
		},
		{
			name:   "typed nil *bytes.Reader is empty, not a panic",
			reader: func(*testing.T) io.Reader { var r *bytes.Reader; return r },
			want:   "", size: 0, replayable: true, kind: &readerAtSource{},
		},
		{
			name: "device file is a stream, not a 0-byte body",
			reader: func(t *testing.T) io.Reader {
				f, err := os.Open(os.DevNull)
				require.NoError(t, err)
				t.Cleanup(func() { f.Close() })
				return f
			},
			want: "", size: -1, replayable: false, kind: &streamSource{},
		},
		{
			name: "bytes.Buffer partly read",
			reader: func(t *testing.T) io.Reader {
				b := bytes.NewBufferString(text)
				b.Next(7)
				return b
			},
			want: text[7:], size: int64(len(text) - 7), replayable: true, kind: &readerAtSource{},
		},
		{
			name: "bytes.Reader partly read",
			reader: func(t *testing.T) io.Reader {
				r := bytes.NewReader([]byte(text))
				_, err := r.Read(make([]byte, 5))
				require.NoError(t, err)
				return r
			},
			want: text[5:], size: int64(len(text) - 5), replayable: true, kind: &readerAtSource{},
		},
		{
			name:   "strings.Reader",
			reader: func(*testing.T) io.Reader { return strings.NewReader(text) },
			want:   text, size: int64(len(text)), replayable: true, kind: &readerAtSource{},
		},
		{
			name:   "regular file at an offset",
			reader: func(t *testing.T) io.Reader { return sourceTestFile(t, text, 6) },
			want:   text[6:], size: int64(len(text) - 6), replayable: true, kind: &readerAtSource{},
		},
		{
			name: "seekable custom reader at an offset",
			reader: func(t *testing.T) io.Reader {
				r := &seekOnly{strings.NewReader(text)}
				_, err := r.Seek(3, io.SeekStart)
				require.NoError(t, err)
				return r
			},
			want: text[3:], size: int64(len(text) - 3), replayable: true, kind: &seekerSource{},
		},
		{
			name: "io.MultiReader",
			reader: func(*testing.T) io.Reader {
				return io.MultiReader(strings.NewReader(text[:4]), strings.NewReader(text[4:]))
			},
			want: text, size: -1, replayable: false, kind: &streamSource{},
		},
		{
			name: "io.Pipe",
			reader: func(t *testing.T) io.Reader {
				pr, pw := io.Pipe()
				done := make(chan struct{})
				go func() {
					defer close(done)
					pw.Write([]byte(text))
					pw.Close()
				}()
				t.Cleanup(func() { pr.Close(); <-done })
				return pr
			},
			want: text, size: -1, replayable: false, kind: &streamSource{},
		},
		{
			name: "os.Pipe (a file that is not regular)",
			reader: func(t *testing.T) io.Reader {
				pr, pw, err := os.Pipe()
				require.NoError(t, err)
				t.Cleanup(func() { pr.Close() })
				_, err = pw.Write([]byte(text)) // fits in the pipe's buffer
				require.NoError(t, err)
				require.NoError(t, pw.Close())
				return pr
			},
			want: text, size: -1, replayable: false, kind: &streamSource{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSource(tt.reader(t))
			assert.IsType(t, tt.kind, s)
			assert.Equal(t, tt.size, s.size(), "size")
			assert.Equal(t, tt.replayable, s.replayable(), "replayable")

			assert.Equal(t, tt.want, sourceReadAll(t, s), "first open")
			if tt.replayable {
				assert.Equal(t, tt.want, sourceReadAll(t, s), "second open")
				assert.Equal(t, tt.size, s.size(), "size after two reads")
				return
			}
			_, err := s.open()
			assert.ErrorIs(t, err, ErrNotReplayable, "second open of a stream")
		})
	}
}

// A reader opened at offsets is independent: attempts that overlap (as a
// retry can overlap the draining of the attempt before it) each see the
// whole body, and the caller's reader keeps its position.
func TestSourceReaderAtOpensAreIndependent(t *testing.T) {
	const text = "0123456789abcdef"
	r := bytes.NewReader([]byte(text))
	s := newSource(r)

	a, err := s.open()
	require.NoError(t, err)
	head := make([]byte, 4)
	_, err = io.ReadFull(a, head)
	require.NoError(t, err)

	b, err := s.open()
	require.NoError(t, err)
	all, err := io.ReadAll(b)
	require.NoError(t, err)
	assert.Equal(t, text, string(all))

	rest, err := io.ReadAll(a)
	require.NoError(t, err)
	assert.Equal(t, text, string(head)+string(rest))
	assert.Equal(t, len(text), r.Len(), "the caller's reader was not moved")
}

// Two readers from one seekerSource share the seeker: once a newer one is
// opened, the stale one fails instead of moving the position under it, and
// the newer one still reads the whole body.
func TestSourceSeekerStaleReaderFails(t *testing.T) {
	const text = "0123456789abcdef"
	s := newSource(&seekOnly{strings.NewReader(text)})
	require.IsType(t, &seekerSource{}, s)

	old, err := s.open()
	require.NoError(t, err)
	head := make([]byte, 5)
	_, err = io.ReadFull(old, head)
	require.NoError(t, err)
	assert.Equal(t, text[:5], string(head))

	cur, err := s.open()
	require.NoError(t, err)
	p := make([]byte, 3)
	_, err = io.ReadFull(cur, p)
	require.NoError(t, err)
	assert.Equal(t, text[:3], string(p), "the new reader starts from the start")

	n, err := old.Read(make([]byte, 4))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, errStaleAttempt, "the stale reader must fail")

	rest, err := io.ReadAll(cur)
	require.NoError(t, err)
	assert.Equal(t, text, string(p)+string(rest), "the stale read did not disturb the new reader")

	n, err = old.Read(make([]byte, 4))
	assert.Zero(t, n)
	assert.True(t, errors.Is(err, errStaleAttempt), "still stale after the new reader finished: %v", err)
}

// A source over a file owns it: close closes the file.
func TestSourceFileCloseClosesFile(t *testing.T) {
	f := sourceTestFile(t, "data", 0)
	s := newSource(f)
	require.NoError(t, s.close())
	_, err := f.Read(make([]byte, 1))
	assert.ErrorIs(t, err, os.ErrClosed)
}
