package throttle

import (
	"sync/atomic"
	"time"
)

// progressEvery is how often WithProgress's function is called at most.
const progressEvery = 100 * time.Millisecond

// rateSamples is how many progress ticks Progress.Rate looks back over:
// 5 s, long enough to smooth a bursty run, short enough to follow a host
// that slows down.
const rateSamples = 50

// bulkProgress counts a bulk run's results and, with WithProgress, reports
// them from one goroutine of its own that lives as long as the run.
type bulkProgress struct {
	total    int64
	done     atomic.Int64
	failed   atomic.Int64
	inFlight atomic.Int64
	began    time.Time

	f       func(Progress)
	quit    chan struct{}
	exited  chan struct{}
	samples fifo[progressSample] // owned by the reporting goroutine, then by finish
}

type progressSample struct {
	at   time.Time
	done int64
}

func newBulkProgress(total int64, f func(Progress)) *bulkProgress {
	return &bulkProgress{total: total, f: f, began: time.Now()}
}

func (p *bulkProgress) delivered(failed bool) {
	p.done.Add(1)
	if failed {
		p.failed.Add(1)
	}
}

// start starts the reporting goroutine, if there is a function to call.
func (p *bulkProgress) start() {
	if p.f == nil {
		return
	}
	p.quit = make(chan struct{})
	p.exited = make(chan struct{})
	go p.loop()
}

func (p *bulkProgress) loop() {
	defer close(p.exited)
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			p.f(p.snapshot(now))
		case <-p.quit:
			return
		}
	}
}

// finish stops the reporting goroutine and makes the last call, so that
// calls never overlap and the last one sees the final figures.
func (p *bulkProgress) finish() {
	if p.f == nil {
		return
	}
	close(p.quit)
	<-p.exited
	p.f(p.snapshot(time.Now()))
}

// snapshot reads the counters at now; Rate is over the samples of the
// last rateSamples ticks.
func (p *bulkProgress) snapshot(now time.Time) Progress {
	done := p.done.Load()
	s := Progress{
		Total:    p.total,
		Done:     done,
		Failed:   p.failed.Load(),
		InFlight: p.inFlight.Load(),
		Elapsed:  now.Sub(p.began),
	}
	from := progressSample{at: p.began}
	if p.samples.len() > 0 {
		from = p.samples.s[p.samples.head]
	}
	if dt := now.Sub(from.at).Seconds(); dt > 0 {
		s.Rate = float64(done-from.done) / dt
	}
	p.samples.push(progressSample{at: now, done: done})
	if p.samples.len() > rateSamples {
		p.samples.pop()
	}
	return s
}
