package imitation

import (
	"net/http"
	"time"
)

// inflightRule rejects a request that arrives while limit accepted ones
// are being served: overload protection answering 503 with Retry-After, a
// bare 429 concurrency cap, nginx's limit_conn (which counts a request
// from its preaccess phase until the request is finalised).
type inflightRule struct {
	limit      int
	status     int
	retryAfter string // "" sends no Retry-After
}

func (r *inflightRule) admit(_ time.Time, _ string, inflight int) decision {
	if inflight < r.limit {
		return accept(nil)
	}
	if r.retryAfter == "" {
		return reject(r.status, nil)
	}
	return reject(r.status, http.Header{"Retry-After": {r.retryAfter}})
}

// ideal: at most limit requests are served at a time, each for service,
// so n requests need ceil(n/limit) rounds back to back.
func (r *inflightRule) ideal(n int, service time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(ceilDiv(int64(n), int64(r.limit))) * service
}
