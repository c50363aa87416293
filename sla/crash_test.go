package sla

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// crashChildEnv, when set to a directory, turns the test binary into a child
// agent that observes results in a loop until it is killed.
const crashChildEnv = "VIGIL_SLA_CRASH_CHILD"

// runCrashChild opens the engine in $VIGIL_SLA_CRASH_CHILD and alternates
// failing and passing results, printing each closed outage once Observe has
// returned (so it is durable). It returns when killed or after 30 seconds.
func runCrashChild() int {
	dir := os.Getenv(crashChildEnv)
	e, err := Open(Options{Path: dir, Region: "crash", HeartbeatInterval: 20 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 1
	}
	defer e.Close()
	if err := e.Configure([]FeatureSpec{testSpec("f", "a")}); err != nil {
		fmt.Fprintln(os.Stderr, "child configure:", err)
		return 1
	}
	ref := e.Check("talk", "f", "a")
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	ticker := time.NewTicker(time.Millisecond)
	defer ticker.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		<-ticker.C
		ok := i%2 == 1
		ref.Observe(Observation{Start: time.Now(), Success: ok, Error: "crash test failure"})
		if ok {
			for _, o := range e.Outages(OutageQuery{Since: time.Now().Add(-time.Second)}) {
				if o.End != nil {
					fmt.Fprintf(out, "closed %d %d %d\n", o.ID, o.Start.UnixNano(), o.End.UnixNano())
					break
				}
			}
			out.Flush()
		}
	}
	return 0
}

// TestCrash kills a child agent with SIGKILL at random moments and checks
// that every outage it reported closed survived, and that the time it was
// dead is unmonitored.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the test binary")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	closed := map[uint64][2]int64{}
	var lastDowntime float64
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		want := 1 + rng.IntN(20) // closed outages to see before the kill
		seen := 0
		for seen < want && lines.Scan() {
			f := strings.Fields(lines.Text())
			if len(f) == 4 && f[0] == "closed" {
				id, _ := strconv.ParseUint(f[1], 10, 64)
				start, _ := strconv.ParseInt(f[2], 10, 64)
				end, _ := strconv.ParseInt(f[3], 10, 64)
				closed[id] = [2]int64{start, end}
				seen++
			}
		}
		killedAt := time.Now()
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if seen < want {
			t.Fatalf("round %d: child stopped after %d closed outages, want %d", round, seen, want)
		}

		e, err := Open(Options{Path: dir, Region: "crash", noSync: true})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		stored := map[uint64][2]int64{}
		for _, o := range e.Outages(OutageQuery{}) {
			if o.End != nil {
				stored[o.ID] = [2]int64{o.Start.UnixNano(), o.End.UnixNano()}
			}
		}
		for id, w := range closed {
			if stored[id] != w {
				t.Errorf("round %d: closed outage %d %v lost or changed: stored %v", round, id, w, stored[id])
			}
		}
		e.mu.RLock()
		gaps := e.gaps
		e.mu.RUnlock()
		// Each round adds the crash gap, and the gap between this process
		// closing the store and the next child opening it.
		if len(gaps) != 2*round+1 {
			t.Errorf("round %d: %d unmonitored gaps recorded, want %d", round, len(gaps), 2*round+1)
		} else if g := gaps[2*round]; g.start > killedAt.UnixNano() || g.start < killedAt.Add(-time.Second).UnixNano() {
			t.Errorf("round %d: gap starts %v, killed at %v", round, timeOf(g.start), killedAt)
		}
		st := e.Features() // not configured in this process: look at the counters directly
		if len(st) != 1 {
			t.Fatalf("round %d: %d features, want 1", round, len(st))
		}
		if st[0].DowntimeSeconds < lastDowntime {
			t.Errorf("round %d: downtime counter went back from %v to %v", round, lastDowntime, st[0].DowntimeSeconds)
		}
		lastDowntime = st[0].DowntimeSeconds
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(closed) < 5 {
		t.Fatalf("only %d closed outages seen", len(closed))
	}
}
