package throttle_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-throttle/throttle"
	"github.com/go-throttle/throttle/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rbodyRequest is what an rbodyServer saw of one request.
type rbodyRequest struct {
	Method           string
	ContentType      string
	ContentLength    int64
	TransferEncoding []string
	Body             []byte
	ReadErr          error
}

// rbodyServer reads every request body in full, records it, and answers
// the i-th request with statuses[i] (200 once they run out).
type rbodyServer struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []rbodyRequest
}

func newRbodyServer(t *testing.T, statuses ...int) *rbodyServer {
	t.Helper()
	s := &rbodyServer{statuses: statuses}
	s.Server = testserver.Start(t, http.HandlerFunc(s.serve))
	return s
}

func (s *rbodyServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	s.mu.Lock()
	status := http.StatusOK
	if i := len(s.got); i < len(s.statuses) {
		status = s.statuses[i]
	}
	s.got = append(s.got, rbodyRequest{
		Method:           r.Method,
		ContentType:      r.Header.Get("Content-Type"),
		ContentLength:    r.ContentLength,
		TransferEncoding: r.TransferEncoding,
		Body:             body,
		ReadErr:          err,
	})
	s.mu.Unlock()
	w.WriteHeader(status)
}

func (s *rbodyServer) requests() []rbodyRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rbodyRequest(nil), s.got...)
}

func newRbodySession(t *testing.T, opts ...throttle.Option) *throttle.Session {
	t.Helper()
	s, err := throttle.NewSession(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// rbodyData returns n bytes that differ from offset to offset, so a body
// that is shifted, truncated or repeated does not compare equal.
func rbodyData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func rbodyTempFile(t *testing.T, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, content, 0o600))
	return path
}

// rbodyDo sends one request with body through s and returns the response
// status, closing the body.
func rbodyDo(t *testing.T, s *throttle.Session, method, url string, body io.Reader) (int, error) {
	t.Helper()
	var (
		resp *http.Response
		err  error
	)
	switch method {
	case http.MethodPost:
		resp, err = s.Post(context.Background(), url, "application/octet-stream", body)
	case http.MethodPut:
		resp, err = s.Put(context.Background(), url, "application/octet-stream", body)
	default:
		t.Fatalf("rbodyDo: method %s", method)
	}
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

var rbodyRetry = throttle.WithRetry(throttle.RetryPolicy{
	MaxRetries: 2,
	MinWait:    time.Millisecond,
	MaxWait:    5 * time.Millisecond,
})

// Every replayable body is resent whole, with its Content-Length, when an
// attempt is retried: PUT after a 503, POST after a 429 (the only status
// after which a POST is retried).
func TestPayloadReplayOnRetry(t *testing.T) {
	data := rbodyData(100<<10 + 17)
	bodies := []struct {
		name string
		// body returns the request body and the bytes it must send.
		body func(t *testing.T) (io.Reader, []byte)
	}{
		{"bytes.Reader", func(*testing.T) (io.Reader, []byte) {
			return bytes.NewReader(data), data
		}},
		{"strings.Reader", func(*testing.T) (io.Reader, []byte) {
			return strings.NewReader(string(data)), data
		}},
		{"os.File", func(t *testing.T) (io.Reader, []byte) {
			f, err := os.Open(rbodyTempFile(t, "body.bin", data))
			require.NoError(t, err)
			t.Cleanup(func() { f.Close() })
			return f, data
		}},
		{"Payload over a file", func(t *testing.T) (io.Reader, []byte) {
			f, err := os.Open(rbodyTempFile(t, "body.bin", data))
			require.NoError(t, err)
			t.Cleanup(func() { f.Close() })
			p, err := throttle.NewPayload(f, 64<<20)
			require.NoError(t, err)
			return p, data
		}},
		{"Multipart with AddFileFromPath", func(t *testing.T) (io.Reader, []byte) {
			path := rbodyTempFile(t, "upload.bin", data)
			form := throttle.NewMultipart()
			form.AddField("kind", "upload")
			require.NoError(t, form.AddFileFromPath("file", path))

			var want bytes.Buffer
			w := multipart.NewWriter(&want)
			require.NoError(t, w.SetBoundary(formBoundary(t, form)))
			require.NoError(t, w.WriteField("kind", "upload"))
			fw, err := w.CreateFormFile("file", "upload.bin")
			require.NoError(t, err)
			_, err = fw.Write(data)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			return form, want.Bytes()
		}},
	}
	methods := []struct {
		method string
		first  int
	}{
		{http.MethodPut, http.StatusServiceUnavailable},
		{http.MethodPost, http.StatusTooManyRequests},
	}
	for _, m := range methods {
		for _, b := range bodies {
			t.Run(m.method+"/"+b.name, func(t *testing.T) {
				srv := newRbodyServer(t, m.first)
				s := newRbodySession(t, rbodyRetry)
				body, want := b.body(t)

				status, err := rbodyDo(t, s, m.method, srv.URL, body)
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, status)

				got := srv.requests()
				require.Len(t, got, 2, "attempts")
				for i, r := range got {
					require.NoError(t, r.ReadErr, "attempt %d", i)
					assert.Equal(t, m.method, r.Method, "attempt %d", i)
					assert.Equal(t, int64(len(want)), r.ContentLength, "attempt %d: Content-Length", i)
					assert.Empty(t, r.TransferEncoding, "attempt %d: not chunked", i)
					assert.True(t, bytes.Equal(want, r.Body), "attempt %d: body differs: %s", i, rbodyDiff(want, r.Body))
				}
				st := s.Stats()
				assert.EqualValues(t, 2, st.Requests)
				assert.EqualValues(t, 1, st.Retries)
				assert.EqualValues(t, 2*len(want), st.BytesSent)
			})
		}
	}
}

// A one-shot stream is sent once: when the policy wants a retry, the
// caller gets a NotReplayableError naming the status, and the server saw
// exactly one attempt; with no retry needed it simply succeeds.
func TestPayloadOneShotStreamNotReplayed(t *testing.T) {
	data := rbodyData(64<<10 + 3)
	streams := []struct {
		name   string
		stream func(t *testing.T) io.Reader
	}{
		{"io.MultiReader", func(*testing.T) io.Reader {
			return io.MultiReader(bytes.NewReader(data[:1000]), bytes.NewReader(data[1000:]))
		}},
		{"io.Pipe", func(t *testing.T) io.Reader {
			pr, pw := io.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, err := pw.Write(data)
				pw.CloseWithError(err)
			}()
			t.Cleanup(func() {
				pr.Close() // unblocks the writer if the body was not read
				<-done
			})
			return pr
		}},
	}
	for _, st := range streams {
		t.Run(st.name+"/retry wanted", func(t *testing.T) {
			srv := newRbodyServer(t, http.StatusServiceUnavailable)
			s := newRbodySession(t, rbodyRetry)

			_, err := rbodyDo(t, s, http.MethodPut, srv.URL, st.stream(t))
			require.Error(t, err)
			assert.ErrorIs(t, err, throttle.ErrNotReplayable)
			var nre *throttle.NotReplayableError
			require.ErrorAs(t, err, &nre)
			assert.Equal(t, http.StatusServiceUnavailable, nre.StatusCode)

			got := srv.requests()
			require.Len(t, got, 1, "attempts")
			assert.True(t, bytes.Equal(data, got[0].Body), "the one attempt carried the whole body")
			assert.Equal(t, []string{"chunked"}, got[0].TransferEncoding)
		})
		t.Run(st.name+"/no retry needed", func(t *testing.T) {
			srv := newRbodyServer(t)
			s := newRbodySession(t, rbodyRetry)

			status, err := rbodyDo(t, s, http.MethodPut, srv.URL, st.stream(t))
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, status)
			got := srv.requests()
			require.Len(t, got, 1)
			assert.True(t, bytes.Equal(data, got[0].Body))
		})
	}
}

// rbodyTimedPost posts body to srv through s and reports how long it took.
func rbodyTimedPost(t *testing.T, s *throttle.Session, url string, body io.Reader) time.Duration {
	t.Helper()
	start := time.Now()
	status, err := rbodyDo(t, s, http.MethodPost, url, body)
	d := time.Since(start)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	return d
}

// 256 KiB at 128 KiB/s: 2 s less the initial burst of 100 ms of transfer.
func TestPayloadRate(t *testing.T) {
	data := rbodyData(256 << 10)
	srv := newRbodyServer(t)
	s := newRbodySession(t)
	p, err := throttle.NewPayload(bytes.NewReader(data), 128<<10)
	require.NoError(t, err)
	assert.EqualValues(t, len(data), p.Size())
	assert.True(t, p.Replayable())

	d := rbodyTimedPost(t, s, srv.URL, p)
	t.Logf("256 KiB at 128 KiB/s took %v", d)
	assert.GreaterOrEqual(t, d, 1200*time.Millisecond)
	assert.LessOrEqual(t, d, 5*time.Second)

	got := srv.requests()
	require.Len(t, got, 1)
	assert.True(t, bytes.Equal(data, got[0].Body))
	assert.EqualValues(t, len(data), got[0].ContentLength)
	assert.EqualValues(t, len(got[0].Body), s.Stats().BytesSent)
}

// A Payload's rate and the session's upload limit both hold: the tighter
// one sets the pace, whichever it is.
func TestPayloadWithUploadLimit(t *testing.T) {
	cases := []struct {
		name          string
		payload, sess int64
	}{
		{"payload is tighter", 128 << 10, 1 << 20},
		{"session is tighter", 1 << 20, 128 << 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := rbodyData(256 << 10)
			srv := newRbodyServer(t)
			s := newRbodySession(t, throttle.WithUploadLimit(c.sess))
			p, err := throttle.NewPayload(bytes.NewReader(data), c.payload)
			require.NoError(t, err)

			d := rbodyTimedPost(t, s, srv.URL, p)
			t.Logf("256 KiB, payload %d B/s, session %d B/s: %v", c.payload, c.sess, d)
			assert.GreaterOrEqual(t, d, 1200*time.Millisecond)
			assert.LessOrEqual(t, d, 5*time.Second)

			got := srv.requests()
			require.Len(t, got, 1)
			assert.True(t, bytes.Equal(data, got[0].Body))
			assert.EqualValues(t, len(data), s.Stats().BytesSent)
		})
	}
}

// Two uploads that could each go at 10 MiB/s share the session's cap of
// 512 KiB/s: together, 1 MiB takes about 2 s (each alone would take 1 s).
func TestPayloadConcurrentUploadsShareLimit(t *testing.T) {
	const size = 512 << 10
	srv := newRbodyServer(t)
	s := newRbodySession(t, throttle.WithUploadLimit(512<<10))

	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		p, err := throttle.NewPayload(bytes.NewReader(rbodyData(size)), 10<<20)
		require.NoError(t, err)
		wg.Go(func() {
			resp, err := s.Post(context.Background(), srv.URL, "application/octet-stream", p)
			if err != nil {
				errs[i] = err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs[i] = errors.New(resp.Status)
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	t.Logf("2 x 512 KiB under a 512 KiB/s upload limit: %v", d)
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.GreaterOrEqual(t, d, 1400*time.Millisecond)
	assert.LessOrEqual(t, d, 5*time.Second)

	got := srv.requests()
	require.Len(t, got, 2)
	read := 0
	for _, r := range got {
		assert.True(t, bytes.Equal(rbodyData(size), r.Body))
		read += len(r.Body)
	}
	assert.EqualValues(t, read, s.Stats().BytesSent, "BytesSent is what the server read")
}

func TestPayloadInvalidArgs(t *testing.T) {
	cases := []struct {
		name string
		r    io.Reader
		rate int64
		want string // the value the error must name
	}{
		{"nil reader", nil, 1024, "r=nil"},
		{"zero rate", strings.NewReader("x"), 0, "bytesPerSecond=0"},
		{"negative rate", strings.NewReader("x"), -5, "bytesPerSecond=-5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := throttle.NewPayload(c.r, c.rate)
			assert.Nil(t, p)
			require.ErrorIs(t, err, throttle.ErrInvalidOption)
			assert.Contains(t, err.Error(), "NewPayload")
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// rbodySignalReader reports each Read of its reader on reads.
type rbodySignalReader struct {
	r     io.Reader
	reads chan struct{}
}

func (s *rbodySignalReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.reads <- struct{}{}
	return n, err
}

// Close ends a Read that is waiting for the rate at once, with an error
// wrapping context.Canceled, rather than after the wait.
func TestPayloadCloseUnblocksRead(t *testing.T) {
	// At 4 KiB/s the burst is the whole second's 4 KiB: the first 4 KiB
	// pass at once, and the next read would wait a second for its tokens.
	src := &rbodySignalReader{r: bytes.NewReader(rbodyData(64 << 10)), reads: make(chan struct{}, 2)}
	p, err := throttle.NewPayload(src, 4<<10)
	require.NoError(t, err)

	n, err := p.Read(make([]byte, 4<<10))
	require.NoError(t, err)
	require.Equal(t, 4<<10, n)
	<-src.reads

	type result struct {
		n   int
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		n, err := p.Read(make([]byte, 4<<10))
		done <- result{n, err, time.Now()}
	}()
	<-src.reads // the bytes are read; Read now waits for their tokens
	closed := time.Now()
	require.NoError(t, p.Close())

	select {
	case r := <-done:
		assert.ErrorIs(t, r.err, context.Canceled)
		assert.Less(t, r.at.Sub(closed), 500*time.Millisecond, "Read returned %v after Close", r.at.Sub(closed))
	case <-time.After(10 * time.Second):
		t.Fatal("Read still blocked 10 s after Close")
	}

	_, err = p.Read(make([]byte, 16))
	assert.ErrorIs(t, err, context.Canceled, "Read after Close")
}

// The session's download limit paces response bodies: 512 KiB at 256 KiB/s
// take about 2 s less the initial burst.
func TestPayloadDownloadLimit(t *testing.T) {
	const size = 512 << 10
	data := rbodyData(size)
	srv := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(data)
	}))
	s := newRbodySession(t, throttle.WithDownloadLimit(256<<10))

	start := time.Now()
	resp, err := s.Get(context.Background(), srv.URL)
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	require.NoError(t, err)
	t.Logf("512 KiB under a 256 KiB/s download limit: %v", d)

	assert.True(t, bytes.Equal(data, got))
	assert.GreaterOrEqual(t, d, 1200*time.Millisecond)
	assert.LessOrEqual(t, d, 5*time.Second)
	assert.EqualValues(t, size, s.Stats().BytesReceived)
}
