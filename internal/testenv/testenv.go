// Package testenv is what tests need from their surroundings: outside
// components (a tool on PATH, a broker on a port), real programs run for a
// test's length, and waiting for an event with a deadline. It is imported
// only by _test.go files.
//
// A missing component never lets a test pass silently: the test is skipped
// with a loud "SKIPPING: ..." line (gotestsum lists it at the end of
// `make test`), and under CI=true, where every component must be there, it
// fails instead.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Need reports that the component described by format and args is missing:
// the test fails under CI=true and is skipped loudly otherwise. It does not
// return.
func Need(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("MISSING (CI=true needs it): %s", msg)
		return // only when t is not a real test: Fatalf does not return
	}
	t.Skip("SKIPPING: " + msg)
}

// NeedTool returns the path of the program name, looked up on PATH (or used
// as is when it holds a slash). When it is missing, Need names the Debian
// package that provides it.
func NeedTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Need(t, "%s not found (apt-get install %s): %v", name, debianPackage, err)
	}
	return path
}

// dialTimeout bounds NeedTCP's connection attempt: every component it checks
// runs on this machine, where a connection is set up in well under a second.
const dialTimeout = 2 * time.Second

// NeedTCP checks that something accepts TCP connections at addr (host:port);
// what says what should listen there ("NATS", "Redis") for the message.
func NeedTCP(t testing.TB, addr, what string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		Need(t, "%s not reachable at %s: %v", what, addr, err)
		return // only when t is not a real test: Need does not return
	}
	conn.Close()
}

// Poll looks at its condition after firstLook, then at twice the previous
// wait, up to lastLook: a quick event is seen at once, a slow one (a process
// starting) is not asked about hundreds of times a second.
const (
	firstLook = time.Millisecond
	lastLook  = 100 * time.Millisecond
)

// Poll reports whether cond holds, looking again and again until it does or
// limit has passed. It is for events a test cannot be told of: a process
// listening, a peer noticing a closed socket, a series arriving.
func Poll(limit time.Duration, cond func() bool) bool {
	if cond() {
		return true
	}
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	wait := firstLook
	look := time.NewTimer(wait)
	defer look.Stop()
	for {
		select {
		case <-look.C:
			if cond() {
				return true
			}
			wait = min(2*wait, lastLook)
			look.Reset(wait)
		case <-deadline.C:
			return cond()
		}
	}
}

// WaitFor waits until cond holds, as Poll does, and fails the test naming
// what it waited for when limit passes first.
func WaitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(limit, cond) {
		t.Fatalf("timed out after %s waiting for %s", limit, what)
	}
}
