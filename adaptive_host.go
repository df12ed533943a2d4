package throttle

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/go-throttle/throttle/feedback"
)

// outcome is what the end of an attempt tells its host's adaptive limits:
// the ticket its admission recorded, its response's status (0: none), and
// whether it failed to connect or was reset.
type outcome struct {
	tk      ticket
	status  int
	refused bool
}

// outcomeOf is the outcome of an attempt that got status, or err.
func outcomeOf(tk ticket, status int, err error) outcome {
	return outcome{tk: tk, status: status, refused: err != nil &&
		(errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET))}
}

// verdictLocked says what an admitted attempt's outcome means for its
// host h (see adaptive.classify).
func (t *hostTable) verdictLocked(h *host, sig *feedback.Signal, out outcome) verdict {
	throttled, stated := false, false
	if sig != nil {
		throttled, stated = sig.Throttled, !sig.Until.IsZero()
	}
	return h.ad.classify(out.tk, throttled, stated, out.status, out.refused)
}

// adaptLocked applies an attempt's verdict to its host's adaptive limits:
// an accepted attempt may raise them, a rejection cuts them and, when the
// server said nothing of when to come back, pauses the host briefly.
func (t *hostTable) adaptLocked(h *host, tk ticket, v verdict, sig *feedback.Signal) {
	now := t.now()
	var c change
	if v == accepted {
		c = h.ad.accept(tk, now, h.live.waiting.Load() > 0)
	} else {
		bare := sig == nil || sig.Until.IsZero() && !sig.HasRemaining
		c = h.ad.reject(tk, now, h.live.inflight, v, t.keptRateLocked(h), bare)
	}
	if c.pause > 0 {
		h.pausedUntil = max(h.pausedUntil, now+int64(c.pause))
	}
	if c.moved {
		var own int64
		if s := h.live.slots.Load(); s != nil {
			own = s.Capacity()
		}
		h.ad.install(t, h.live.inflight, own)
	}
}

// keptRateLocked is the tightest rate, per second, that the client keeps
// to for h by its own window or the windows its server stated; 0 if none.
func (t *hostTable) keptRateLocked(h *host) float64 {
	best := 0.0
	consider := func(n int, per float64) {
		if r := float64(n) / per; best == 0 || r < best {
			best = r // a window's per is always positive
		}
	}
	if w := h.live.rate.Load(); w != nil {
		n, per := w.Limit()
		consider(n, per.Seconds())
	}
	for _, w := range h.live.learned {
		n, per := w.Limit()
		consider(n, per.Seconds())
	}
	return best
}

// acquireAdaptedRate waits for the window and the pace learned for the
// host, if any (see adaptive).
func (t *Transport) acquireAdaptedRate(ctx context.Context, key string, h *hold) error {
	ad := h.host.ad
	if ad == nil {
		return nil
	}
	if w := ad.window.Load(); w != nil {
		g, err := w.Reserve(ctx, 1)
		if err != nil {
			return fmt.Errorf("throttle: waiting for the adapted window of host %s: %w", key, err)
		}
		h.addGrant(g)
	}
	if p := ad.pace.Load(); p != nil {
		g, err := p.Reserve(ctx, 1)
		if err != nil {
			return fmt.Errorf("throttle: waiting for the adapted pace of host %s: %w", key, err)
		}
		h.addGrant(g)
	}
	return nil
}
