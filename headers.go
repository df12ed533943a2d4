package throttle

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/idna"
)

// withHeaders returns req with the session's default headers added where
// req does not set them, except those drop names: a copy, since neither
// Do nor a RoundTripper may modify the caller's request.
func (s *Session) withHeaders(req *http.Request, drop redirectDrop) *http.Request {
	defaults := s.cfg.headers
	missing := false
	for k := range defaults {
		if _, ok := req.Header[k]; !ok && !drop.drops(k) {
			missing = true
			break
		}
	}
	if !missing {
		return req
	}
	r2 := *req
	r2.Header = req.Header.Clone()
	if r2.Header == nil {
		r2.Header = make(http.Header, len(defaults))
	}
	for k, vs := range defaults {
		if _, ok := r2.Header[k]; !ok && !drop.drops(k) {
			r2.Header[k] = vs
		}
	}
	return &r2
}

// redirectDrop says which of the first request's headers net/http's
// Client does not copy onto a redirect hop (makeHeadersCopier in its
// client.go).
type redirectDrop struct {
	// sensitive: credentials, once a hop has left the first request's host
	// and its subdomains.
	sensitive bool
	// body: the body's description, once a 301, 302 or 303 dropped it.
	body bool
}

func (d redirectDrop) drops(key string) bool {
	switch key {
	case "Authorization", "Www-Authenticate", "Cookie", "Cookie2", "Proxy-Authorization", "Proxy-Authenticate":
		return d.sensitive
	case "Content-Encoding", "Content-Language", "Content-Location", "Content-Type":
		return d.body
	}
	return false
}

// redirectHeaders works out, for a request that net/http's Client made to
// follow a redirect, what it would have dropped had the session's headers
// been on the caller's own request. The requests sent through HTTPClient
// need it: net/http copies the caller's request's headers onto each hop,
// and the defaults were never on it, so the session adds them on every hop
// under net/http's rules. A first request (req.Response is nil) drops
// nothing.
//
// It walks back through req.Response.Request (sessionRoundTripper sets it
// to the hop's request) to the first request. A chain it cannot follow
// drops everything it might have to.
func redirectHeaders(req *http.Request) redirectDrop {
	var d redirectDrop
	first := req
	if req.URL == nil {
		return redirectDrop{sensitive: true, body: true}
	}
	for first.Response != nil {
		switch first.Response.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
			d.body = true
		}
		prev := first.Response.Request
		if prev == nil || prev.URL == nil {
			return redirectDrop{sensitive: true, body: true}
		}
		first = prev
	}
	// Once a hop leaves the first host, net/http strips the credentials
	// from every later hop too, even one that comes back.
	for r := req; r != first; r = r.Response.Request {
		if r.URL.Host != first.URL.Host && !shouldCopyHeaderOnRedirect(first.URL, r.URL) {
			d.sensitive = true
		}
	}
	return d
}

// shouldCopyHeaderOnRedirect is net/http's rule: credentials set on the
// first request go to its host and its subdomains, compared by host name
// without the port, IDN names in their ASCII form.
func shouldCopyHeaderOnRedirect(initial, dest *url.URL) bool {
	return isDomainOrSubdomain(asciiHostname(dest), asciiHostname(initial))
}

// asciiHostname is u's host name in the ASCII form net/http compares, or
// as it is when it has none.
func asciiHostname(u *url.URL) string {
	h := u.Hostname()
	if isASCII(h) {
		return h
	}
	if a, err := idna.Lookup.ToASCII(h); err == nil {
		return a
	}
	return h
}

// isDomainOrSubdomain is net/http's: sub equals parent or ends in
// "."+parent, and an IPv6 address (or zone) is never a subdomain.
func isDomainOrSubdomain(sub, parent string) bool {
	if sub == parent {
		return true
	}
	if strings.ContainsAny(sub, ":%") {
		return false
	}
	if !strings.HasSuffix(sub, parent) {
		return false
	}
	return sub[len(sub)-len(parent)-1] == '.'
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// headerNameProblem says why net/http's Transport would refuse key as a
// header name (httpguts.ValidHeaderFieldName), or "".
func headerNameProblem(key string) string {
	if key == "" {
		return "key must not be empty"
	}
	if httpguts.ValidHeaderFieldName(key) {
		return ""
	}
	i := 0
	for i < len(key) && httpguts.IsTokenRune(rune(key[i])) {
		i++
	}
	return fmt.Sprintf("key has %q at byte %d, which a header name must not contain", key[i], i)
}

// headerValueProblem says why net/http's Transport would refuse value
// (httpguts.ValidHeaderFieldValue), or "". It does not quote the value,
// which is often a credential.
func headerValueProblem(value string) string {
	if httpguts.ValidHeaderFieldValue(value) {
		return ""
	}
	i := 0
	for b := value[0]; (b >= ' ' || b == '\t') && b != 0x7f; b = value[i] {
		i++
	}
	return fmt.Sprintf("value has control character %q at byte %d (of CR, LF, NUL and the other controls only a tab is allowed)", value[i], i)
}
