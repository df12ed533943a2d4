package throttle

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A request body whose Read blocks (a pipe nobody writes to) cannot hold
// the call past its attempt timeout or its context's deadline, with or
// without retries: the body is closed when the attempt's context ends.
func TestStalledBodyEndsWithItsTimeout(t *testing.T) {
	const limit = 300 * time.Millisecond
	cases := []struct {
		name     string
		timeout  bool // WithTimeout(limit); otherwise a context deadline of limit
		retry    bool
		getBody  bool // a replayable body (GetBody), retried through the retry layer
		viaTrans bool // a plain http.Client over a Transport
		want     error
	}{
		{name: "WithTimeout", timeout: true, want: ErrAttemptTimeout},
		{name: "deadline", want: context.DeadlineExceeded},
		{name: "WithTimeout+retry", timeout: true, retry: true, want: ErrAttemptTimeout},
		{name: "deadline+retry", retry: true, want: context.DeadlineExceeded},
		{name: "WithTimeout+retry+GetBody", timeout: true, retry: true, getBody: true, want: ErrAttemptTimeout},
		{name: "deadline+retry+GetBody", retry: true, getBody: true, want: context.DeadlineExceeded},
		{name: "Transport WithTimeout", timeout: true, viaTrans: true, want: ErrAttemptTimeout},
		{name: "Transport deadline", viaTrans: true, want: context.DeadlineExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The server reads the body until the client gives up on it.
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
			})
			var pipes []*io.PipeWriter
			var mu sync.Mutex
			stalled := func() io.ReadCloser {
				pr, pw := io.Pipe()
				mu.Lock()
				pipes = append(pipes, pw)
				mu.Unlock()
				return pr
			}
			t.Cleanup(func() { // unblocks a Read the fix did not, so the test fails rather than leaks
				mu.Lock()
				defer mu.Unlock()
				for _, pw := range pipes {
					pw.Close()
				}
			})

			var opts []Option
			if tc.timeout {
				opts = append(opts, WithTimeout(limit))
			}
			if tc.retry {
				opts = append(opts, WithRetry(RetryPolicy{MaxRetries: 2, MinWait: time.Millisecond, MaxWait: time.Millisecond}))
			}
			ctx := context.Background()
			if !tc.timeout {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, limit)
				defer cancel()
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, rec.URL, stalled())
			require.NoError(t, err)
			if tc.getBody {
				req.GetBody = func() (io.ReadCloser, error) { return stalled(), nil }
			}
			var do func(*http.Request) (*http.Response, error)
			if tc.viaTrans {
				tr, err := NewTransport(nil, opts...)
				require.NoError(t, err)
				t.Cleanup(func() { tr.Close() })
				do = (&http.Client{Transport: tr}).Do
			} else {
				do = newTestSession(t, opts...).Do
			}

			start := time.Now()
			o := awaitCall(t, runCall(func() (*http.Response, error) { return do(req) }), "the call with a stalled body")
			elapsed := time.Since(start)
			require.Error(t, o.err)
			require.True(t, errors.Is(o.err, tc.want), "error %v does not wrap %v", o.err, tc.want)
			attempts := 1
			if tc.retry && tc.getBody && tc.timeout {
				attempts = 3 // each attempt times out on its own and is retried
			}
			require.Less(t, elapsed, time.Duration(attempts)*limit+3*time.Second)
		})
	}
}
