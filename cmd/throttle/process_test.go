package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// processTimeout bounds each run of the built command.
const processTimeout = 60 * time.Second

// lockedBuffer is a bytes.Buffer a process writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(processTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProgressBarUnderPseudoTerminal(t *testing.T) {
	bin := binary(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	defer ptmx.Close()
	require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 120}))

	args := []string{"fetch", "--rate", "10/s"}
	for i := range 15 { // 10/s: about 1 s, several redraws of the bar
		args = append(args, fmt.Sprintf("%s/%d", srv.URL, i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, tty
	require.NoError(t, cmd.Start())
	tty.Close() // the child has its own copy

	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(&screen, ptmx) // ends with EIO once the child has exited
	}()
	err = cmd.Wait()
	require.NoError(t, err)
	select {
	case <-copied:
	case <-time.After(processTimeout):
		t.Fatal("the pseudo-terminal was not closed")
	}
	out := screen.String()
	assert.Contains(t, out, "\r", "the bar redraws its line")
	assert.Contains(t, out, "fetch (0 failed")
	assert.Contains(t, out, "15/15")
	assert.Contains(t, out, "req/s")
	assert.Contains(t, out, "100%")
	assert.Contains(t, out, "fetched 15 URLs")
	assert.Empty(t, stdout.String())
}

func TestUploadProgressBarUnderPseudoTerminal(t *testing.T) {
	bin := binary(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	path := t.TempDir() + "/f.bin"
	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("x"), 96<<10), 0o644))
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	defer ptmx.Close()
	require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 140}))
	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "upload", "--limit", "64KiB/s", "-F", "file=@"+path, srv.URL)
	cmd.Stderr = tty
	require.NoError(t, cmd.Start())
	tty.Close()
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(&screen, ptmx)
	}()
	require.NoError(t, cmd.Wait())
	select {
	case <-copied:
	case <-time.After(processTimeout):
		t.Fatal("the pseudo-terminal was not closed")
	}
	out := screen.String()
	assert.Contains(t, out, "upload (cap 64 KiB/s)")
	assert.Contains(t, out, "KiB")
	assert.Contains(t, out, "100%")
	assert.Contains(t, out, "(cap 64 KiB/s): 200 OK")
}

// Ctrl-C: nothing new is sent, the running requests finish, the summary
// is printed and the exit code is 130.
func TestInterruptFinishesRunningRequests(t *testing.T) {
	bin := binary(t)
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free()
	var started atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		select {
		case <-release:
			io.WriteString(w, "finished")
		case <-r.Context().Done():
		case <-time.After(processTimeout):
		}
	}))
	defer srv.Close()
	defer free() // before srv.Close, which waits for the handlers
	args := []string{"fetch", "--concurrency", "2", "--jsonl"}
	for i := range 10 {
		args = append(args, fmt.Sprintf("%s/%d", srv.URL, i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	waitUntil(t, "two requests running", func() bool { return started.Load() == 2 })
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	waitUntil(t, "the command to see the interrupt", func() bool { return strings.Contains(stderr.String(), "interrupted") })
	free()
	err := cmd.Wait()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "exit: %v\n%s", err, stderr.String())
	assert.Equal(t, exitInterrupted, exit.ExitCode())
	assert.Equal(t, int64(2), started.Load(), "nothing new was sent")
	recs := decodeJSONL(t, stdout.String())
	require.Len(t, recs, 10)
	var ok, cut int
	for _, r := range recs {
		switch {
		case r.Status == 200 && r.Error == "":
			ok++
		case r.Error == "not sent: interrupted":
			cut++
		}
	}
	assert.Equal(t, 2, ok, "the running requests finished")
	assert.Equal(t, 8, cut)
	assert.Contains(t, stderr.String(), "fetched 2 URLs")
	assert.Contains(t, stderr.String(), "8 not sent (interrupted)")
}
