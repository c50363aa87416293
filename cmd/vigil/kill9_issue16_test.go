package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testenv"
)

// featureState is the state of the only feature in /api/v1/features, "" when
// the agent does not answer.
func featureState(addr string) string {
	resp, err := http.Get("http://" + addr + "/api/v1/features")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var body struct {
		Features []struct {
			State string `json:"state"`
		} `json:"features"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil || len(body.Features) != 1 {
		return ""
	}
	return body.Features[0].State
}

// onlyOutage waits until the agent at addr lists exactly one outage, open or
// closed as wanted, and returns it; more than one fails the test.
func onlyOutage(t *testing.T, addr string, open bool, what string) outageJSON {
	t.Helper()
	var outages []outageJSON
	testenv.WaitFor(t, 10*time.Second, what, func() bool {
		var err error
		outages, err = fetchOutages(addr)
		return err == nil && (len(outages) > 1 || (len(outages) == 1 && (outages[0].End == nil) == open))
	})
	if len(outages) != 1 {
		t.Fatalf("%s: %d outages, want 1: %+v", what, len(outages), outages)
	}
	return outages[0]
}

// requestsSince counts the target's requests after at, those failing apart.
func requestsSince(target *scriptedTarget, at time.Time) (all, failing int) {
	log, _ := target.snapshot()
	for _, r := range log {
		if r.at.After(at) {
			all++
			if r.failing {
				failing++
			}
		}
	}
	return all, failing
}

// firstRequest is the index of the target's first request after at with the
// given outcome, -1 if none.
func firstRequest(log []targetRequest, at time.Time, failing bool) int {
	for i, r := range log {
		if r.at.After(at) && r.failing == failing {
			return i
		}
	}
	return -1
}

// runStart checks that got is the start of the run answered by log[i]: after
// the run before it was answered, no later than its own request.
func runStart(t *testing.T, what string, got time.Time, log []targetRequest, i int) {
	t.Helper()
	if i <= 0 {
		t.Fatalf("%s: no run before request %d", what, i)
	}
	if !got.After(log[i-1].at) || got.After(log[i].at) {
		t.Errorf("%s at %s, want the start of the run answered at %s (after %s)", what,
			got.Format("15:04:05.000"), log[i].at.Format("15:04:05.000"), log[i-1].at.Format("15:04:05.000"))
	}
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Kill() // SIGKILL
	_ = cmd.Wait()
}

// TestKill9KeepsBackdatedOutage (issue 16): the agent (failure_threshold 2,
// recovery_threshold 4) is killed with SIGKILL while a confirmed outage is
// open, once during the failing streak and once during recovery (2 passing
// runs of the 4 needed). After the restart on the same store the outage is
// the same one with its original backdated start, nothing is duplicated, and
// it closes at the start of the first passing run after the restart (streaks
// start over after a restart).
func TestKill9KeepsBackdatedOutage(t *testing.T) {
	for _, during := range []string{"failing", "recovering"} {
		t.Run(during, func(t *testing.T) { kill9DuringOutage(t, during) })
	}
}

func kill9DuringOutage(t *testing.T, during string) {
	target := newScriptedTarget()
	defer target.Close()
	dir := t.TempDir()
	cfgFile, storage := filepath.Join(dir, "vigil.yml"), filepath.Join(dir, "data")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 100ms, timeout: 80ms, failure_threshold: 2, recovery_threshold: 4}
services:
  - name: talk
    features:
      - name: send
        checks:
          - name: api
            http: {url: "%s/"}
`, target.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	first, addr, cmd := startAgent(t, cfgFile, storage)
	defer func() { stop(cmd) }()
	testenv.WaitFor(t, 10*time.Second, "the feature up", func() bool { return featureState(addr) == "up" })

	failFrom := time.Now()
	target.set(true)
	opened := onlyOutage(t, addr, true, "the outage to open")
	log, _ := target.snapshot()
	runStart(t, "outage start", opened.Start, log, firstRequest(log, failFrom, true))
	if during == "recovering" {
		passFrom := time.Now()
		target.set(false)
		testenv.WaitFor(t, 5*time.Second, "2 passing runs", func() bool { n, _ := requestsSince(target, passFrom); return n >= 2 })
		if s := featureState(addr); s != "recovering" {
			t.Fatalf("state %q before the kill, want recovering", s)
		}
	} else {
		testenv.WaitFor(t, 5*time.Second, "2 more failed runs", func() bool { _, n := requestsSince(target, failFrom); return n >= 4 })
	}
	stop(cmd)
	killed := time.Now()
	<-time.After(300 * time.Millisecond) // the agent is down

	var second agentRun
	second, addr, cmd = startAgent(t, cfgFile, storage)
	testenv.WaitFor(t, 10*time.Second, "the agent back and probing", func() bool {
		n, _ := requestsSince(target, second.start)
		return n >= 1 && featureState(addr) != ""
	})
	again := onlyOutage(t, addr, true, "the outage open after the restart")
	if again.ID != opened.ID || !again.Start.Equal(opened.Start) {
		t.Errorf("after kill -9 the outage is %d from %s, want %d from %s (the backdated start)", again.ID, again.Start, opened.ID, opened.Start)
	}
	target.set(false)
	closed := onlyOutage(t, addr, false, "the outage to close")
	if closed.ID != opened.ID || !closed.Start.Equal(opened.Start) {
		t.Errorf("closed outage %d from %s, want %d from %s", closed.ID, closed.Start, opened.ID, opened.Start)
	}
	log, _ = target.snapshot()
	if !closed.End.After(second.start) {
		t.Errorf("outage ends %s, before the restart at %s (killed %s; first life from %s): a recovery was not confirmed",
			closed.End.Format("15:04:05.000"), second.start.Format("15:04:05.000"), killed.Format("15:04:05.000"), first.start.Format("15:04:05.000"))
	}
	runStart(t, "outage end", *closed.End, log, firstRequest(log, second.start, false))
	if n := metric(scrape(addr), "vigil_outages_total"); n != 1 {
		t.Errorf("vigil_outages_total %v after the restart, want 1", n)
	}
}
