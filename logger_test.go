package throttle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// logBuffer is a JSON slog handler's output, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// records parses every record logged.
func (l *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		out = append(out, m)
	}
	return out
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func loggedSession(t *testing.T, level slog.Level, opts ...Option) (*Session, *logBuffer) {
	t.Helper()
	buf := &logBuffer{}
	l := slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: level}))
	return newTestSession(t, append(opts, WithLogger(l))...), buf
}

// At Debug every attempt is logged; the pause at Info; no credential of
// the URL reaches the log.
func TestWithLoggerDebug(t *testing.T) {
	var calls atomic.Int64
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0.05")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	s, buf := loggedSession(t, slog.LevelDebug, WithRetry(RetryPolicy{MaxRetries: 2}))
	u := mustURL(t, rec.URL)
	u.User = url.UserPassword("me", "hunter2")
	u.RawQuery = "api_key=s3cr3t&page=2"
	status, err := getOne(context.Background(), s, u.String())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	out := buf.String()
	require.NotContains(t, out, "hunter2")
	require.NotContains(t, out, "s3cr3t")
	var msgs []string
	for _, r := range buf.records(t) {
		msgs = append(msgs, fmt.Sprint(r["level"], " ", r["msg"]))
		require.Equal(t, hostKey(u), r["host"])
	}
	require.Equal(t, []string{
		"DEBUG attempt sent", "INFO host paused", "DEBUG attempt done", "DEBUG retry scheduled",
		"INFO host resumed", "DEBUG attempt sent", "DEBUG attempt done",
	}, msgs)
	first := buf.records(t)[0]
	require.Contains(t, first["url"], "api_key=REDACTED&page=2")
	require.Contains(t, first["url"], "me:xxxxx@")
	require.EqualValues(t, 1, first["attempt"])
	paused := buf.records(t)[1]
	require.Equal(t, "retry_after", paused["reason"])
	require.NotEmpty(t, paused["until"])
	done := buf.records(t)[2]
	require.EqualValues(t, 429, done["status"])
	require.Equal(t, true, done["throttled"])
}

// At Info only what changes the limits is logged.
func TestWithLoggerInfo(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Policy", `"p";q=5;w=2`)
	})
	s, buf := loggedSession(t, slog.LevelInfo)
	for range 3 {
		_, err := getOne(context.Background(), s, rec.URL)
		require.NoError(t, err)
	}
	recs := buf.records(t)
	require.Len(t, recs, 1, buf.String())
	require.Equal(t, "limit learned", recs[0]["msg"])
	require.Equal(t, "none", recs[0]["old"])
	require.Equal(t, "5 per 2s (server)", recs[0]["new"])
	require.Equal(t, "policy", recs[0]["reason"])
}

// An error's text has its URL redacted too.
func TestLoggerRedactsErrors(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &url.Error{Op: "Get", URL: "https://u:pw@example.test/x?token=abc&q=1", Err: errBoom})
	got := redactedError(err)
	require.NotContains(t, got, "abc")
	require.NotContains(t, got, "pw@")
	require.Contains(t, got, "token=REDACTED&q=1")
	require.Equal(t, "boom", redactedError(errBoom))
}

// A refused retry is logged at Info, without the URL's credentials.
func TestWithLoggerRetryRefused(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	s, buf := loggedSession(t, slog.LevelInfo, WithRetry(RetryPolicy{MaxRetries: 1}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := getOne(ctx, s, rec.URL+"?sig=zzz")
	require.Error(t, err)
	require.NotContains(t, buf.String(), "zzz")
	var msgs []string
	for _, r := range buf.records(t) {
		msgs = append(msgs, fmt.Sprint(r["msg"]))
	}
	require.Equal(t, []string{"host paused", "retry refused"}, msgs)
}

func TestWithLoggerNil(t *testing.T) {
	_, err := NewSession(WithLogger(nil))
	require.ErrorIs(t, err, ErrInvalidOption)
	require.ErrorContains(t, err, "WithLogger(nil)")
}
