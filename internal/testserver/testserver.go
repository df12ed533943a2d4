// Package testserver starts the loopback HTTP servers that throttle's
// tests run against, with a cleanup that cannot hang the test binary.
package testserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// CloseWait bounds how long a test's cleanup waits for the server's
// handlers to return.
const CloseWait = 10 * time.Second

// Start starts an httptest server on 127.0.0.1 running h and closes it
// when the test ends.
//
// httptest.Server.Close waits for every running handler. A handler that
// blocks on something only the test body releases (a channel the test
// closes after its assertions) would hang the whole test binary when an
// assertion fails first, since t.Cleanup runs after the body has
// returned. So the cleanup waits at most CloseWait, then fails the test
// naming the cause instead; the handler goroutines it leaves behind are
// reported by goleak too. Tests should still release such handlers with
// defer, which runs before any cleanup.
func Start(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() { Close(t, srv) })
	return srv
}

// Close closes srv, waiting at most CloseWait for its handlers, and fails
// t if they are still running then.
func Close(t testing.TB, srv *httptest.Server) {
	t.Helper()
	closeWithin(t, srv, CloseWait)
}

func closeWithin(t testing.TB, srv *httptest.Server, wait time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		srv.Close()
		close(done)
	}()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		srv.CloseClientConnections()
		t.Errorf("testserver: handlers of %s still running %v after the test ended: a handler waits on something the test never released", srv.URL, wait)
	}
}
