package throttle

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// headerLog records, per host and path, the headers a request arrived
// with.
type headerLog struct {
	mu   sync.Mutex
	seen map[string]http.Header
}

func (l *headerLog) record(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = make(map[string]http.Header)
	}
	l.seen[r.Host+r.URL.Path] = r.Header.Clone()
}

func (l *headerLog) get(hostPath string) http.Header {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[hostPath]
}

// sends are the ways a caller sends a GET through a Session, plus
// net/http's own client with the headers on the caller's request: the
// behaviour the Session's must match.
var sends = []struct {
	name string
	get  func(s *Session, headers http.Header, rt http.RoundTripper, url string) (*http.Response, error)
}{
	{"Session.Get", func(s *Session, _ http.Header, _ http.RoundTripper, url string) (*http.Response, error) {
		return s.Get(context.Background(), url)
	}},
	{"HTTPClient.Get", func(s *Session, _ http.Header, _ http.RoundTripper, url string) (*http.Response, error) {
		return s.HTTPClient().Get(url)
	}},
	{"net/http with the request's own headers", func(_ *Session, h http.Header, rt http.RoundTripper, url string) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		req.Header = h.Clone()
		return (&http.Client{Transport: rt}).Do(req)
	}},
}

var defaultHeaders = http.Header{
	"Authorization": {"Bearer s3cr3t"},
	"Cookie":        {"session=s3cr3t"},
	"X-Client":      {"throttle-test"},
}

func headerOptions(h http.Header) []Option {
	var opts []Option
	for k, vs := range h {
		for _, v := range vs {
			opts = append(opts, WithHeader(k, v))
		}
	}
	return opts
}

// Issue 7, item 14: a default credential follows a redirect only where
// net/http lets the caller's own credential go. 127.0.0.1 and localhost
// are different hosts; two ports of one host name are the same host.
func TestDefaultHeadersFollowRedirectRules(t *testing.T) {
	var log headerLog
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.record(r)
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, "http://"+to+"/returned", http.StatusFound)
		}
	}))
	t.Cleanup(other.Close)
	otherPort := other.URL[strings.LastIndexByte(other.URL, ':')+1:]
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.record(r)
		switch r.URL.Path {
		case "/to-localhost":
			http.Redirect(w, r, "http://localhost:"+otherPort+"/landed", http.StatusFound)
		case "/to-other-port":
			http.Redirect(w, r, "http://127.0.0.1:"+otherPort+"/landed", http.StatusFound)
		case "/away-and-back":
			http.Redirect(w, r, "http://localhost:"+otherPort+"/back?to="+r.Host, http.StatusFound)
		}
	}))
	t.Cleanup(origin.Close)
	originHost := strings.TrimPrefix(origin.URL, "http://")

	cases := []struct {
		path, landed string
		credentials  bool
	}{
		{"/to-localhost", "localhost:" + otherPort + "/landed", false},
		{"/to-other-port", "127.0.0.1:" + otherPort + "/landed", true},
		{"/away-and-back", originHost + "/returned", false}, // net/http strips for good once a hop left the host
	}
	s := newTestSession(t, headerOptions(defaultHeaders)...)
	for _, send := range sends {
		for _, tc := range cases {
			t.Run(send.name+tc.path, func(t *testing.T) {
				resp, err := send.get(s, defaultHeaders, http.DefaultTransport, origin.URL+tc.path)
				require.NoError(t, err)
				drain(resp)
				first := log.get(originHost + tc.path)
				require.Equal(t, "Bearer s3cr3t", first.Get("Authorization"), "the first request carries the credentials")
				got := log.get(tc.landed)
				require.NotNil(t, got, "the redirect reached %s", tc.landed)
				require.Equal(t, "throttle-test", got.Get("X-Client"), "a plain header follows every redirect")
				if tc.credentials {
					require.Equal(t, "Bearer s3cr3t", got.Get("Authorization"))
					require.Equal(t, "session=s3cr3t", got.Get("Cookie"))
				} else {
					require.Empty(t, got.Values("Authorization"), "Authorization went to another host")
					require.Empty(t, got.Values("Cookie"), "Cookie went to another host")
				}
			})
		}
	}
}

// redirectScript is a base RoundTripper that answers from a script of
// redirects, so that any host name can be tried, and records the headers
// each URL was sent with.
type redirectScript struct {
	hops map[string]redirectHop // by URL; a URL not in it answers 200
	log  headerLog
}

type redirectHop struct {
	status   int
	location string
}

func (rs *redirectScript) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	rs.log.mu.Lock()
	if rs.log.seen == nil {
		rs.log.seen = make(map[string]http.Header)
	}
	rs.log.seen[req.URL.String()] = req.Header.Clone()
	rs.log.mu.Unlock()
	resp := &http.Response{StatusCode: http.StatusOK, Header: make(http.Header), Body: http.NoBody, Request: req}
	if hop, ok := rs.hops[req.URL.String()]; ok {
		resp.StatusCode = hop.status
		resp.Header.Set("Location", hop.location)
	}
	return resp, nil
}

// The rule HTTPClient applies on each hop is net/http's, hop for hop:
// subdomains, look-alike names, case, ports, IPv6, a hop that comes back,
// and a 303 that drops the body's headers. Each chain is sent through
// net/http with the headers on the request, and through the Session with
// them as defaults; every hop must get the same headers both ways.
func TestRedirectHeadersMatchNetHTTP(t *testing.T) {
	chains := map[string][]string{
		"subdomain":      {"https://example.com/a", "https://api.example.com/b"},
		"parent":         {"https://api.example.com/a", "https://example.com/b"},
		"look-alike":     {"https://example.com/a", "https://badexample.com/b"},
		"case":           {"https://example.com/a", "https://EXAMPLE.com/b"},
		"port":           {"https://example.com/a", "https://example.com:8443/b"},
		"ipv6 port":      {"http://[::1]:8080/a", "http://[::1]:9090/b"},
		"away and back":  {"https://example.com/a", "https://other.test/b", "https://example.com/c"},
		"idn":            {"https://bücher.example/a", "https://xn--bcher-kva.example/b"},
		"same idn":       {"https://bücher.example/a", "https://bücher.example:8443/b"},
		"scheme":         {"https://example.com/a", "http://example.com/b"},
		"three in house": {"https://example.com/a", "https://a.example.com/b", "https://b.a.example.com/c"},
	}
	headers := http.Header{
		"Authorization":    {"Bearer s3cr3t"},
		"Cookie":           {"c=1"},
		"Content-Language": {"en"},
		"X-Client":         {"throttle-test"},
	}
	for name, chain := range chains {
		for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
			t.Run(name+"/"+http.StatusText(status), func(t *testing.T) {
				hops := make(map[string]redirectHop)
				for i := 0; i+1 < len(chain); i++ {
					hops[mustParse(t, chain[i])] = redirectHop{status, chain[i+1]}
				}
				var want map[string]http.Header
				for _, send := range sends {
					rs := &redirectScript{hops: hops}
					s := newTestSession(t, append(headerOptions(headers), WithTransport(rs))...)
					resp, err := send.get(s, headers, rs, chain[0])
					require.NoError(t, err, send.name)
					drain(resp)
					got := rs.log.seen
					require.Len(t, got, len(chain), send.name)
					if want == nil {
						want = got // the first is compared with net/http last
						continue
					}
					require.Equal(t, want, got, "%s sent other headers than the Session did", send.name)
				}
			})
		}
	}
}

// mustParse returns rawURL as url.URL.String writes it.
func mustParse(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	return u.String()
}

// The clients of HTTPClient add the defaults also to requests that set
// none, and never to the caller's own request.
func TestHTTPClientDefaultHeadersDoNotTouchRequest(t *testing.T) {
	rs := &redirectScript{hops: map[string]redirectHop{"https://example.com/a": {http.StatusSeeOther, "https://example.com/b"}}}
	s := newTestSession(t, WithHeader("X-Client", "t"), WithHeader("Content-Language", "en"), WithTransport(rs))
	req, err := http.NewRequest(http.MethodPost, "https://example.com/a", strings.NewReader("body"))
	require.NoError(t, err)
	req.Header = nil
	resp, err := s.HTTPClient().Do(req)
	require.NoError(t, err)
	drain(resp)
	require.Nil(t, req.Header, "the caller's request was modified")
	require.Equal(t, "en", rs.log.get("https://example.com/a").Get("Content-Language"))
	require.Empty(t, rs.log.get("https://example.com/b").Values("Content-Language"), "a 303 drops the body's headers")
	require.Equal(t, "t", rs.log.get("https://example.com/b").Get("X-Client"))
}

func TestWithHeaderRefusesWhatNetHTTPCannotSend(t *testing.T) {
	bad := []struct{ key, value, want string }{
		{"", "v", `WithHeader("")`},
		{"X Name", "v", `WithHeader("X Name"): key has ' ' at byte 1`},
		{"X-Name:", "v", `WithHeader("X-Name:")`},
		{"X-Bücher", "v", `WithHeader("X-Bücher")`},
		{"X-Token", "s3cr3t\r\nX-Injected: 1", `WithHeader("X-Token", ...): value has control character '\r' at byte 6`},
		{"X-Token", "s3cr3t\nX-Injected: 1", `'\n'`},
		{"X-Token", "s3cr3t\x00", `'\x00'`},
		{"X-Token", "s3cr3t\x7f", `'\x7f'`},
	}
	for _, tc := range bad {
		t.Run(tc.want, func(t *testing.T) {
			_, err := NewSession(WithHeader(tc.key, tc.value))
			require.ErrorIs(t, err, ErrInvalidOption)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "s3cr3t", "the value may be a credential")
		})
	}
	_, err := NewSession(WithHeader("X-Ok_~!#$%&'*+.^`|", "a value\twith a tab"))
	require.NoError(t, err)
}

// A redirect hop whose chain back to the first request is broken gets no
// credential and no body header: the first host is unknown.
func TestRedirectHeadersBrokenChain(t *testing.T) {
	first, err := http.NewRequest(http.MethodGet, "https://example.com/a", nil)
	require.NoError(t, err)
	hop, err := http.NewRequest(http.MethodGet, "https://example.com/b", nil)
	require.NoError(t, err)
	hop.Response = &http.Response{StatusCode: http.StatusTemporaryRedirect, Request: first}
	require.Equal(t, redirectDrop{}, redirectHeaders(hop), "the same host keeps everything on a 307")
	hop.Response.Request = nil
	require.Equal(t, redirectDrop{sensitive: true, body: true}, redirectHeaders(hop))
}
