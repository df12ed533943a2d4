package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/go-throttle/throttle"
)

// rateValue is a flag of the form N/PERIOD: 50/s, 3000/min, 10/2s.
type rateValue struct {
	n   int
	per time.Duration
}

var errRateSyntax = errors.New("want N/PERIOD, such as 50/s, 3000/min or 10/2s")

func (r *rateValue) String() string {
	if r == nil || r.n == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%s", r.n, r.per)
}

func (r *rateValue) Set(s string) error {
	num, period, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return errRateSyntax
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return errRateSyntax
	}
	per, err := parsePeriod(period)
	if err != nil {
		return err
	}
	r.n, r.per = n, per
	return nil
}

// parsePeriod reads s, min, h (or their long names), optionally with a
// count before them (2s, 5min), or any Go duration (500ms).
func parsePeriod(s string) (time.Duration, error) {
	units := map[string]time.Duration{
		"s": time.Second, "sec": time.Second, "second": time.Second,
		"m": time.Minute, "min": time.Minute, "minute": time.Minute,
		"h": time.Hour, "hour": time.Hour,
	}
	if u, ok := units[s]; ok {
		return u, nil
	}
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i > 0 {
		if u, ok := units[s[i:]]; ok {
			k, _ := strconv.Atoi(s[:i])
			if k > 0 {
				return time.Duration(k) * u, nil
			}
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, errRateSyntax
}

// countValue is a flag that takes a whole number of at least min.
type countValue struct {
	n   int
	min int
}

func (c *countValue) String() string {
	if c == nil {
		return ""
	}
	return strconv.Itoa(c.n)
}

func (c *countValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("want a whole number")
	}
	if n < c.min {
		return fmt.Errorf("want at least %d", c.min)
	}
	c.n = n
	return nil
}

// durationValue is a positive duration flag.
type durationValue struct{ d time.Duration }

func (d *durationValue) String() string {
	if d == nil || d.d == 0 {
		return ""
	}
	return d.d.String()
}

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return errors.New("want a positive duration, such as 30s or 1m30s")
	}
	d.d = v
	return nil
}

// headerList is the repeatable -H 'Name: value'.
type headerList [][2]string

func (h *headerList) String() string { return "" }

func (h *headerList) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return errors.New("want 'Name: value'")
	}
	*h = append(*h, [2]string{name, strings.TrimSpace(value)})
	return nil
}

// byteRate is --limit: a byte size per second (2MiB/s, 500k, 1.5MB/s),
// parsed by go-humanize.
type byteRate struct{ n int64 }

func (b *byteRate) String() string {
	if b == nil || b.n == 0 {
		return ""
	}
	return humanize.IBytes(uint64(b.n)) + "/s"
}

func (b *byteRate) Set(s string) error {
	v := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	n, err := humanize.ParseBytes(v)
	if err != nil || n == 0 || n > 1<<50 {
		return errors.New("want a byte rate, such as 2MiB/s, 500KB/s or 1.5MB/s")
	}
	b.n = int64(n)
	return nil
}

// sessionFlags are the flags that shape fetch's Session.
type sessionFlags struct {
	rate, hostRate          rateValue
	burst                   countValue
	conc, hostConc, retries countValue
	timeout                 durationValue
	headers                 headerList
}

func (f *sessionFlags) register(fs *flag.FlagSet) {
	f.burst.min, f.conc.min, f.hostConc.min = 1, 1, 1
	fs.Var(&f.rate, "rate", "")
	fs.Var(&f.hostRate, "host-rate", "")
	fs.Var(&f.burst, "burst", "")
	fs.Var(&f.conc, "concurrency", "")
	fs.Var(&f.hostConc, "host-concurrency", "")
	fs.Var(&f.retries, "retries", "")
	fs.Var(&f.timeout, "timeout", "")
	fs.Var(&f.headers, "H", "")
}

// options turns the flags into Session options.
func (f *sessionFlags) options() []throttle.Option {
	var opts []throttle.Option
	if f.rate.n > 0 {
		opts = append(opts, throttle.WithRateLimit(f.rate.n, f.rate.per))
	}
	if f.hostRate.n > 0 {
		opts = append(opts, throttle.WithHostRateLimit(f.hostRate.n, f.hostRate.per))
	}
	if f.burst.n > 0 {
		opts = append(opts, throttle.WithBurst(f.burst.n))
	}
	if f.conc.n > 0 {
		opts = append(opts, throttle.WithMaxConcurrency(f.conc.n))
	}
	if f.hostConc.n > 0 {
		opts = append(opts, throttle.WithHostConcurrency(f.hostConc.n))
	}
	if f.retries.n > 0 {
		opts = append(opts, throttle.WithRetry(throttle.RetryPolicy{MaxRetries: f.retries.n}))
	}
	if f.timeout.d > 0 {
		opts = append(opts, throttle.WithTimeout(f.timeout.d))
	}
	return append(opts, headerOptions(f.headers)...)
}

func headerOptions(h headerList) []throttle.Option {
	var opts []throttle.Option
	for _, kv := range h {
		opts = append(opts, throttle.WithHeader(kv[0], kv[1]))
	}
	return opts
}

// parseArgs parses args with fs, letting flags and arguments mix as GNU
// tools do (throttle fetch URL --rate 5/s); "--" ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
