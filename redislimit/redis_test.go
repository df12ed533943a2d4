package redislimit_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a redis-server the test started on a free loopback port,
// without persistence, stopped when the test ends.
type redisServer struct {
	t    testing.TB
	addr string
	port int
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has been waited for
}

// redisPath finds redis-server, or skips the test naming the Debian
// package (fails under CI=true, where .ci/run installs it).
func redisPath(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not found (CI=true): install the Debian package redis-server")
		}
		t.Skip("redis-server not installed: apt-get install redis-server (Debian package redis-server)")
	}
	return path
}

// startRedis starts a redis-server for t.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	path := redisPath(t)
	var lastErr error
	for range 3 { // a free port can be taken between finding and binding it
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s := &redisServer{t: t, port: port, addr: "127.0.0.1:" + strconv.Itoa(port)}
		if lastErr = s.start(path); lastErr == nil {
			t.Cleanup(s.stop)
			return s
		}
	}
	t.Fatalf("starting redis-server: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs redis-server on s.port and waits (at most 5 s) until it
// answers PING.
func (s *redisServer) start(path string) error {
	s.cmd = exec.Command(path, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning")
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.exit = make(chan struct{})
	go func(cmd *exec.Cmd, exit chan struct{}) {
		cmd.Wait()
		close(exit)
	}(s.cmd, s.exit)
	rdb := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exit:
			return fmt.Errorf("redis-server on port %d exited: %v", s.port, err)
		default:
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("redis-server on port %d did not answer within 5s: %v", s.port, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop ends the server (resuming it first if it was frozen) and waits at
// most 5 s for it.
func (s *redisServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT)
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exit:
	case <-time.After(5 * time.Second):
		s.kill()
	}
}

func (s *redisServer) kill() {
	s.cmd.Process.Kill()
	<-s.exit
}

// restart starts the server again on the same port after stop.
func (s *redisServer) restart() {
	s.t.Helper()
	var err error
	for range 50 { // the port may linger briefly
		if err = s.start(redisPath(s.t)); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("restarting redis-server: %v", err)
}

func (s *redisServer) freeze()   { s.cmd.Process.Signal(syscall.SIGSTOP) }
func (s *redisServer) unfreeze() { s.cmd.Process.Signal(syscall.SIGCONT) }

// client returns a client of the server, closed when the test ends. Its
// own timeouts are left at go-redis's defaults (5 s, contexts ignored),
// so that the tests show the limiter's own timeout at work.
func (s *redisServer) client(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: s.addr})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
