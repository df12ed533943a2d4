package throttle_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-throttle/throttle"
	"github.com/stretchr/testify/require"
)

// Issue 7: every verb takes request options; WithRequestHeader sets a
// header on that one request, over the session's default.
func TestWithRequestHeaderOnEveryVerb(t *testing.T) {
	seen := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		seen <- r.Header.Clone()
	}))
	t.Cleanup(srv.Close)
	s, err := throttle.NewSession(throttle.WithHeader("X-Team", "default"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	ctx := context.Background()
	opts := []throttle.RequestOption{
		throttle.WithRequestHeader("Idempotency-Key", "k-1"),
		throttle.WithRequestHeader("X-Team", "mine"),
	}
	body := func() io.Reader { return strings.NewReader("payload") }
	verbs := map[string]func() (*http.Response, error){
		"GET":    func() (*http.Response, error) { return s.Get(ctx, srv.URL, opts...) },
		"HEAD":   func() (*http.Response, error) { return s.Head(ctx, srv.URL, opts...) },
		"DELETE": func() (*http.Response, error) { return s.Delete(ctx, srv.URL, opts...) },
		"POST":   func() (*http.Response, error) { return s.Post(ctx, srv.URL, "text/plain", body(), opts...) },
		"PUT":    func() (*http.Response, error) { return s.Put(ctx, srv.URL, "text/plain", body(), opts...) },
		"PATCH":  func() (*http.Response, error) { return s.Patch(ctx, srv.URL, "text/plain", body(), opts...) },
	}
	for name, verb := range verbs {
		t.Run(name, func(t *testing.T) {
			resp, err := verb()
			require.NoError(t, err)
			resp.Body.Close()
			h := <-seen
			require.Equal(t, "k-1", h.Get("Idempotency-Key"))
			require.Equal(t, []string{"mine"}, h.Values("X-Team"), "the request's own header wins over WithHeader")
		})
	}
}

// A bad request option is an error wrapping ErrInvalidOption that names
// the option (never quoting a value, often a credential); nothing is sent
// and the body is closed.
func TestBadRequestOption(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	t.Cleanup(srv.Close)
	s, err := throttle.NewSession()
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	cases := []struct {
		name string
		opt  throttle.RequestOption
		says string
	}{
		{"space in name", throttle.WithRequestHeader("Idempotency Key", "k"), `WithRequestHeader("Idempotency Key", ...): key has ' '`},
		{"empty name", throttle.WithRequestHeader("", "k"), "key must not be empty"},
		{"CRLF in value", throttle.WithRequestHeader("Authorization", "Bearer s3cret\r\nX-Evil: 1"), "control character '\\r' at byte 13"},
		{"LF in value", throttle.WithRequestHeader("X-Note", "a\nb"), "control character '\\n' at byte 1"},
		{"nil option", nil, "RequestOption(nil)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := &closeTracker{Reader: strings.NewReader("payload")}
			resp, err := s.Post(context.Background(), srv.URL, "text/plain", body, tc.opt)
			require.Nil(t, resp)
			require.ErrorIs(t, err, throttle.ErrInvalidOption)
			require.ErrorContains(t, err, tc.says)
			require.NotContains(t, err.Error(), "s3cret")
			require.True(t, body.closed.Load(), "body not closed")
			require.Zero(t, calls.Load(), "a request was sent")
		})
	}
}

// closeTracker is a one-shot body that records whether it was closed.
type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error { c.closed.Store(true); return nil }
