package imitation

import "time"

// The Ideals of the rules, for servers that apply them for real (package
// real): each is the least time from firing n requests at once to the
// last response, for a client that knows the rule, when each accepted
// request is served for service.

// IdealLimitReq is nginx's limit_req rate=perSecond r/s burst=burst
// nodelay (burst 0: none); see nginxLimitReq.ideal.
func IdealLimitReq(perSecond, burst, n int, service time.Duration) time.Duration {
	return newNginxLimitReq(perSecond, burst).ideal(n, service)
}

// IdealInFlight is a cap of limit requests in flight; see
// inflightRule.ideal.
func IdealInFlight(limit, n int, service time.Duration) time.Duration {
	return (&inflightRule{limit: limit}).ideal(n, service)
}

// IdealHTTPReqRate is HAProxy's deny if sc_http_req_rate(0) gt limit,
// over http_req_rate(period); see haproxyRate.ideal.
func IdealHTTPReqRate(limit int, period time.Duration, n int, service time.Duration) time.Duration {
	return (&haproxyRate{limit: int64(limit), period: period.Milliseconds()}).ideal(n, service)
}

// Backend is a Handler that accepts every request and serves it for
// service: the application behind a real proxy, counting what the proxy
// let through.
func Backend(service time.Duration) *Handler {
	return newHandler("backend", openRule{}, service)
}

// openRule accepts everything.
type openRule struct{}

func (openRule) admit(time.Time, string, int) decision { return accept(nil) }

func (openRule) ideal(n int, service time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	return service
}
