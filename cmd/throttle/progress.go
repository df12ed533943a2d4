package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/go-throttle/throttle"
	"github.com/schollz/progressbar/v3"
)

// lineEvery is how often the plain progress lines (standard error not a
// terminal) are written: often enough to show life in a log, rarely
// enough not to flood it.
const lineEvery = 2 * time.Second

// countDisplay shows a fetch's progress: a bar with done/total, rate and
// ETA on a terminal, a line every lineEvery otherwise.
type countDisplay struct {
	mu       sync.Mutex
	w        io.Writer
	bar      *progressbar.ProgressBar // nil when not a terminal
	total    int64                    // -1 when unknown (URLs from standard input)
	lastLine time.Time
}

func newCountDisplay(e *env, total int64) *countDisplay {
	d := &countDisplay{w: e.stderr, total: total, lastLine: time.Now()}
	if e.tty {
		d.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(e.stderr),
			progressbar.OptionSetDescription("fetch"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("req"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionUseANSICodes(true),
		)
	}
	return d
}

// update is the runner's WithProgress function.
func (d *countDisplay) update(p throttle.Progress) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bar != nil {
		d.bar.Describe(fmt.Sprintf("fetch (%d failed, %d in flight)", p.Failed, p.InFlight))
		d.bar.Set64(p.Done)
		return
	}
	if time.Since(d.lastLine) < lineEvery {
		return
	}
	d.lastLine = time.Now()
	total := "?"
	if d.total >= 0 {
		total = fmt.Sprint(d.total)
	}
	fmt.Fprintf(d.w, "fetch: %d/%s done, %d failed, %d in flight, %.1f req/s, %s elapsed\n",
		p.Done, total, p.Failed, p.InFlight, p.Rate, p.Elapsed.Round(100*time.Millisecond))
}

// finish ends the bar's line, so that the summary starts on its own.
func (d *countDisplay) finish() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bar != nil {
		d.bar.Exit()
		fmt.Fprintln(d.w)
	}
}

// byteDisplay shows an upload's progress: bytes sent, rate against the
// cap and ETA.
type byteDisplay struct {
	w        io.Writer
	bar      *progressbar.ProgressBar
	total    int64
	capRate  int64
	began    time.Time
	lastLine time.Time
}

func newByteDisplay(e *env, total, capRate int64) *byteDisplay {
	d := &byteDisplay{w: e.stderr, total: total, capRate: capRate, began: time.Now(), lastLine: time.Now()}
	if e.tty {
		desc := "upload"
		if capRate > 0 {
			desc = "upload (cap " + humanize.IBytes(uint64(capRate)) + "/s)"
		}
		d.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(e.stderr),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowBytes(true),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionUseANSICodes(true),
		)
	}
	return d
}

func (d *byteDisplay) update(sent int64) {
	if d.bar != nil {
		d.bar.Set64(sent)
		return
	}
	if time.Since(d.lastLine) < lineEvery {
		return
	}
	d.lastLine = time.Now()
	fmt.Fprintf(d.w, "upload: %s of %s sent, %s\n", humanize.IBytes(uint64(sent)), humanize.IBytes(uint64(d.total)), rateAgainstCap(sent, time.Since(d.began), d.capRate))
}

func (d *byteDisplay) finish() {
	if d.bar != nil {
		d.bar.Exit()
		fmt.Fprintln(d.w)
	}
}

// rateAgainstCap is "1.9 MiB/s (cap 2.0 MiB/s)".
func rateAgainstCap(bytes int64, elapsed time.Duration, capRate int64) string {
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(bytes) / s
	}
	out := humanize.IBytes(uint64(rate)) + "/s"
	if capRate > 0 {
		out += " (cap " + humanize.IBytes(uint64(capRate)) + "/s)"
	}
	return out
}
