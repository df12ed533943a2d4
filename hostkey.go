package throttle

import (
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// hostKey names the host an attempt counts against: its URL's host in the
// form normalHost gives, which is also the form of the hosts that
// WithRateLimitFor and WithHostConcurrencyFor name, so that an override
// and the requests it is meant for meet at one key.
//
// It allocates only when the host needs rewriting (upper case, an IDN, a
// port with leading zeros); the common case, a lower-case host with or
// without a port, is u.Host or a prefix of it.
func hostKey(u *url.URL) string {
	key, err := normalHost(u.Host)
	if err != nil {
		// url.Parse let it through and net/http will say what is wrong
		// with it when it dials; until then it counts as itself.
		return strings.ToLower(u.Host)
	}
	return key
}

// Why a host cannot be normalised. They are values, so that a request's
// odd host costs no allocation; hostOption puts them into its error.
var (
	errEmptyHost  = errors.New("the host name is empty")
	errHostChar   = errors.New("a host name has no spaces, control characters or any of / ? # @ [ ] \\ %")
	errBadPort    = errors.New("the port must be a number from 1 to 65535")
	errBadIPv6    = errors.New("an address in brackets must be an IPv6 address")
	errIDN        = errors.New("not a valid internationalised domain name")
	errAfterIPv6  = errors.New(`only ":port" may follow "]"`)
	errOpenIPv6   = errors.New(`"[" without "]"`)
	errManyColons = errors.New("a port needs exactly one colon (put an IPv6 address in brackets)")
)

// normalHost returns the key of a host as a URL gives it ("name",
// "name:port", "[v6]" or "[v6]:port"; an option may also give a bare IPv6
// address, "::1"). It is the one normalisation of host keys, for requests
// and options alike:
//
//   - the name is lower-cased, and an internationalised name is put in its
//     ASCII (punycode) form as net/http dials it (idna.Lookup); an ASCII
//     name is taken as it is, as net/http takes it;
//   - an IPv6 address is put in its canonical form, in brackets;
//   - the port loses any leading zeros, and is dropped when it is 80 or
//     443, whatever the scheme: ports 80 and 443 are the host's standard
//     web ports and count as one host, so "h", "h:80" and "h:443" are one
//     key and http://h, https://h and http://h:443 share it; any other
//     port makes a host of its own. (An empty port, "h:", is none.)
//
// It allocates only when the result differs from the input or a prefix of
// it.
func normalHost(hostport string) (string, error) {
	if hostport == "" {
		return "", errEmptyHost
	}
	name, port, hasPort := strings.Cut(hostport, ":")
	if hostport[0] == '[' || hasPort && strings.IndexByte(port, ':') >= 0 {
		return normalIPv6(hostport)
	}
	key, err := normalName(name)
	if err != nil {
		return "", err
	}
	p, err := normalPort(port)
	switch {
	case err != nil:
		return "", err
	case p == "":
		return key, nil // name, unchanged, is a prefix of hostport
	case key == name && p == port:
		return hostport, nil
	}
	return key + ":" + p, nil
}

// normalName lower-cases a host name, or puts an internationalised one in
// its ASCII form; it refuses characters no host name has.
func normalName(name string) (string, error) {
	if name == "" {
		return "", errEmptyHost
	}
	var seen byteClass
	for i := 0; i < len(name); i++ {
		seen |= hostByte[name[i]]
	}
	switch {
	case seen&badByte != 0:
		return "", errHostChar
	case seen&nonASCII != 0:
		key, err := idna.Lookup.ToASCII(name)
		if err != nil {
			return "", errIDN
		}
		return key, nil
	case seen&upperByte != 0:
		return strings.ToLower(name), nil
	}
	return name, nil
}

// byteClass says what a byte of a host name asks of normalName.
type byteClass uint8

const (
	upperByte byteClass = 1 << iota // an ASCII upper-case letter
	nonASCII                        // part of a UTF-8 sequence: an IDN
	badByte                         // no host name has it
)

// hostByte classifies every byte at once, so that the common host costs
// one table look-up per byte.
var hostByte = func() (t [256]byteClass) {
	for c := range 256 {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = nonASCII
		case 'A' <= c && c <= 'Z':
			t[c] = upperByte
		case c <= ' ' || c == 0x7f || strings.IndexByte(`/?#@[]\%`, byte(c)) >= 0:
			t[c] = badByte
		}
	}
	return t
}()

// normalPort returns port without leading zeros, or "" for no port, 80
// and 443.
func normalPort(port string) (string, error) {
	if port == "" {
		return "", nil
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return "", errBadPort
		}
	}
	n, err := strconv.Atoi(port)
	switch {
	case err != nil || n < 1 || n > 65535:
		return "", errBadPort
	case n == 80 || n == 443:
		return "", nil
	case port[0] == '0':
		return strconv.Itoa(n), nil
	}
	return port, nil
}

// normalIPv6 is normalHost for an IPv6 address: "[v6]", "[v6]:port", or
// a bare "v6" (no port possible).
func normalIPv6(hostport string) (string, error) {
	addr, port := hostport, ""
	if hostport[0] == '[' {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return "", errOpenIPv6
		}
		addr = hostport[1:end]
		if rest := hostport[end+1:]; rest != "" {
			if rest[0] != ':' {
				return "", errAfterIPv6
			}
			port = rest[1:]
		}
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Is6() {
		if hostport[0] != '[' {
			return "", errManyColons
		}
		return "", errBadIPv6
	}
	p, err := normalPort(port)
	if err != nil {
		return "", err
	}
	// Compare the canonical form in a stack buffer, so that a canonical
	// address with its port as given costs nothing.
	var buf [64]byte
	canon := ip.AppendTo(buf[:0])
	if hostport[0] == '[' && string(canon) == addr {
		if p == "" {
			return hostport[:len(addr)+2], nil
		}
		if p == port {
			return hostport, nil
		}
	}
	key := "[" + string(canon) + "]"
	if p != "" {
		key += ":" + p
	}
	return key, nil
}

// hostOption checks and normalises the host of a per-host option (name is
// the option) by normalHost, the rule of request keys. It refuses, naming
// the caller's value, every form that could never match a request: an
// empty host, spaces, a scheme or a path, a bad port, anything
// normalHost cannot read.
func hostOption(name, host string) (string, error) {
	const form = `give a host name or address, with a port when it is not 80 or 443 ("api.example.com", "localhost:8080", "[::1]:8443")`
	var problem string
	switch {
	case strings.TrimSpace(host) == "":
		problem = "the host is empty"
	case strings.ContainsFunc(host, unicode.IsSpace):
		problem = "a host has no spaces"
	case strings.Contains(host, "://"):
		problem = "a host has no scheme"
	case strings.ContainsAny(host, "/?#"):
		problem = "a host has no path, query or fragment"
	case strings.HasSuffix(host, ":"):
		problem = errBadPort.Error()
	}
	if problem != "" {
		return "", invalidOption(name, quote(host), problem+": "+form)
	}
	key, err := normalHost(host)
	if err != nil {
		return "", invalidOption(name, quote(host), err.Error()+": "+form)
	}
	return key, nil
}
