package throttle

// defaultBulkWorkers is a bulk run's worker count when the session sets no
// concurrency limit: enough to keep a few hundred hosts busy at loopback
// latencies, few enough that their goroutines cost little (about 8 KiB of
// stack each while idle).
const defaultBulkWorkers = 128

// bulkWorkers is the default of WithWorkers for runs over s: the session's
// WithMaxConcurrency when set, since more workers would only queue for its
// slots and fewer would leave some unused.
func (s *Session) bulkWorkers() int {
	if n := s.cfg.maxConc; n > 0 {
		return min(n, maxBulkWorkers)
	}
	return defaultBulkWorkers
}
