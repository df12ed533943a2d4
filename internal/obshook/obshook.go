// Package obshook lets otelthrottle ask package throttle for what its
// public options do not give: the Transport itself, to read its figures
// when a metrics reader asks, and each response as the base RoundTripper
// returns it, to annotate the client span a tracing RoundTripper made.
// Being internal, it is no part of throttle's API.
package obshook

import "net/http"

// Hooks are what an integration asks of a Transport. Either may be nil.
type Hooks struct {
	// Attach is called with the *throttle.Transport once it is built; the
	// func it returns, if not nil, is called once by the Transport's
	// Close.
	Attach func(transport any) (detach func())
	// Answered is called for each observed attempt that got a response,
	// on the caller's goroutine, with the request handed to the base
	// RoundTripper, its response and the attempt's number (1 for the
	// first, 2 for the first retry).
	Answered func(sent *http.Request, resp *http.Response, attempt int)
	// Options are throttle.Options applied with the hooks, so that one
	// Option installs an integration whole.
	Options []any
}

// Option returns a throttle.Option, as an any, that installs h. Package
// throttle sets it in its init, so it is set wherever throttle is
// imported.
var Option func(h Hooks) any
