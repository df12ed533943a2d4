package throttle

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRedactURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://api.example.com/v1/items?page=2", "https://api.example.com/v1/items?page=2"},
		{"https://user:pw@api.example.com/v1", "https://user:xxxxx@api.example.com/v1"},
		{"https://api.example.com/v1?key=k1&page=2", "https://api.example.com/v1?key=REDACTED&page=2"},
		{"https://api.example.com/v1?page=2&API_KEY=k1", "https://api.example.com/v1?page=2&API_KEY=REDACTED"},
		{"https://api.example.com/v1?api%5Fkey=k1", "https://api.example.com/v1?api%5Fkey=REDACTED"},
		{"https://api.example.com/v1?a=1;token=t1", "https://api.example.com/v1?a=1;token=REDACTED"},
		{"https://api.example.com/v1?token=t1&token=t2&", "https://api.example.com/v1?token=REDACTED&token=REDACTED&"},
		{"https://api.example.com/v1?token", "https://api.example.com/v1?token"},
		{"https://api.example.com/v1?tokens=t1&mykey=k", "https://api.example.com/v1?tokens=t1&mykey=k"},
		{"https://api.example.com/cb#access_token=t1&state=s", "https://api.example.com/cb#access_token=REDACTED&state=s"},
		{"https://u:pw@api.example.com/v1?sig=s1#x", "https://u:xxxxx@api.example.com/v1?sig=REDACTED#x"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			u, err := url.Parse(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, redactURL(u))
			require.Equal(t, tc.want, redactURLString(tc.in))
		})
	}
	require.Empty(t, redactURL(nil))
}

func TestHasSecretParamDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if hasSecretParam("page=2&per_page=100&sort=created&q=go") {
			t.Fatal("no secret there")
		}
	})
	require.Zero(t, allocs)
}

// secretURLs are URLs whose secret is "s3cr3t", to host/path: one with a
// password, one per credential parameter name.
func secretURLs(hostPath string) map[string]string {
	urls := map[string]string{"password": "http://user:s3cr3t@" + hostPath}
	for _, name := range []string{"key", "api_key", "apikey", "token", "access_token", "sig", "signature",
		"password", "secret", "client_secret", "Access_Token", "API%5FKEY"} {
		urls["query "+name] = "http://" + hostPath + "?page=2&" + name + "=s3cr3t"
	}
	return urls
}

// Issue 7, item 13: no error that throttle builds shows a password or a
// credential query value, and the URL appears once in the error chain.
func TestNoSecretInErrors(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/pause":
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	retry := WithRetry(RetryPolicy{MaxRetries: 2, MinWait: time.Millisecond, MaxWait: time.Millisecond})

	paths := []struct {
		name, path string
		// netHTTPURL: the *url.Error is net/http's own (HTTPClient), whose
		// URL hides the password but not the query; only what it wraps is
		// throttle's text.
		netHTTPURL bool
		call       func(t *testing.T, rawURL string) error
		is         error
		says       string // what throttle's own text says
	}{
		{name: "closed/Session.Get", path: "/closed", is: ErrClosed, says: "session closed", call: func(t *testing.T, u string) error {
			s := newTestSession(t)
			s.Close()
			_, err := s.Get(context.Background(), u)
			return err
		}},
		{name: "closed/Session.Do", path: "/closed", is: ErrClosed, says: "session closed", call: func(t *testing.T, u string) error {
			s := newTestSession(t)
			s.Close()
			req, err := http.NewRequest(http.MethodPost, u, strings.NewReader("x"))
			require.NoError(t, err)
			_, err = s.Do(req)
			return err
		}},
		{name: "closed/HTTPClient.Get", path: "/closed", netHTTPURL: true, is: ErrClosed, says: "session closed", call: func(t *testing.T, u string) error {
			s := newTestSession(t)
			client := s.HTTPClient()
			s.Close()
			_, err := client.Get(u)
			return err
		}},
		{name: "retries/Session.Get", path: "/busy", says: "giving up after 3 attempt(s), last status 503", call: func(t *testing.T, u string) error {
			_, err := newTestSession(t, retry).Get(context.Background(), u)
			return err
		}},
		{name: "retries/HTTPClient.Get", path: "/busy", netHTTPURL: true, says: "giving up after 3 attempt(s), last status 503", call: func(t *testing.T, u string) error {
			_, err := newTestSession(t, retry).HTTPClient().Get(u)
			return err
		}},
		{name: "wait/rate limit cancelled", path: "/ok", is: context.Canceled, says: "waiting for the rate limit of host", call: func(t *testing.T, u string) error {
			s := newTestSession(t, WithHostRateLimit(1, time.Hour))
			resp, err := s.Get(context.Background(), u)
			require.NoError(t, err)
			drain(resp)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err = s.Get(ctx, u)
			return err
		}},
		{name: "wait/host paused past deadline", path: "/pause", is: ErrHostPaused, says: "is paused for", call: func(t *testing.T, u string) error {
			s := newTestSession(t)
			resp, err := s.Get(context.Background(), u)
			require.NoError(t, err)
			drain(resp)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err = s.Get(ctx, u)
			return err
		}},
	}
	for _, p := range paths {
		for name, rawURL := range secretURLs(host + p.path) {
			t.Run(p.name+"/"+name, func(t *testing.T) {
				err := p.call(t, rawURL)
				require.Error(t, err)
				if p.is != nil {
					require.ErrorIs(t, err, p.is)
				}
				var ue *url.Error
				require.ErrorAs(t, err, &ue, "every error of an http.Client call is a *url.Error")
				own := err.Error()
				if p.netHTTPURL && name != "password" {
					own = ue.Err.Error()
				}
				require.Contains(t, ue.Err.Error(), p.says)
				require.NotContains(t, own, "s3cr3t")
				require.Equal(t, 1, strings.Count(err.Error(), host+p.path), "the URL appears once in %q", err)
				var re *RetryError
				if errors.As(err, &re) {
					require.NotContains(t, re.URL, "s3cr3t")
					require.Contains(t, re.URL, host+p.path)
				}
			})
		}
	}
}

// The closed-session error of Do has the form http.Client gives every
// other error.
func TestClosedErrorIsURLError(t *testing.T) {
	s := newTestSession(t)
	s.Close()
	req, err := http.NewRequest(http.MethodPost, "http://u:pw@127.0.0.1:1/x?token=t", io.NopCloser(strings.NewReader("")))
	require.NoError(t, err)
	_, err = s.Do(req)
	require.EqualError(t, err, `Post "http://u:xxxxx@127.0.0.1:1/x?token=REDACTED": throttle: session closed`)
}
