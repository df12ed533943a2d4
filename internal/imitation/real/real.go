// Package real starts real nginx (Debian's nginx-light) and HAProxy
// (Debian's haproxy) rate limiters on loopback, in front of a Go backend,
// as imitation.Targets: the rows of issue 9's table that imitations can
// only approximate.
//
// Each server gets a temporary directory holding its generated
// configuration, pid file and logs, listens on a free 127.0.0.1 port, and
// is stopped, its directory removed, by Close. What it rejected is counted
// from its own log; what it let through, by the backend.
package real

import (
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-throttle/throttle/internal/imitation"
)

// ErrNotInstalled is wrapped by Start when the server's binary is missing;
// the error names the Debian package to install.
var ErrNotInstalled = errors.New("real: server not installed")

// Spec is one real server of the table.
type Spec struct {
	Name  string
	What  string
	Limit imitation.Limit
	// Binary and Package name the program and the Debian package it is in.
	Binary, Package string
	// Start starts the server; it returns an error wrapping
	// ErrNotInstalled when Binary is missing.
	Start func() (*Server, error)
}

// Server is a running real server and its backend. It is an
// imitation.Target.
type Server struct {
	name    string
	url     string
	ideal   func(n int) time.Duration
	dir     string
	cmd     *exec.Cmd
	exited  chan struct{}
	backend *imitation.Handler
	bsrv    *httptest.Server
	log     logCounter
	once    sync.Once
}

// URL is where to send requests.
func (s *Server) URL() string { return s.url }

// Ideal is the least time for n requests under the server's rule.
func (s *Server) Ideal(n int) time.Duration { return s.ideal(n) }

// Counts reports what the backend accepted and what the server rejected,
// by status, once the server's log has settled: a server logs a request
// after answering it, so the last lines of a run may come a little after
// its last response.
func (s *Server) Counts() imitation.Counts {
	s.log.settle(50*time.Millisecond, 2*time.Second)
	b := s.backend.Counts()
	return imitation.Counts{Accepted: b.Accepted, Duplicates: b.Duplicates, Rejected: s.log.rejected()}
}

// Close stops the server and its backend and removes its directory.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		err = s.stop()
		s.bsrv.CloseClientConnections()
		s.bsrv.Close()
		if rmErr := os.RemoveAll(s.dir); rmErr != nil && err == nil {
			err = rmErr
		}
	})
	return err
}

// stop asks the server to stop (SIGTERM: a fast shutdown for nginx and
// HAProxy alike) and kills it if it has not within 5 s.
func (s *Server) stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("real: %s did not stop on SIGTERM within 5 s; killed", s.name)
	}
}

// binary finds name on PATH or in /usr/sbin (where Debian puts both, and
// which a non-root PATH often lacks).
func binary(name, pkg string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if p := "/usr/sbin/" + name; isExecutable(p) {
		return p, nil
	}
	return "", fmt.Errorf("%w: %s not found (apt-get install %s)", ErrNotInstalled, name, pkg)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// freePort returns a loopback port nothing listens on now. Another
// process could take it before the server binds it; start retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launch runs a server configured by config(port) until it accepts
// connections on its port, trying a few ports in case one was taken.
func launch(s *Server, bin string, args func(dir string) []string, config func(port int) string, confName string) error {
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return err
		}
		if err := os.WriteFile(s.dir+"/"+confName, []byte(config(port)), 0o644); err != nil {
			return err
		}
		err = s.run(bin, args(s.dir), fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			s.url = fmt.Sprintf("http://127.0.0.1:%d/%s", port, s.name)
			return nil
		}
		lastErr = err
	}
	return lastErr
}

// run starts the process and waits until addr accepts a connection, or
// the process exits (then its output says why), for at most 10 s.
func (s *Server) run(bin string, args []string, addr string) error {
	var out strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.dir
	cmd.Stdout = &s.log
	cmd.Stderr = &syncWriter{w: &out}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("real: start %s: %w", s.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("real: %s exited at start: %s", s.name, strings.TrimSpace(out.String()))
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			s.cmd, s.exited = cmd, exited
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("real: %s not listening on %s after 10 s", s.name, addr)
}

// newServer makes the directory and the backend of a server.
func newServer(name string, service time.Duration, ideal func(int) time.Duration) (*Server, error) {
	dir, err := os.MkdirTemp("", "throttle-"+name+"-")
	if err != nil {
		return nil, err
	}
	backend := imitation.Backend(service)
	return &Server{name: name, dir: dir, ideal: ideal, backend: backend, bsrv: httptest.NewServer(backend)}, nil
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
