package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testenv"
)

// scriptedTarget is an HTTP target that fails and recovers on a script and
// keeps its own log: every request with the time it arrived and whether it
// was answered failing. The log is the ground truth the agent's record is
// checked against.
type scriptedTarget struct {
	*httptest.Server
	requests chan struct{} // one event per request, dropped when nobody listens

	mu       sync.Mutex
	failing  bool
	log      []targetRequest
	switches []string // when the script switched, for failure messages
}

type targetRequest struct {
	at      time.Time
	failing bool
}

func newScriptedTarget() *scriptedTarget {
	s := &scriptedTarget{requests: make(chan struct{}, 1)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		failing := s.failing
		s.log = append(s.log, targetRequest{time.Now(), failing})
		s.mu.Unlock()
		select {
		case s.requests <- struct{}{}:
		default:
		}
		if failing {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	return s
}

// snapshot returns copies of the request log and the switches.
func (s *scriptedTarget) snapshot() ([]targetRequest, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log), slices.Clone(s.switches)
}

func (s *scriptedTarget) set(failing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing != failing {
		s.failing = failing
		s.switches = append(s.switches, fmt.Sprintf("%s failing=%v", time.Now().Format("15:04:05.000"), failing))
	}
}

// runScript switches between failing and passing every 150-700 ms until stop.
func (s *scriptedTarget) runScript(rng *rand.Rand, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	failing := false
	for {
		timer := time.NewTimer(time.Duration(150+rng.IntN(550)) * time.Millisecond)
		select {
		case <-stop:
			timer.Stop()
			return
		case <-timer.C:
			failing = !failing
			s.set(failing)
		}
	}
}

// nextRequest waits for the target's next request, false after timeout.
func (s *scriptedTarget) nextRequest(timeout time.Duration) bool {
	select {
	case <-s.requests:
		return true
	case <-time.After(timeout):
		return false
	}
}

// agentCounters are the feature's counters as one scrape saw them.
type agentCounters struct{ outages, downtime, unmonitored float64 }

var counterSeries = []string{"vigil_outages_total", "vigil_sla_downtime_seconds_total", "vigil_sla_unmonitored_seconds_total"}

// scrapeCounters reads the counters from /metrics; false if the agent did
// not answer (not up yet, or being killed).
func scrapeCounters(addr string) (agentCounters, bool) {
	body := scrape(addr)
	c := agentCounters{metric(body, counterSeries[0]), metric(body, counterSeries[1]), metric(body, counterSeries[2])}
	return c, c.outages >= 0 && c.downtime >= 0 && c.unmonitored >= 0
}

// counterWatch fails the test if a counter ever goes down, across kills.
type counterWatch struct {
	t    *testing.T
	last agentCounters
	n    int
}

func (w *counterWatch) see(c agentCounters, when string) {
	w.t.Helper()
	was, now := [3]float64{w.last.outages, w.last.downtime, w.last.unmonitored}, [3]float64{c.outages, c.downtime, c.unmonitored}
	for i := range now {
		if now[i] < was[i] {
			w.t.Errorf("%s: %s went down from %v to %v", when, counterSeries[i], was[i], now[i])
		}
	}
	w.last = c
	w.n++
}

// agentRun is one life of the agent: from before it started to after it was
// dead.
type agentRun struct{ start, end time.Time }

// TestKill9Loop (issue 14, "Fuzzing and long runs"): the agent as a child
// process watches a target that fails and recovers on a script, and is
// killed with SIGKILL at random moments, up to 30 times in about 42 s. The
// counters must never go down across the kills; at the end the outages must
// agree with the target's own log of what it answered, with no duplicates,
// and the counters with the report.
func TestKill9Loop(t *testing.T) {
	target := newScriptedTarget()
	defer target.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	cfg := fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 100ms, timeout: 80ms, failure_threshold: 1, recovery_threshold: 1}
services:
  - name: talk
    features:
      - name: message-send-receive
        checks:
          - name: api
            http: {url: "%s/"}
`, target.URL)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "data")
	rng := rand.New(rand.NewPCG(14, 3))
	watch := &counterWatch{t: t}
	var runs []agentRun
	var from time.Time // the report starts when the first agent answered
	stopScript, scriptDone := make(chan struct{}), make(chan struct{})
	deadline := time.Now().Add(42 * time.Second)
	for i := 0; i < 30 && time.Now().Before(deadline); i++ {
		run, addr, cmd := startAgent(t, cfgFile, storage)
		if !waitAgent(t, target, addr, watch) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("run %d: the agent did not come up", i)
		}
		if i == 0 {
			from = time.Now()
			go target.runScript(rand.New(rand.NewPCG(14, 4)), stopScript, scriptDone)
		}
		// Scrape after each request until a random moment, then kill. The
		// first life outlasts a heartbeat (10 s), so that the record holds
		// downtime; the others mostly end before one.
		life := time.Duration(100+rng.IntN(1200)) * time.Millisecond
		if i == 0 {
			life = 11*time.Second + time.Duration(rng.IntN(1000))*time.Millisecond
		}
		kill := time.After(life)
	live:
		for {
			select {
			case <-kill:
				break live
			case <-target.requests:
				if c, ok := scrapeCounters(addr); ok {
					watch.see(c, fmt.Sprintf("run %d", i))
				}
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		run.end = time.Now()
		runs = append(runs, run)
		if t.Failed() {
			t.FailNow()
		}
		pause := time.NewTimer(time.Duration(50+rng.IntN(300)) * time.Millisecond) // the agent is down
		<-pause.C
	}
	close(stopScript)
	<-scriptDone
	target.set(false)
	if len(runs) < 10 {
		t.Fatalf("only %d kill -9 cycles in the time allowed", len(runs))
	}
	log, switches := target.snapshot()
	t.Logf("%d kill -9 cycles, %d scrapes, %d requests, %d switches", len(runs), watch.n, len(log), len(switches))
	finalRun(t, target, cfgFile, storage, from, watch, runs)
}

// startAgent starts the agent on a free port.
func startAgent(t *testing.T, cfgFile, storage string) (agentRun, string, *exec.Cmd) {
	t.Helper()
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(vigilBin, "--config.file="+cfgFile, "--web.listen-address="+addr, "--storage.path="+storage, "--log.level=error")
	cmd.Stderr = os.Stderr
	run := agentRun{start: time.Now()}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return run, addr, cmd
}

// waitAgent waits until the agent probes the target and answers a scrape.
func waitAgent(t *testing.T, target *scriptedTarget, addr string, watch *counterWatch) bool {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if !target.nextRequest(time.Until(deadline)) {
			return false
		}
		if c, ok := scrapeCounters(addr); ok {
			watch.see(c, "after a restart")
			return true
		}
	}
	return false
}

type reportJSON struct {
	Features []struct {
		DowntimeSeconds    float64 `json:"downtime_seconds"`
		UnmonitoredSeconds float64 `json:"unmonitored_seconds"`
	} `json:"features"`
}

// finalRun starts the agent once more with the target passing, waits for
// any outage to close, and checks the record against the target's log.
func finalRun(t *testing.T, target *scriptedTarget, cfgFile, storage string, from time.Time, watch *counterWatch, runs []agentRun) {
	run, addr, cmd := startAgent(t, cfgFile, storage)
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	if !waitAgent(t, target, addr, watch) {
		t.Fatal("final run: the agent did not come up")
	}
	var outages []outageJSON
	for deadline := time.Now().Add(10 * time.Second); ; {
		if !target.nextRequest(time.Until(deadline)) {
			t.Fatalf("final run: an outage still open: %+v", outages)
		}
		var err error
		if outages, err = fetchOutages(addr); err == nil && (len(outages) == 0 || outages[0].End != nil) {
			break
		}
	}
	c, ok := scrapeCounters(addr)
	if !ok {
		t.Fatal("final run: no counters")
	}
	watch.see(c, "final run")
	resp, err := http.Get("http://" + addr + "/api/v1/report?from=" + from.UTC().Format(time.RFC3339Nano))
	if err != nil {
		t.Fatal(err)
	}
	var report reportJSON
	err = json.NewDecoder(resp.Body).Decode(&report)
	resp.Body.Close()
	if err != nil || len(report.Features) != 1 {
		t.Fatalf("report: %v, %+v", err, report)
	}
	rf := report.Features[0]
	t.Logf("%d outages; counters %+v; report downtime %.3fs unmonitored %.3fs", len(outages), c, rf.DowntimeSeconds, rf.UnmonitoredSeconds)
	// The counters may lead the report by one heartbeat interval (10 s):
	// what scrapes may have seen after the last heartbeat before a kill.
	if rf.DowntimeSeconds < 0.5 {
		t.Errorf("report downtime %.3fs: the record kept no downtime from the first life", rf.DowntimeSeconds)
	}
	if c.downtime < rf.DowntimeSeconds-0.001 || c.downtime > rf.DowntimeSeconds+10 {
		t.Errorf("downtime counter %.3fs, report %.3fs: want within one heartbeat interval above", c.downtime, rf.DowntimeSeconds)
	}
	// The first gap starts at the first agent's start, a little before the
	// report does.
	if d := c.unmonitored - rf.UnmonitoredSeconds; d < -0.001 || d > from.Sub(runs[0].start).Seconds()+0.001 {
		t.Errorf("unmonitored counter %.3fs, report %.3fs from %s", c.unmonitored, rf.UnmonitoredSeconds, from.Sub(runs[0].start))
	}
	if int(c.outages) != len(outages) {
		t.Errorf("vigil_outages_total %v, %d outages recorded", c.outages, len(outages))
	}
	runs = append(runs, agentRun{start: run.start, end: time.Now()})
	checkOutagesAgainstLog(t, outages, target, runs)
}

// checkOutagesAgainstLog checks the outages against what the target
// answered. A request followed by another one in the same life of the agent
// was evaluated and on disk before that next request (runs of a check never
// overlap, and a result is written before the next run starts): a failing one
// lies in an outage, a passing one in none. Every outage holds a failing
// request, and outages are distinct and apart.
func checkOutagesAgainstLog(t *testing.T, outages []outageJSON, target *scriptedTarget, runs []agentRun) {
	t.Helper()
	slices.Reverse(outages) // oldest first
	ids := map[uint64]bool{}
	for i, o := range outages {
		if ids[o.ID] {
			t.Errorf("outage id %d twice", o.ID)
		}
		ids[o.ID] = true
		if o.End == nil || !o.Start.Before(*o.End) || (i > 0 && o.Start.Before(*outages[i-1].End)) {
			t.Errorf("outage %d %v-%v open, empty or overlapping the one before", o.ID, o.Start, o.End)
		}
	}
	inOutage := func(at time.Time) int {
		for i, o := range outages {
			if !at.Before(o.Start) && at.Before(*o.End) {
				return i
			}
		}
		return -1
	}
	log, switches := target.snapshot()
	holds := make([]int, len(outages)) // failing requests in each outage
	evaluated, bad := 0, 0
	for k, r := range log {
		if i := inOutage(r.at); i >= 0 && r.failing {
			holds[i]++
		}
		if k+1 == len(log) || lifeOf(runs, r.at) < 0 || lifeOf(runs, r.at) != lifeOf(runs, log[k+1].at) {
			continue // maybe killed before its result was written
		}
		evaluated++
		if i := inOutage(r.at); r.failing != (i >= 0) && (i < 0 || !timedOut(outages[i].Cause.Error)) && bad < 10 {
			bad++
			t.Errorf("request at %s answered failing=%v, but in outage: %v", r.at.Format("15:04:05.000"), r.failing, i >= 0)
		}
	}
	for i, n := range holds {
		switch o := outages[i]; {
		case n > 0:
		case timedOut(o.Cause.Error):
			// The target runs in this test's process: on a loaded machine
			// its answer can miss the 80 ms timeout. That is the target
			// being slow, which the record rightly calls down.
			t.Logf("outage %d %v-%v: a run timed out (%s) with no failing answer logged", o.ID, o.Start, o.End, o.Cause.Error)
		default:
			t.Errorf("outage %d %v-%v holds no failing request: a false outage (cause %+v)", o.ID, o.Start, o.End, o.Cause)
		}
	}
	if evaluated < len(log)/2 || len(outages) < 5 {
		t.Errorf("%d of %d requests checked, %d outages: too few for the test to mean anything", evaluated, len(log), len(outages))
	}
	if t.Failed() {
		t.Logf("the target's switches: %v", switches)
	}
}

// timedOut reports whether a run's error is its timeout.
func timedOut(err string) bool {
	return strings.Contains(err, "timed out") || strings.Contains(err, "deadline exceeded") || strings.Contains(err, "timeout")
}

// lifeOf is the index of the agent's life holding at, -1 if none.
func lifeOf(runs []agentRun, at time.Time) int {
	for i, r := range runs {
		if !at.Before(r.start) && !at.After(r.end) {
			return i
		}
	}
	return -1
}
