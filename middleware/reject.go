package middleware

import (
	"net/http"
	"strconv"
	"time"
)

// Reason says why a request was rejected. Its String is the value of the
// X-Throttled-Reason header of the 429 response.
type Reason uint8

// The reasons. Reason(0) is not a rejection and never appears.
const (
	// ReasonQueueFull: the request had to wait for capacity while the
	// queue limit (WithQueueLimit) was reached.
	ReasonQueueFull Reason = iota + 1
	// ReasonConsumerQuota: there was capacity, but the consumer already
	// held its share (WithConsumerShare).
	ReasonConsumerQuota
	// ReasonPriorityQuota: there was capacity, but the request's priority
	// and those below it already held their share (WithPriorityShare).
	ReasonPriorityQuota
	// ReasonRate: the consumer's rate window was full (WithRateLimit).
	ReasonRate

	numReasons = iota + 1
)

// reasonText is each Reason's String and header value.
var reasonText = [numReasons]string{
	ReasonQueueFull:     "queue full",
	ReasonConsumerQuota: "consumer quota",
	ReasonPriorityQuota: "priority quota",
	ReasonRate:          "rate",
}

// String returns "queue full", "consumer quota", "priority quota" or
// "rate", and "reason(N)" for any other value.
func (r Reason) String() string {
	if r > 0 && int(r) < len(reasonText) {
		return reasonText[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// StatusClientClosedRequest is the status recorded for a request whose
// client went away while it waited for capacity (nginx's 499). The client
// is gone, so nobody reads it; it is written so that logging middleware
// does not see net/http's implicit 200.
const StatusClientClosedRequest = 499

// reject writes the 429 for reason, with Retry-After set to wait in whole
// seconds (at least 1), and counts it. Headers already set (the RateLimit
// fields) are kept.
func (t *Throttler) reject(w http.ResponseWriter, reason Reason, wait time.Duration) {
	t.rejected[reason].Add(1)
	h := w.Header()
	h[headerRetryAfter] = []string{strconv.FormatInt(ceilSeconds(wait), 10)}
	h[headerReason] = []string{reason.String()}
	http.Error(w, "429 too many requests: "+reason.String(), http.StatusTooManyRequests)
}
