package throttle_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rbodyForm is what a server parsed from a multipart request.
type rbodyForm struct {
	ContentLength    int64
	TransferEncoding []string
	Values           map[string][]string
	Files            map[string]rbodyFile // by field name
	Err              error
}

type rbodyFile struct {
	Filename string
	Content  []byte
}

// newRbodyFormServer parses each request with ParseMultipartForm and sends
// what it saw on the returned channel.
func newRbodyFormServer(t *testing.T) (*httptest.Server, <-chan rbodyForm) {
	t.Helper()
	forms := make(chan rbodyForm, 8)
	srv := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := rbodyForm{ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding}
		defer func() { forms <- f }()
		if f.Err = r.ParseMultipartForm(1 << 20); f.Err != nil {
			http.Error(w, f.Err.Error(), http.StatusBadRequest)
			return
		}
		defer r.MultipartForm.RemoveAll()
		f.Values = r.MultipartForm.Value
		f.Files = map[string]rbodyFile{}
		for field, hs := range r.MultipartForm.File {
			for _, h := range hs {
				file, err := h.Open()
				if err != nil {
					f.Err = err
					return
				}
				content, err := io.ReadAll(file)
				file.Close()
				if err != nil {
					f.Err = err
					return
				}
				f.Files[field] = rbodyFile{Filename: h.Filename, Content: content}
			}
		}
	}))
	return srv, forms
}

func rbodyPostForm(t *testing.T, s *throttle.Session, url string, form *throttle.Multipart) {
	t.Helper()
	resp, err := s.Post(context.Background(), url, form.ContentType(), form)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "server: %s", body)
}

// A form of fields and files of every known-size kind is sent with its
// Content-Length (not chunked) and parses to exactly what was added.
func TestMultipartPostParsedByServer(t *testing.T) {
	fromBytes := rbodyData(300<<10 + 5) // larger than the parser's memory limit
	fromPath := rbodyData(70 << 10)
	fromString := "plain text,\r\n--not a boundary\r\n"
	path := rbodyTempFile(t, "report.bin", fromPath)

	form := throttle.NewMultipart()
	form.AddField("name", "Zoë")
	form.AddField("empty", "")
	form.AddFile("blob", "blob.bin", bytes.NewReader(fromBytes))
	require.NoError(t, form.AddFileFromPath("report", path))
	form.AddFile("note", "note.txt", strings.NewReader(fromString))
	assert.Equal(t, "multipart/form-data; boundary="+formBoundary(t, form), form.ContentType())
	size := form.Size()
	require.Positive(t, size)

	srv, forms := newRbodyFormServer(t)
	s := newRbodySession(t)
	rbodyPostForm(t, s, srv.URL, form)

	f := <-forms
	require.NoError(t, f.Err)
	assert.Equal(t, size, f.ContentLength, "Content-Length is form.Size()")
	assert.Empty(t, f.TransferEncoding, "not chunked")
	assert.Equal(t, map[string][]string{"name": {"Zoë"}, "empty": {""}}, f.Values)
	require.Len(t, f.Files, 3)
	assert.Equal(t, "blob.bin", f.Files["blob"].Filename)
	assert.True(t, bytes.Equal(fromBytes, f.Files["blob"].Content), "blob content")
	assert.Equal(t, "report.bin", f.Files["report"].Filename)
	assert.True(t, bytes.Equal(fromPath, f.Files["report"].Content), "report content")
	assert.Equal(t, "note.txt", f.Files["note"].Filename)
	assert.Equal(t, fromString, string(f.Files["note"].Content))
	assert.EqualValues(t, size, s.Stats().BytesSent)
}

// Reading a Multipart gives byte for byte what mime/multipart.Writer
// writes for the same parts and boundary, names that need escaping
// included, and Size is its length.
func TestMultipartMatchesMimeWriter(t *testing.T) {
	fileData := rbodyData(10 << 10)
	path := rbodyTempFile(t, "data.bin", fileData)
	// Quotes and backslashes are escaped; CR and LF are percent-encoded, so a
	// name cannot end its header line.
	oddName := "a \"quoted\" \\ name\r\nX-Injected: yes"

	form := throttle.NewMultipart()
	form.AddField("greeting", "hello")
	form.AddField(oddName, "value")
	form.AddFile("bytes", "b.bin", bytes.NewReader(fileData[:1000]))
	form.AddFile("str", oddName+".txt", strings.NewReader("text part"))
	require.NoError(t, form.AddFileFromPath("path", path))
	form.AddFile("empty", "empty.txt", strings.NewReader(""))

	var want bytes.Buffer
	w := multipart.NewWriter(&want)
	require.NoError(t, w.SetBoundary(formBoundary(t, form)))
	require.NoError(t, w.WriteField("greeting", "hello"))
	require.NoError(t, w.WriteField(oddName, "value"))
	for _, p := range []struct {
		field, name string
		data        []byte
	}{
		{"bytes", "b.bin", fileData[:1000]},
		{"str", oddName + ".txt", []byte("text part")},
		{"path", "data.bin", fileData},
		{"empty", "empty.txt", nil},
	} {
		fw, err := w.CreateFormFile(p.field, p.name)
		require.NoError(t, err)
		_, err = fw.Write(p.data)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())

	got, err := io.ReadAll(form)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want.Bytes(), got), "differs from mime/multipart: %s", rbodyDiff(want.Bytes(), got))
	assert.EqualValues(t, want.Len(), form.Size())
	assert.False(t, bytes.Contains(got, []byte("\r\nX-Injected: yes")), "a name injected a header")

	// An empty form is just the closing delimiter, as Writer.Close writes.
	empty := throttle.NewMultipart()
	want.Reset()
	w = multipart.NewWriter(&want)
	require.NoError(t, w.SetBoundary(formBoundary(t, empty)))
	require.NoError(t, w.Close())
	got, err = io.ReadAll(empty)
	require.NoError(t, err)
	assert.Equal(t, want.String(), string(got))
	assert.EqualValues(t, want.Len(), empty.Size())
}

// A part from a plain stream makes the form's size unknown: it is sent
// chunked, and still parses.
func TestMultipartStreamPartIsChunked(t *testing.T) {
	streamed := rbodyData(40 << 10)
	form := throttle.NewMultipart()
	form.AddField("id", "42")
	form.AddFile("stream", "stream.bin", io.MultiReader(bytes.NewReader(streamed[:100]), bytes.NewReader(streamed[100:])))
	form.AddFile("after", "after.txt", strings.NewReader("after the stream"))
	assert.EqualValues(t, -1, form.Size())

	srv, forms := newRbodyFormServer(t)
	s := newRbodySession(t, rbodyRetry) // a one-shot form goes outside the retry loop
	rbodyPostForm(t, s, srv.URL, form)

	f := <-forms
	require.NoError(t, f.Err)
	assert.EqualValues(t, -1, f.ContentLength)
	assert.Equal(t, []string{"chunked"}, f.TransferEncoding)
	assert.Equal(t, map[string][]string{"id": {"42"}}, f.Values)
	assert.True(t, bytes.Equal(streamed, f.Files["stream"].Content), "stream content")
	assert.Equal(t, "after the stream", string(f.Files["after"].Content))
}

func TestMultipartAddFileFromPathErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-file.bin")

	form := throttle.NewMultipart()
	err := form.AddFileFromPath("f", dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), dir)

	err = form.AddFileFromPath("f", missing)
	require.Error(t, err)
	assert.Contains(t, err.Error(), missing)
	assert.ErrorIs(t, err, fs.ErrNotExist)

	// Nothing was added by the failed calls.
	want := throttle.NewMultipart()
	assert.Equal(t, want.Size(), form.Size())
}

// rbodyCloser counts its Close calls.
type rbodyCloser struct {
	io.Reader
	mu     sync.Mutex
	closes int
}

func (c *rbodyCloser) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closes++
	return nil
}

func (c *rbodyCloser) closed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closes
}

// rbodySeekCloser is a seekable reader that is also a Closer.
type rbodySeekCloser struct {
	*rbodyCloser
	s io.Seeker
}

func (c rbodySeekCloser) Seek(off int64, whence int) (int64, error) { return c.s.Seek(off, whence) }

func TestMultipartCloseClosesAddFileReaders(t *testing.T) {
	stream := &rbodyCloser{Reader: strings.NewReader("stream")}
	sr := strings.NewReader("seekable")
	seekable := rbodySeekCloser{&rbodyCloser{Reader: sr}, sr}
	f, err := os.Open(rbodyTempFile(t, "f.txt", []byte("file")))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })

	form := throttle.NewMultipart()
	form.AddField("x", "y")
	form.AddFile("stream", "s.txt", stream)
	form.AddFile("seekable", "k.txt", seekable)
	form.AddFile("file", "f.txt", f)
	form.AddFile("bytes", "b.txt", bytes.NewReader([]byte("not a closer")))

	require.NoError(t, form.Close())
	assert.Equal(t, 1, stream.closed(), "stream reader closed")
	assert.Equal(t, 1, seekable.closed(), "seekable reader closed")
	_, err = f.Read(make([]byte, 1))
	assert.ErrorIs(t, err, os.ErrClosed, "file closed")
}

// rbodyDiff describes where got first differs from want, briefly.
func rbodyDiff(want, got []byte) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	if i == len(want) && i == len(got) {
		return "equal"
	}
	from := max(i-40, 0)
	return fmt.Sprintf("at byte %d (lengths %d and %d): want %q, got %q",
		i, len(want), len(got), want[from:min(i+40, len(want))], got[from:min(i+40, len(got))])
}

// formBoundary is the boundary m's ContentType names: what a caller that
// builds the encoding itself reads (Multipart.Boundary is gone).
func formBoundary(t *testing.T, m *throttle.Multipart) string {
	t.Helper()
	typ, params, err := mime.ParseMediaType(m.ContentType())
	require.NoError(t, err)
	require.Equal(t, "multipart/form-data", typ)
	require.NotEmpty(t, params["boundary"])
	return params["boundary"]
}

// Issue 8: a zero Multipart is a form ready to use, with a random
// boundary chosen on first use, which its ContentType names; it encodes as
// mime/multipart does.
func TestZeroMultipart(t *testing.T) {
	var form throttle.Multipart
	form.AddField("a", "1")
	form.AddFile("f", "f.txt", strings.NewReader("text"))

	var want bytes.Buffer
	w := multipart.NewWriter(&want)
	require.NoError(t, w.SetBoundary(formBoundary(t, &form)))
	require.NoError(t, w.WriteField("a", "1"))
	fw, err := w.CreateFormFile("f", "f.txt")
	require.NoError(t, err)
	_, err = fw.Write([]byte("text"))
	require.NoError(t, err)
	require.NoError(t, w.Close())

	got, err := io.ReadAll(&form)
	require.NoError(t, err)
	assert.Equal(t, want.String(), string(got))
	assert.EqualValues(t, want.Len(), form.Size())
	require.NoError(t, form.Close())
	assert.NotEqual(t, formBoundary(t, &form), formBoundary(t, throttle.NewMultipart()), "each form has its own boundary")
}
