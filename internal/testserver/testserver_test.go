package testserver

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// failRecorder is a testing.TB that records Errorf instead of failing.
type failRecorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (f *failRecorder) Helper() {}

func (f *failRecorder) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

// A handler that never returns fails the test after the wait, instead of
// hanging the binary in httptest.Server.Close.
func TestCloseFailsInsteadOfHanging(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	srv := Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	}))
	go http.Get(srv.URL)
	<-entered

	rec := &failRecorder{TB: t}
	start := time.Now()
	closeWithin(rec, srv, 100*time.Millisecond)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("closeWithin took %v", d)
	}
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "never released") {
		t.Errorf("errors = %q, want one naming the unreleased handler", rec.errs)
	}
	close(release) // now the server's Close, still running, can finish
}
