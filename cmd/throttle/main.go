// Command throttle sends HTTP requests under rate, concurrency and
// bandwidth limits, with retries, through a throttle.Session:
//
//	throttle fetch [flags] [URL...]   GET many URLs (from the arguments or standard input)
//	throttle upload [flags] URL       a multipart upload, streamed, bandwidth-capped
//	throttle demo [--out DIR]         the SDK against local servers, with a summary and a picture
//
// Run throttle --help, or throttle COMMAND --help, for every flag.
//
// Exit codes: 0 when every request succeeded, 1 when any failed, 2 for a
// usage error, 130 when interrupted (Ctrl-C: no new request is sent, the
// running ones finish, and the summary is printed).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"
)

const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// env is what a command runs against: the process's, or a test's.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// interrupt delivers Ctrl-C (SIGINT, SIGTERM): the first stops new
	// requests, a second cancels the running ones.
	interrupt <-chan os.Signal
	// tty reports standard error is a terminal: a progress bar, not lines.
	tty bool
}

func main() {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	e := &env{
		stdin:     os.Stdin,
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		interrupt: sig,
		tty:       term.IsTerminal(int(os.Stderr.Fd())),
	}
	os.Exit(run(e, os.Args[1:]))
}

// run runs the command args names and returns the exit code.
func run(e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, mainUsage)
		return exitUsage
	}
	switch args[0] {
	case "fetch":
		return runFetch(e, args[1:])
	case "upload":
		return runUpload(e, args[1:])
	case "demo":
		return runDemo(e, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, mainUsage)
		return exitOK
	}
	fmt.Fprintf(e.stderr, "throttle: unknown command %q\n\n%s", args[0], mainUsage)
	return exitUsage
}

// parseCommand parses a command's flags; on --help it prints usage to
// standard output, on an error it names the flag and the value. It
// returns the positional arguments, or the exit code to stop with.
func parseCommand(e *env, fs *flag.FlagSet, usage string, args []string) ([]string, int, bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	pos, err := parseArgs(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(e.stdout, usage)
		return nil, exitOK, false
	case err != nil:
		return nil, usageError(e, fs.Name(), longFlagNames(err.Error())), false
	}
	return pos, 0, true
}

// longFlagNames writes the flag package's "-rate" as the "--rate" the
// usage texts show; one-letter flags (-H, -o, -F) keep their one dash.
func longFlagNames(msg string) string {
	for _, prefix := range []string{"for flag -", "not defined: -", "needs an argument: -"} {
		i := strings.Index(msg, prefix)
		if i < 0 {
			continue
		}
		j := i + len(prefix)
		end := strings.IndexAny(msg[j:], ": ")
		if end < 0 {
			end = len(msg) - j
		}
		if end > 1 && !strings.HasPrefix(msg[j:], "-") {
			msg = msg[:j] + "-" + msg[j:]
		}
	}
	return msg
}

// usageError prints what is wrong and how to get help, and returns 2.
func usageError(e *env, cmd, msg string) int {
	fmt.Fprintf(e.stderr, "throttle %s: %s\nRun 'throttle %s --help' for the flags.\n", cmd, msg, cmd)
	return exitUsage
}

const mainUsage = `throttle sends HTTP requests under rate, concurrency and bandwidth limits, with retries.

Usage:
  throttle fetch [flags] [URL...]   GET each URL (from standard input when none is given)
  throttle upload [flags] URL       POST a multipart form, streamed, under a bandwidth cap
  throttle demo [--out DIR]         run the SDK against local servers; prints a summary, writes demo.svg

Run 'throttle COMMAND --help' for a command's flags.

Examples:
  throttle fetch --rate 50/s --host-concurrency 4 https://example.com/a https://example.com/b
  cat urls.txt | throttle fetch --rate 3000/min --retries 3 -o pages/ --resume
  throttle upload --limit 2MiB/s -F title=backup -F file=@big.bin https://example.com/upload
  throttle demo --out docs/

Exit codes: 0 all succeeded, 1 some failed, 2 usage error, 130 interrupted (Ctrl-C).
`
