package throttle

import "math"

// An AdaptiveOption tunes the adaptive limits; pass it to WithAdaptive.
// The set is closed: AdaptiveOptions are made only by the Adapt...
// functions of this package.
type AdaptiveOption interface {
	applyAdaptive(*config) error
}

type adaptiveOption func(*config) error

func (o adaptiveOption) applyAdaptive(c *config) error { return o(c) }

// AdaptLatency makes each host's latency a signal of its load, as TCP
// Vegas and Netflix's Gradient2 limiter do, for a host that slows down
// before it rejects anything (or never does): its in-flight limit stops
// growing once its latency is above tolerance times its baseline, and
// above twice that it is cut, gently, to the concurrency that should
// bring the latency back: so that a slow host is not pushed over, and
// callers do not wait on a host that only queues them. tolerance must be
// greater than 1; 1.5 to 2 suit most hosts (Gradient2's default is 1.5):
// lower stops the growth on the jitter of a quiet host, higher lets
// queues build before it reacts.
//
// The latency is measured from when the attempt has its connection
// (dialling and TLS handshakes do not count, unless WithWindowGuard(0)
// turns off the tracing that tells) to its response headers, smoothed
// over the last few attempts, as TCP smooths its round-trip time. The
// baseline is the host's lowest recent smoothed latency. It follows a
// host whose unloaded latency moves, but not a long incident: while the
// latency stays above tolerance it is kept from before the rise (see
// failsafe-go issue #127 for what happens otherwise), and the limit stays
// low until the latency recovers. Only a host that has been that slow
// for 10 minutes, even with one request in flight, is taken to have
// changed.
//
// The latency of a host is one number: a host whose answers take very
// different times (a mix of cheap and costly endpoints, long polls, large
// uploads) gives a noisy signal; keep those on a separate Session, or
// leave the latency out for them.
func AdaptLatency(tolerance float64) AdaptiveOption {
	return adaptiveOption(func(c *config) error {
		if !(tolerance > 1) || math.IsInf(tolerance, 1) {
			return invalidOption("AdaptLatency", tolerance, "tolerance must be a finite number greater than 1")
		}
		c.adaptLatency = tolerance
		return nil
	})
}
