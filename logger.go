package throttle

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
)

// WithLogger logs what the limits do to l, through log/slog: pauses and
// resumes, limits learned and adapted, refused retries and rejected
// callers at Info; every attempt (sent, done) and every retry scheduled at
// Debug. Each record's message is the event's kind ("host paused") and
// its attributes are the event's fields that are set: host, method, url,
// attempt, wait, waited_on, status, error, throttled, to_headers,
// duration, bytes, backoff, until, old, new, reason.
//
// URLs are redacted as Session.Do's errors are: the password and the
// values of credential query parameters (key, api_key, token, sig,
// password, secret and the like) read "REDACTED", in the url attribute
// and in error texts alike.
//
// A logger is an observer (see WithObserver): it is called on the
// request's goroutine, and records at levels l does not enable are
// dropped before anything is formatted. l must not be nil.
func WithLogger(l *slog.Logger) Option {
	return option(func(c *config) error {
		if l == nil {
			return invalidOption("WithLogger", "nil", "logger must not be nil")
		}
		c.obs.observers = append(c.obs.observers, eventLogger{l}.log)
		return nil
	})
}

// eventLogger writes events to a slog.Logger.
type eventLogger struct{ l *slog.Logger }

// eventLevel is the level of each kind of event.
func eventLevel(k EventKind) slog.Level {
	switch k {
	case EventAttemptSent, EventAttemptDone, EventRetryScheduled:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

func (lg eventLogger) log(e Event) {
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	level := eventLevel(e.Kind)
	if !lg.l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	add := func(a slog.Attr) { attrs = append(attrs, a) }
	add(slog.String("host", e.Host))
	if e.Method != "" {
		add(slog.String("method", e.Method))
	}
	if e.URL != nil {
		add(slog.String("url", e.RedactedURL()))
	}
	if e.Attempt > 0 {
		add(slog.Int("attempt", e.Attempt))
	}
	switch e.Kind {
	case EventAttemptSent:
		add(slog.Duration("wait", e.Wait))
		if e.WaitedOn != "" {
			add(slog.String("waited_on", string(e.WaitedOn)))
		}
	case EventAttemptDone:
		add(slog.Duration("to_headers", e.TimeToHeaders))
		add(slog.Duration("duration", e.Duration))
		add(slog.Int64("bytes", e.BytesReceived))
		if e.Throttled {
			add(slog.Bool("throttled", true))
		}
	case EventRetryScheduled:
		add(slog.Duration("backoff", e.Backoff))
	case EventHostPaused:
		add(slog.Time("until", e.Until))
	case EventLimitLearned, EventLimitAdapted:
		add(slog.String("old", e.Old.String()))
		add(slog.String("new", e.New.String()))
	}
	if e.StatusCode != 0 {
		add(slog.Int("status", e.StatusCode))
	}
	if e.Err != nil {
		add(slog.String("error", redactedError(e.Err)))
	}
	if e.Reason != "" {
		add(slog.String("reason", string(e.Reason)))
	}
	lg.l.LogAttrs(ctx, level, e.Kind.String(), attrs...)
}

// redactedError is err's text with the URL of every *url.Error in its
// chain redacted (net/http's hide only the password).
func redactedError(err error) string {
	s := err.Error()
	for e := err; e != nil; {
		var ue *url.Error
		if !errors.As(e, &ue) {
			break
		}
		if r := redactURLString(ue.URL); r != ue.URL {
			s = strings.ReplaceAll(s, ue.URL, r)
		}
		e = ue.Err
	}
	return s
}
