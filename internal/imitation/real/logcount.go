package real

import (
	"bytes"
	"maps"
	"os"
	"strconv"
	"sync"
	"time"
)

// logCounter counts the statuses a server logs, one status per line: from
// HAProxy's standard output (it is the io.Writer), or from nginx's access
// log file (path, read on demand).
type logCounter struct {
	mu      sync.Mutex
	path    string // a file to read instead of what is written
	partial []byte
	byCode  map[int]int
	lines   int
}

func (c *logCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.count(c.partial[:i])
		c.partial = c.partial[i+1:]
	}
	return len(p), nil
}

func (c *logCounter) count(line []byte) {
	code, err := strconv.Atoi(string(bytes.TrimSpace(line)))
	if err != nil {
		return
	}
	if c.byCode == nil {
		c.byCode = map[int]int{}
	}
	c.byCode[code]++
	c.lines++
}

// reload reads the log file afresh, if the counter has one.
func (c *logCounter) reload() {
	if c.path == "" {
		return
	}
	data, err := os.ReadFile(c.path)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byCode, c.lines = nil, 0
	for line := range bytes.Lines(data) {
		if bytes.HasSuffix(line, []byte("\n")) {
			c.count(line)
		}
	}
}

func (c *logCounter) total() int {
	c.reload()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines
}

// settle waits until the log has not grown for quiet, for at most limit.
func (c *logCounter) settle(quiet, limit time.Duration) {
	deadline := time.Now().Add(limit)
	last := c.total()
	for time.Now().Before(deadline) {
		time.Sleep(quiet)
		n := c.total()
		if n == last {
			return
		}
		last = n
	}
}

// rejected is the count of each status that is not a 2xx, nor nginx's
// 499 (the client closed the connection before the answer: a run's
// bound, not a rejection).
func (c *logCounter) rejected() map[int]int {
	c.reload()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := maps.Clone(c.byCode)
	if out == nil {
		out = map[int]int{}
	}
	for code := range out {
		if code >= 200 && code < 300 || code == 499 {
			delete(out, code)
		}
	}
	return out
}
