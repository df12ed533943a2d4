// Package throttle is an HTTP client that calls APIs politely and fast: a
// Session that puts every request through a request-rate limit, global and
// per-host concurrency limits, byte-rate limits on request and response
// bodies, and retries, and a Transport that does the same as a plain
// http.RoundTripper for any SDK that takes an *http.Client.
//
// Each attempt (every retry and redirect hop included) passes the limits
// when it is sent, not when it is queued, narrowest first: its host's
// concurrency slot, then its host's rate token; the session's slot, then
// the session's token; then its bodies are wrapped in the byte-rate
// limits, and it is handed to the base RoundTripper. A slot is held until
// the response body is read to EOF, closed, or fails; the backoff sleep
// between retries holds nothing. A caller whose context ends while waiting
// gets an error wrapping ctx.Err() and everything it had taken is given
// back.
//
// Retries run on github.com/hashicorp/go-retryablehttp, given only bodies
// that can be replayed (bytes, strings, files, GetBody, Payload and
// Multipart over such sources), so a streamed upload is never read into
// memory; a one-shot stream is sent once. Token buckets come from
// golang.org/x/time/rate; the strict window limiter, the semaphores and
// their composition are in the subpackages ratelimit and semaphore, which
// work on their own.
package throttle
