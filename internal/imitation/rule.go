package imitation

import (
	"net/http"
	"time"
)

// A rule decides, for one request arriving at now, whether the server
// accepts it, and what the answer says. It is called under the Handler's
// lock with the number of accepted requests still being served.
type rule interface {
	admit(now time.Time, route string, inflight int) decision
	// ideal is the least time from firing n requests at once to the last
	// response, when each accepted request is served for service.
	ideal(n int, service time.Duration) time.Duration
}

// decision is a rule's verdict on one request.
type decision struct {
	ok     bool
	status int         // the rejection's status when !ok
	header http.Header // fields for the answer, accepted or not; may be nil
	body   string      // the rejection's body, if any
}

func reject(status int, header http.Header) decision {
	return decision{status: status, header: header}
}

func accept(header http.Header) decision { return decision{ok: true, header: header} }

// ceilDiv is ceil(a/b) for positive b and non-negative a.
func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// ceilSeconds is d rounded up to whole seconds, at least 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return ceilDiv(int64(d), int64(time.Second))
}
