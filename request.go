package throttle

import (
	"net/http"
	"strconv"
)

// A RequestOption sets something on the one request a Session verb (Get,
// Head, Delete, Post, Put, Patch) sends, such as a header with
// WithRequestHeader. Like Option, it is a closed set made by this
// package's functions. A verb given a bad RequestOption (or a nil one)
// sends nothing: it closes the body and returns an error wrapping
// ErrInvalidOption that names the option and the caller's value. The zero
// value, a nil RequestOption, is such a bad option.
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
	problem := headerNameProblem(key)
	if problem == "" {
		problem = headerValueProblem(value)
	}
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
