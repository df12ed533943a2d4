package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		cleanBinary()
		os.Exit(code)
	}))
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// binary builds the command once for the tests that need a real process
// (a pseudo-terminal, a signal).
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "throttle-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "throttle")
		var out bytes.Buffer
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			binErr = err
			binPath = out.String()
		}
	})
	if binErr != nil {
		t.Fatalf("building the command: %v\n%s", binErr, binPath)
	}
	return binPath
}

func cleanBinary() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}
