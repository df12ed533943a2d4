package feedback

// Canonical keys of Discord's fields beside its X-RateLimit-* counts:
// the bucket they count (a route's, shared by the routes that name it),
// and, on a 429, whether the limit hit is the global one.
const (
	keyXBucket = "X-Ratelimit-Bucket"
	keyXGlobal = "X-Ratelimit-Global"
	keyXScope  = "X-Ratelimit-Scope"
)

// parseRoute reads the bucket the counts of a response apply to, and
// whether its refusal is of the global limit.
func parseRoute(h map[string][]string, s *Signal) {
	if v := h[keyXBucket]; len(v) > 0 {
		s.Bucket = trimOWS(v[0])
	}
	if v := h[keyXGlobal]; len(v) > 0 && isKey(trimOWS(v[0]), "true") {
		s.Global = true
	}
	if v := h[keyXScope]; len(v) > 0 && isKey(trimOWS(v[0]), "global") {
		s.Global = true
	}
}
