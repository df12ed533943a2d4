package throttle

import (
	"net/url"
	"strings"
)

// redactURL is u as throttle's error texts show it: URL.Redacted (the
// password replaced), with the values of query (and fragment) parameters
// whose names say they are credentials replaced by "REDACTED". It runs
// only when an error is built; a URL with nothing to hide costs what
// u.Redacted costs.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	frag := u.EscapedFragment()
	if !hasSecretParam(u.RawQuery) && !hasSecretParam(frag) {
		return u.Redacted()
	}
	ru := *u
	ru.RawQuery, ru.ForceQuery, ru.Fragment, ru.RawFragment = "", false, "", ""
	s := ru.Redacted()
	if u.ForceQuery || u.RawQuery != "" {
		s += "?" + redactParams(u.RawQuery)
	}
	if frag != "" {
		s += "#" + redactParams(frag)
	}
	return s
}

// redactURLString redacts a URL that net/http has already turned into a
// string (the URL of a *url.Error). A string that does not parse is left
// as it is: net/http only puts URLs it has parsed there.
func redactURLString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return redactURL(u)
}

// secretParams are the parameter names whose values are credentials,
// compared case-insensitively after unescaping.
var secretParams = []string{
	"key", "api_key", "apikey", "api-key", "x-api-key",
	"token", "access_token", "refresh_token", "id_token",
	"sig", "signature", "x-amz-signature", "x-amz-security-token", "x-goog-signature",
	"password", "secret", "client_secret",
}

// hasSecretParam reports whether the raw query q has a parameter named in
// secretParams. It does not allocate unless a name is escaped.
func hasSecretParam(q string) bool {
	for q != "" {
		var param string
		param, q = nextParam(q)
		if name, _, _ := strings.Cut(param, "="); isSecretParam(name) {
			return true
		}
	}
	return false
}

// redactParams returns the raw query q with the values of its secret
// parameters replaced by "REDACTED", keeping every other byte as it was.
func redactParams(q string) string {
	var b strings.Builder
	for q != "" {
		param, rest := nextParam(q)
		name, _, hasValue := strings.Cut(param, "=")
		if hasValue && isSecretParam(name) {
			b.WriteString(name)
			b.WriteString("=REDACTED")
		} else {
			b.WriteString(param)
		}
		if len(rest) < len(q)-len(param) { // a separator follows param
			b.WriteByte(q[len(param)])
		}
		q = rest
	}
	return b.String()
}

// nextParam splits the first parameter off the raw query q. Both '&' and
// ';' end a parameter: Go's servers no longer split on ';', but others do,
// and a name hidden behind one must not slip through.
func nextParam(q string) (param, rest string) {
	i := strings.IndexAny(q, "&;")
	if i < 0 {
		return q, ""
	}
	return q[:i], q[i+1:]
}

func isSecretParam(raw string) bool {
	name := raw
	if strings.ContainsAny(raw, "%+") {
		if n, err := url.QueryUnescape(raw); err == nil {
			name = n
		}
	}
	name = strings.TrimSpace(name)
	for _, s := range secretParams {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

// urlErrorOp is the Op of the *url.Error http.Client returns for method:
// "Get" for GET.
func urlErrorOp(method string) string {
	if method == "" {
		return "Get"
	}
	if !isASCII(method) {
		return method
	}
	return method[:1] + strings.ToLower(method[1:])
}
