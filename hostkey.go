package throttle

import (
	"net"
	"net/url"
	"strings"
)

// hostKey names the host an attempt counts against: the lowercased host
// name, plus the port when it is not the scheme's default, so that
// "API.example.com:443" and "api.example.com" share their limits over
// https while "localhost:8080" and "localhost:9090" do not. It allocates
// only when the URL's host needs rewriting.
func hostKey(u *url.URL) string {
	host := u.Host
	if !needsRewrite(host, u.Scheme) {
		return host
	}
	name, port := u.Hostname(), u.Port()
	name = strings.ToLower(name)
	if port == "" || port == defaultPort(u.Scheme) {
		if strings.Contains(name, ":") { // IPv6 literal
			return "[" + name + "]"
		}
		return name
	}
	return net.JoinHostPort(name, port)
}

// needsRewrite reports whether host has upper-case letters or ends in the
// scheme's default port: the common case, a lower-case host with no port,
// is used as it is.
func needsRewrite(host, scheme string) bool {
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			return true
		}
	}
	p := defaultPort(scheme)
	return p != "" && len(host) > len(p) && host[len(host)-len(p)-1] == ':' && host[len(host)-len(p):] == p
}

func defaultPort(scheme string) string {
	switch strings.ToLower(scheme) {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	}
	return ""
}
