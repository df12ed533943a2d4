package throttle

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// A RequestOption sets something on the one request a Session verb (Get,
// Head, Delete, Post, Put, Patch) sends, such as a header with
// WithRequestHeader. Like Option, it is a closed set made by this
// package's functions. A verb given a bad RequestOption (or a nil one)
// sends nothing: it closes the body and returns an error wrapping
// ErrInvalidOption that names the option and the caller's value.
type RequestOption interface {
	applyRequest(req *http.Request) error
}

type requestOption func(req *http.Request) error

func (o requestOption) applyRequest(req *http.Request) error { return o(req) }

// WithRequestHeader sets the header key to value on the request, replacing
// any value the verb or the session's WithHeader would give that key. Use
// it for what belongs to one request, such as an Idempotency-Key, which
// lets the retry policy retry a POST or PATCH after a 5xx or a connection
// error (see DefaultRetryPolicy).
//
// key must be a valid header name (a token, as net/http requires) and
// value must hold no control character other than a tab (so no CR or LF,
// which would let it end the header line); otherwise the verb fails as
// RequestOption says. The value is never quoted in the error, since it is
// often a credential.
func WithRequestHeader(key, value string) RequestOption {
	problem := headerFieldProblem(key, value)
	return requestOption(func(req *http.Request) error {
		if problem != "" {
			return invalidOption("WithRequestHeader", strconv.Quote(key)+", ...", problem)
		}
		req.Header.Set(key, value)
		return nil
	})
}

// applyRequestOptions applies opts to req in order, stopping at the first
// bad one.
func applyRequestOptions(req *http.Request, opts []RequestOption) error {
	for _, o := range opts {
		if o == nil {
			return invalidOption("RequestOption", "nil", "option must not be nil")
		}
		if err := o.applyRequest(req); err != nil {
			return err
		}
	}
	return nil
}

// headerFieldProblem says why net/http would refuse key: value as a
// request header (its httpguts.ValidHeaderFieldName and
// ValidHeaderFieldValue rules), or "".
func headerFieldProblem(key, value string) string {
	if key == "" {
		return "key must not be empty"
	}
	for i := 0; i < len(key); i++ {
		if !isHeaderTokenChar(key[i]) {
			return fmt.Sprintf("key has %q at byte %d, which a header name must not contain", key[i], i)
		}
	}
	for i := 0; i < len(value); i++ {
		if b := value[i]; b < ' ' && b != '\t' || b == 0x7f {
			return fmt.Sprintf("value has control character %q at byte %d (of CR, LF, NUL and the other controls only a tab is allowed)", b, i)
		}
	}
	return ""
}

// isHeaderTokenChar reports whether b may appear in a header name: RFC
// 9110's tchar.
func isHeaderTokenChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}
