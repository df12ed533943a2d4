package throttle

import "net/http"

// Settle corrects what the attempt that got resp was charged on the budget
// called name, once its actual cost is known: for an LLM call, the usage
// its response reports. The charge becomes actual on every budget of that
// name the attempt was charged on (the host's, the session's, the one its
// server stated), at once: an attempt charged 1,200 tokens that used 350
// gives 850 back, and the callers waiting for them are woken, instead of
// waiting for the charge to leave the window. An actual above the charge
// takes the difference, as far as the window has room. Settling again sets
// the charge again; a negative actual counts as 0.
//
// resp must be a response a Session or a Transport returned, with its
// Body as they returned it (an SDK that reads the body, such as openai-go
// with option.WithResponseInto, leaves it so); it may be settled after the
// body was read and closed. Only attempts that were charged can be
// settled: for any other response, one without a body, or a name the
// attempt was not charged on, Settle does nothing. Settling after
// the charge's window has passed does nothing either: the units have
// already been given back. It is safe to call from any goroutine.
func Settle(resp *http.Response, name string, actual int64) {
	if h := settledAttempt(resp); h != nil {
		h.costs.settle(name, actual)
	}
}

// settledAttempt is the attempt that got resp: through its body, which the
// attempt wrapped (a Session hands its caller the response with the
// caller's own request), or through its request.
func settledAttempt(resp *http.Response) *hold {
	if resp == nil {
		return nil
	}
	if rb, ok := resp.Body.(*responseBody); ok {
		return rb.h
	}
	return attemptOf(resp)
}
