package throttle

import "time"

// latency is the latency signal of a host's adaptive limits
// (AdaptLatency), a gradient in the manner of TCP Vegas and Netflix's
// Gradient2: the host's latency now (srtt, smoothed) against its latency
// when it was not loaded (base, the lowest recent answer, as Vegas and
// BBR take it). Within tol of the base the in-flight limit grows as
// before; above it the limit stops growing; above twice tol it is cut to
// the concurrency that, by Little's law, brings the latency back under
// twice tol, never by more than half per round trip.
//
// The base is a recent minimum that a long incident cannot drag up (the
// failure of failsafe-go#127, whose baseline is an average of recent
// latencies: once it has caught up with a high latency, the gradient
// reads "healthy" and the limit grows again into a host that is still
// struggling). A lower answer lowers it at once. It may rise only at the
// end of a window of baseWindow in which the smoothed latency came back
// within tol of it at least once, to that window's lowest answer: the
// host's unloaded latency has moved, and by at most tol per window. A
// window spent above tol throughout keeps the base from before the rise.
// Only rebaseAfter of that, with answers to attempts sent alone,
// re-learns the base from those: a host that is that slow even with one
// request in flight has changed, and the client's own load is not the
// cause.
//
// Its fields are guarded by hostTable.mu, as adaptive's are. Nothing runs
// between samples: windows end when a sample finds them over.
type latency struct {
	tol float64
	// srtt and sk are the latency (ns) and the in-flight count of the
	// attempts sent since the last cut, smoothed over n samples as TCP
	// smooths its round trip (RFC 6298, gain 1/8); a plain mean while
	// n < 8, so that the first sample does not weigh for the next eight.
	srtt, sk float64
	n        int32
	// base is the baseline, 0 until the first answer; winMin the lowest
	// answer of the window that began at winAt, soloMin the lowest of its
	// attempts sent alone (0: none was).
	base, winMin, soloMin float64
	winAt                 int64
	healthyAt             int64 // when srtt was last within tol of base
	cutSeq                int64 // the last attempt sent before the last cut
	cutAt                 int64 // when the last cut was made (0: never)
}

// The parameters of the latency signal. Why these values:
//   - gain 1/8 and a warm-up of 4 samples: TCP's smoothing of its round
//     trip; 4 samples before any decision, so that one slow answer does
//     not cut;
//   - windows of 30 s: long enough to see a busy host's quiet moments,
//     short enough to follow a change in what is asked of it (the mix of
//     its requests) within a minute;
//   - rebaseAfter 10 minutes, as long as the adapted limits are kept
//     after a cut: an incident shorter than that keeps its base;
//   - latencyCutMin 0.5: a latency cut is no harsher than a rejection's,
//     and usually gentler (a latency just over twice tol cuts by one).
const (
	latencyGain   = 1.0 / 8
	latencyWarm   = 4
	baseWindow    = 30 * time.Second
	rebaseAfter   = 10 * time.Minute
	latencyCutMin = 0.5
)

// newLatency returns the latency signal at tolerance tol, or nil for 0.
func newLatency(tol float64) *latency {
	if tol == 0 {
		return nil
	}
	return &latency{tol: tol}
}

// latencyStep takes in the latency of an accepted attempt: sent at tk.at
// (or given its connection at tk.conn), answered at now. It reports whether the in-flight limit must not grow
// on it (held) and whether it cut the limit. Without the signal it does
// nothing.
func (a *adaptive) latencyStep(tk ticket, now int64) (held, cut bool) {
	l := a.lat
	start := tk.at
	if tk.conn != 0 {
		start = tk.conn
	}
	rtt := float64(now - start)
	if l == nil || rtt <= 0 || tk.seq == 0 {
		return false, false
	}
	l.track(rtt, tk.k, now)
	// Growth also waits for each answer to be within tol: an answer over
	// it is the first sign of a knee, which the smoothing shows only a few
	// answers later, and slow start would double past it meanwhile.
	slow := rtt > l.tol*l.base
	if tk.seq <= l.cutSeq {
		// Sent before the last cut, at the limit that was cut: it says
		// nothing of the limit now, but a slow one must not raise it.
		return slow, false
	}
	l.smooth(rtt, float64(tk.k))
	if l.n < latencyWarm {
		return slow, false
	}
	r := l.srtt / l.base
	switch {
	case r <= l.tol:
		l.healthyAt = now
		return slow, false
	case r <= 2*l.tol || tk.seq <= a.cutSeq:
		// Above tol, or over twice tol but sent before a rejection's cut,
		// which has cut already: hold.
		return true, false
	}
	return true, a.latencyCut(now, r)
}

// smooth adds a sample of latency rtt sent with k in flight.
func (l *latency) smooth(rtt, k float64) {
	l.n++
	g := max(1/float64(l.n), latencyGain)
	l.srtt += g * (rtt - l.srtt)
	l.sk += g * (k - l.sk)
}

// track keeps the base (see latency) up to date with an answer of rtt to
// an attempt sent with k in flight, at now.
func (l *latency) track(rtt float64, k int32, now int64) {
	if l.base == 0 {
		l.base, l.winMin, l.winAt, l.healthyAt = rtt, rtt, now, now
	}
	if now-l.winAt >= int64(baseWindow) {
		l.endWindow(now, rtt)
	}
	l.base = min(l.base, rtt)
	l.winMin = min(l.winMin, rtt)
	if k <= 1 && (l.soloMin == 0 || rtt < l.soloMin) {
		l.soloMin = rtt
	}
}

// endWindow ends the window of the base at now, and starts the next with
// an answer of rtt.
func (l *latency) endWindow(now int64, rtt float64) {
	switch {
	case l.healthyAt >= l.winAt:
		// Within tol at some moment of the window: its lowest answer is
		// the host's unloaded latency now, at most tol above the base.
		l.base = l.winMin
	case now-l.healthyAt >= int64(rebaseAfter) && l.soloMin > 0:
		// Slow even alone, for longer than any incident is held: the
		// host has changed. Its latency alone is its base from now on.
		l.base, l.healthyAt = l.soloMin, now
	}
	// Otherwise the window was above tol throughout, an incident: the
	// base from before it stays.
	l.winMin, l.soloMin, l.winAt = rtt, 0, now
}

// latencyCut cuts the in-flight limit on a smoothed latency of r times
// the base, reporting whether it moved. The target is the smoothed
// in-flight count scaled by 2·tol/r: were the latency above the base all
// queueing, that many in flight would take twice tol (Little's law); and
// never less than half of it, as a rejection's cut. What was in flight
// is what counts, not the limit, which may be far above it. The limit
// then grows additively (ssthresh), and the smoothing starts afresh from
// the attempts sent after the cut, so that one round trip cuts once.
func (a *adaptive) latencyCut(now int64, r float64) bool {
	l := a.lat
	target := max(int(l.sk*max(latencyCutMin, 2*l.tol/r)), 1)
	if target >= a.cwnd {
		return false // the limit is below that already (a rejection's cut)
	}
	l.cutSeq = a.seq
	l.srtt, l.sk, l.n = 0, 0, 0
	a.cwnd, a.ssthresh, a.acks = target, target, 0
	l.cutAt = now
	return true
}

// learned reports whether l cut the limit: then, as after a rejection's
// cut, the limit is reported (HostStats), and the host's adaptive limits,
// base included, are kept while it is idle (see adaptive.learned).
func (l *latency) learned() bool { return l != nil && l.cutAt != 0 }

// doneAt reports whether l holds nothing worth keeping at now: its last
// cut is forgetAfter old, as a rejection's is forgotten.
func (l *latency) doneAt(now int64) bool {
	return l == nil || l.cutAt == 0 || now >= l.cutAt+int64(forgetAfter)
}

// latencyFromConn notes in the attempt's ticket when it has its
// connection, when its host's latency is a signal: dialling, a TLS
// handshake and waiting for a pooled connection are not the host's
// latency, and a host whose concurrency grows opens connections as it
// grows, so that counting them would read as latency rising with
// concurrency, the very signal that stops the growth. Called from the
// trace's GotConn, on the caller's goroutine, before the attempt ends.
func (h *hold) latencyFromConn() {
	if h.timesConn() {
		h.tk.conn = h.t.hosts.now()
	}
}

// timesConn reports whether the attempt's latency counts from its
// connection (see latencyFromConn), so that it needs the trace that
// tells when it has one.
func (h *hold) timesConn() bool {
	hs := h.t.hosts
	return hs != nil && hs.latency > 0 && h.tk.seq != 0 && !h.t.guard.off()
}
