package throttle

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkRoundTrip measures one GET through a Session against one
// through a bare http.Client, on the same loopback server in the same run.
// impl=session has no limits; impl=limited has every limit set loose
// enough never to wait, so it measures their bookkeeping; impl=observed
// is impl=session with an observer that does nothing.
func BenchmarkRoundTrip(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	for _, impl := range benchClients(b) {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchGet(b, impl.do, srv.URL)
			}
		})
		b.Run("impl="+impl.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					benchGet(b, impl.do, srv.URL)
				}
			})
		})
		impl.close()
	}
}

type benchClient struct {
	name  string
	do    func(*http.Request) (*http.Response, error)
	close func()
}

func benchClients(b *testing.B) []benchClient {
	bare := &http.Client{Transport: defaultBase(&config{})}
	unlimited, err := NewSession()
	if err != nil {
		b.Fatal(err)
	}
	limited, err := NewSession(
		WithRateLimit(1<<30, time.Second), WithHostRateLimit(1<<30, time.Second),
		WithMaxConcurrency(1<<20), WithHostConcurrency(1<<20),
		WithUploadLimit(1<<40), WithDownloadLimit(1<<40),
	)
	if err != nil {
		b.Fatal(err)
	}
	// observed is session with an observer that does nothing: what the
	// events cost (session, with none, must cost what it did before them).
	observed, err := NewSession(WithObserver(func(Event) {}))
	if err != nil {
		b.Fatal(err)
	}
	// static is session without the adaptive limits: what they cost a
	// host that never rejects.
	static, err := NewSession(WithAdaptive(false))
	if err != nil {
		b.Fatal(err)
	}
	return []benchClient{
		{"session", unlimited.Do, func() { unlimited.Close() }},
		{"static", static.Do, func() { static.Close() }},
		{"bare", bare.Do, bare.CloseIdleConnections},
		{"limited", limited.Do, func() { limited.Close() }},
		{"observed", observed.Do, func() { observed.Close() }},
	}
}

func benchGet(b *testing.B, do func(*http.Request) (*http.Response, error), url string) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
