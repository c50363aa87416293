package agent

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/sla"
)

// Issue 16's scenarios: the real agent against loopback targets that fail on a
// script counted in requests (so one "run" of the script is one run of the
// check, whatever the scheduling), each keeping a log of what it answered when.
// Outage edges are checked against that log: an edge is the start of a run, so
// it lies after the arrival of the run before it and no later than the arrival
// of its own request.

// scenarioSlack is room for scheduling on a busy 2-core machine under -race.
const scenarioSlack = 250 * time.Millisecond

// answer is one request a runTarget answered.
type answer struct {
	at      time.Time
	failing bool
}

// runTarget is an HTTP target that fails the n-th request (from 0) when
// fail(n) says so, and logs every answer.
type runTarget struct {
	*httptest.Server
	fail func(n int) bool

	mu  sync.Mutex
	log []answer
}

func newRunTarget(t *testing.T, fail func(n int) bool) *runTarget {
	t.Helper()
	rt := &runTarget{fail: fail}
	rt.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.mu.Lock()
		failing := rt.fail(len(rt.log))
		rt.log = append(rt.log, answer{time.Now(), failing})
		rt.mu.Unlock()
		if failing {
			http.Error(w, "scripted failure", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(rt.Close)
	return rt
}

func (rt *runTarget) answers() []answer {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return slices.Clone(rt.log)
}

func (rt *runTarget) count() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return len(rt.log)
}

// streaks returns the failing streaks of the log from index from on, as
// [first failing, first passing after it) index pairs (end = len when open).
func streaks(log []answer, from int) [][2]int {
	var out [][2]int
	for i := from; i < len(log); i++ {
		if !log[i].failing || (i > from && log[i-1].failing) {
			continue
		}
		j := i
		for j < len(log) && log[j].failing {
			j++
		}
		out = append(out, [2]int{i, j})
	}
	return out
}

// atRunStart checks that got is the start of the run whose request is log[i]:
// after the arrival of log[i-1], no later than that of log[i].
func atRunStart(t *testing.T, what string, got time.Time, log []answer, i int) {
	t.Helper()
	if i <= 0 || i >= len(log) {
		t.Fatalf("%s: no request %d in a log of %d", what, i, len(log))
	}
	if !got.After(log[i-1].at) || got.After(log[i].at) {
		t.Errorf("%s at %s, want the start of the run answered at %s (after the run answered at %s)",
			what, got.Format("15:04:05.000"), log[i].at.Format("15:04:05.000"), log[i-1].at.Format("15:04:05.000"))
	}
}

// longGaps lists the gaps between requests longer than limit, for failure
// messages: a run late enough counts as a failed one (a stale result).
func longGaps(log []answer, limit time.Duration) []string {
	var out []string
	for i := 1; i < len(log); i++ {
		if d := log[i].at.Sub(log[i-1].at); d > limit {
			out = append(out, fmt.Sprintf("%s before run %d", d.Round(time.Millisecond), i))
		}
	}
	return out
}

// startScenario writes the config and starts the agent on it.
func startScenario(t *testing.T, cfg string) *Agent {
	t.Helper()
	cfgFile := filepath.Join(t.TempDir(), "vigil.yml")
	writeFile(t, cfgFile, cfg)
	return startAgent(t, cfgFile)
}

func transitionsOf(t *testing.T, a *Agent) []sla.Transition {
	t.Helper()
	tr, err := a.Engine().Transitions("talk", "send", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func statesOf(tr []sla.Transition) []sla.State {
	var states []sla.State
	for _, x := range tr {
		states = append(states, x.To)
	}
	return states
}

// TestScenarioBlipsAreNotOutages: two HTTP checks and a DNS check, require all,
// failure_threshold 2, recovery_threshold 2. One check failing a single run,
// three times, 3 runs apart, opens nothing (before issue 16: three outages);
// the same check failing 6 runs in a row opens exactly one outage, from the
// start of its first failed run to the start of its first passing one.
func TestScenarioBlipsAreNotOutages(t *testing.T) {
	// 200ms runs: a run delayed past 2 × interval + timeout counts as a failed
	// one (stale), and next to a blip that would be a real outage.
	blips := []int{5, 8, 11}
	const failFrom, failTo = 16, 22 // requests [16, 22) fail: 6 runs
	api := newRunTarget(t, func(n int) bool { return slices.Contains(blips, n) || (n >= failFrom && n < failTo) })
	edge := newRunTarget(t, func(int) bool { return false })
	dnsAddr := startDNSAnswering(t)
	a := startScenario(t, fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 200ms, timeout: 150ms, failure_threshold: 2, recovery_threshold: 2}
services:
  - name: talk
    features:
      - name: send
        require: all
        checks:
          - name: api
            http: {url: "%s/"}
          - name: edge
            http: {url: "%s/"}
          - name: dns
            dns: {server: "%s", query_name: talk.example.com, query_type: A}
`, api.URL, edge.URL, dnsAddr))

	testenv.WaitFor(t, 15*time.Second, "the outage to close and 5 more runs", func() bool {
		o := a.Engine().Outages(sla.OutageQuery{})
		return api.count() > failTo+5 && len(o) > 0 && o[0].End != nil
	})
	outages := a.Engine().Outages(sla.OutageQuery{})
	log := api.answers()
	defer func() {
		if t.Failed() {
			t.Logf("gaps between runs over 300ms: %v", longGaps(log, 300*time.Millisecond))
		}
	}()
	if len(outages) != 1 {
		t.Fatalf("%d outages, want 1 (the blips at runs %v open none): %+v", len(outages), blips, outages)
	}
	o := outages[0]
	atRunStart(t, "outage start", o.Start, log, failFrom)
	atRunStart(t, "outage end", *o.End, log, failTo)
	if o.Cause.Check != "api" || !strings.Contains(o.Cause.Error, "503") {
		t.Errorf("cause %+v, want check api with its 503", o.Cause)
	}
	if want := o.End.Sub(o.Start).Seconds(); math.Abs(o.DowntimeSeconds-want) > 0.001 {
		t.Errorf("downtime %.3fs, want all of its %.3fs", o.DowntimeSeconds, want)
	}
	if states := statesOf(transitionsOf(t, a)); !slices.Equal(states, []sla.State{sla.StateUp, sla.StateDown, sla.StateRecovering, sla.StateUp}) {
		t.Errorf("state history %v, want up, down, recovering, up", states)
	}
}

// TestScenarioQuorumDegradedNeverDown: quorum(2) of 3 with one check down for
// 30 runs: degraded for that long, never down, no outage.
func TestScenarioQuorumDegradedNeverDown(t *testing.T) {
	const failFrom, failTo = 5, 35
	api := newRunTarget(t, func(n int) bool { return n >= failFrom && n < failTo })
	other := newRunTarget(t, func(int) bool { return false })
	a := startScenario(t, fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 100ms, timeout: 80ms, failure_threshold: 2, recovery_threshold: 2}
services:
  - name: talk
    features:
      - name: send
        require: quorum(2)
        checks:
          - name: api
            http: {url: "%[1]s/"}
          - name: b
            http: {url: "%[2]s/b"}
          - name: c
            http: {url: "%[2]s/c"}
`, api.URL, other.URL))

	testenv.WaitFor(t, 15*time.Second, "the feature up again after the check recovered", func() bool {
		return api.count() > failTo+2 && a.Engine().Features()[0].State == sla.StateUp
	})
	status := a.Engine().Features()[0]
	tr := transitionsOf(t, a)
	if states := statesOf(tr); !slices.Equal(states, []sla.State{sla.StateUp, sla.StateDegraded, sla.StateUp}) {
		t.Errorf("state history %v, want up, degraded, up", states)
	}
	if o := a.Engine().Outages(sla.OutageQuery{}); len(o) != 0 {
		t.Errorf("%d outages, want none: %+v", len(o), o)
	}
	if status.DowntimeSeconds != 0 {
		t.Errorf("downtime %.3fs, want 0", status.DowntimeSeconds)
	}
	// Degraded from the check's confirmed failure to its confirmed recovery.
	log := api.answers()
	if want := log[failTo].at.Sub(log[failFrom].at).Seconds(); status.DegradedSeconds < want-0.2-scenarioSlack.Seconds() || status.DegradedSeconds > want+0.2+scenarioSlack.Seconds() {
		t.Errorf("degraded %.3fs, want %.3fs (30 runs) ± 2 intervals + %s", status.DegradedSeconds, want, scenarioSlack)
	}
}

// TestScenarioFailureWindow: failure_window {failures: 3, runs: 5} on a target
// failing every other run. Two failures in five runs open nothing; once it
// fails every other run for longer, the check is failing at its 3rd failure
// in 5 runs and the outage starts at the first failed run of the window.
func TestScenarioFailureWindow(t *testing.T) {
	// 200ms runs: a stale result next to the 2 failures in 5 would be a 3rd.
	const altFrom, altTo = 11, 22 // every other run fails: 11, 13, ..., 21
	api := newRunTarget(t, func(n int) bool {
		return n == 4 || n == 6 || (n >= altFrom && n < altTo && (n-altFrom)%2 == 0)
	})
	a := startScenario(t, fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 200ms, timeout: 150ms, failure_window: {failures: 3, runs: 5}, recovery_threshold: 2}
services:
  - name: talk
    features:
      - name: send
        checks:
          - name: api
            http: {url: "%s/"}
`, api.URL))

	// Down once the 3rd failure of the alternating runs (run 24) is seen.
	var seenAt int
	testenv.WaitFor(t, 10*time.Second, "the outage to open", func() bool {
		n := api.count()
		if len(a.Engine().Outages(sla.OutageQuery{})) == 0 {
			return false
		}
		seenAt = n
		return true
	})
	if seenAt < altFrom+5 {
		t.Errorf("outage open after %d requests, want after run %d (the 3rd failure in 5 runs)", seenAt, altFrom+4)
	}
	testenv.WaitFor(t, 10*time.Second, "the outage to close", func() bool {
		o := a.Engine().Outages(sla.OutageQuery{})
		return api.count() > altTo+3 && len(o) > 0 && o[0].End != nil
	})
	outages := a.Engine().Outages(sla.OutageQuery{})
	log := api.answers()
	if len(outages) != 1 {
		t.Fatalf("%d outages, want 1 (runs 4 and 6 are 2 failures in 5): %+v", len(outages), outages)
	}
	atRunStart(t, "outage start", outages[0].Start, log, altFrom)
	atRunStart(t, "outage end", *outages[0].End, log, altTo)
}

// TestScenarioFlapping: a target up 20 runs, down 13, twice, with flap
// {changes: 3, window: 4s} (the 4 changes span a cycle of 33 runs of 100ms,
// the window over a cycle): the feature is
// flagged flapping at its 4th state change, its downtime still counted, and
// the flag clears once it has been stable for the window.
func TestScenarioFlapping(t *testing.T) {
	const (
		interval = 100 * time.Millisecond
		cycle    = 33
		window   = 4 * time.Second
	)
	api := newRunTarget(t, func(n int) bool { return n < 2*cycle && n%cycle >= 20 })
	a := startScenario(t, fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 100ms, timeout: 80ms, failure_threshold: 2, recovery_threshold: 2}
services:
  - name: talk
    features:
      - name: send
        flap: {changes: 3, window: 4s}
        checks:
          - name: api
            http: {url: "%s/"}
`, api.URL))

	testenv.WaitFor(t, 15*time.Second, "the feature flagged flapping", func() bool { return a.Engine().Features()[0].Flapping })
	status := a.Engine().Features()[0]
	tr := transitionsOf(t, a)
	// up, down, recovering, up, down: the 4th change after the first flags it.
	if len(tr) < 5 || status.FlappingSince == nil || !status.FlappingSince.Equal(tr[4].At) {
		t.Fatalf("flapping since %v, want the 4th change; transitions %+v", status.FlappingSince, tr)
	}
	if d := tr[4].At.Sub(tr[1].At); d > window {
		t.Errorf("flagged %s after the first change, want within the %s window", d, window)
	}

	// Stable after the second cycle: cleared a window after the last change.
	var lastFlapping time.Time
	testenv.WaitFor(t, window+10*time.Second, "the flag cleared", func() bool {
		now := time.Now()
		if a.Engine().Features()[0].Flapping {
			lastFlapping = now
			return false
		}
		return api.count() > 2*cycle
	})
	cleared := time.Now()
	tr = transitionsOf(t, a)
	last := tr[len(tr)-1].At
	if lastFlapping.Before(last.Add(window - interval - 100*time.Millisecond)) {
		t.Errorf("still flapping last seen %s after the last change, want about the %s window", lastFlapping.Sub(last), window)
	}
	if d := cleared.Sub(last); d > window+interval+scenarioSlack {
		t.Errorf("cleared %s after the last change, want within %s", d, window+interval+scenarioSlack)
	}
	states := statesOf(tr)
	want := []sla.State{sla.StateUp, sla.StateDown, sla.StateRecovering, sla.StateUp, sla.StateDown, sla.StateRecovering, sla.StateUp}
	if !slices.Equal(states, want) {
		t.Errorf("state history %v, want %v", states, want)
	}
	// Downtime is counted as without the flag: two outages of 13 runs each.
	outages := a.Engine().Outages(sla.OutageQuery{})
	log := api.answers()
	if len(outages) != 2 {
		t.Fatalf("%d outages, want 2: %+v", len(outages), outages)
	}
	for i, o := range outages { // newest first
		from := (1-i)*cycle + 20
		atRunStart(t, fmt.Sprintf("outage %d start", i), o.Start, log, from)
		atRunStart(t, fmt.Sprintf("outage %d end", i), *o.End, log, from+13)
	}
	var downtime float64
	for _, o := range outages {
		downtime += o.End.Sub(o.Start).Seconds()
	}
	if status = a.Engine().Features()[0]; math.Abs(status.DowntimeSeconds-downtime) > 0.001 {
		t.Errorf("downtime %.3fs, want the outages' %.3fs", status.DowntimeSeconds, downtime)
	}
}

// TestScenarioVantageCut: a canary and the feature's target stop answering
// together (one switch fails both) for 60 runs of 100ms: no outage, no
// downtime, the cut counted unmonitored within one interval, the vantage
// reported impaired and the feature unknown meanwhile. Then the target failing
// alone while the canary passes opens an outage as usual.
func TestScenarioVantageCut(t *testing.T) {
	const (
		interval = 100 * time.Millisecond
		cut      = 60 * interval
	)
	var network, alone atomic.Bool
	gateway := newRunTarget(t, func(int) bool { return network.Load() })
	api := newRunTarget(t, func(int) bool { return network.Load() || alone.Load() })
	a := startScenario(t, fmt.Sprintf(`agent:
  region: kr-central-1
  canaries:
    - name: gateway
      http: {url: "%s/"}
defaults: {interval: 100ms, timeout: 80ms, failure_threshold: 2, recovery_threshold: 2}
services:
  - name: talk
    features:
      - name: send
        checks:
          - name: api
            http: {url: "%s/"}
`, gateway.URL, api.URL))
	testenv.WaitFor(t, 5*time.Second, "the feature up", func() bool { return a.Engine().Features()[0].State == sla.StateUp })
	from := time.Now()

	network.Store(true)
	cutStart := time.Now()
	testenv.WaitFor(t, cut, "the vantage impaired", func() bool { return !a.Engine().Vantage().Up })
	if s := a.Engine().Features()[0]; s.State != sla.StateUnknown || !strings.Contains(s.Reason, "vantage impaired") {
		t.Errorf("feature %s (%q) while the vantage is impaired, want unknown for the vantage", s.State, s.Reason)
	}
	if v := a.Engine().Vantage(); !strings.Contains(v.Reason, "gateway") {
		t.Errorf("vantage reason %q does not name the canary", v.Reason)
	}
	<-time.After(time.Until(cutStart.Add(cut))) // the script: the cut lasts 60 runs
	network.Store(false)
	testenv.WaitFor(t, 5*time.Second, "the vantage and the feature back", func() bool {
		return a.Engine().Vantage().Up && a.Engine().Features()[0].State == sla.StateUp
	})
	to := time.Now()
	if o := a.Engine().Outages(sla.OutageQuery{}); len(o) != 0 {
		t.Fatalf("%d outages from the cut, want none: %+v", len(o), o)
	}
	rf := a.Engine().Report(from, to).Features[0]
	if rf.DowntimeSeconds != 0 {
		t.Errorf("downtime %.3fs over the cut, want 0", rf.DowntimeSeconds)
	}
	// Unmonitored from the canary's first failed run to its first passing one.
	if d := rf.UnmonitoredSeconds - cut.Seconds(); d < -(interval+scenarioSlack).Seconds() || d > (interval+scenarioSlack).Seconds() {
		t.Errorf("unmonitored %.3fs, want %s ± %s", rf.UnmonitoredSeconds, cut, interval+scenarioSlack)
	}

	// The target alone fails for 10 runs while the canary passes.
	soloFrom := api.count()
	alone.Store(true)
	testenv.WaitFor(t, 5*time.Second, "the outage to open", func() bool { return len(a.Engine().Outages(sla.OutageQuery{})) == 1 })
	testenv.WaitFor(t, 5*time.Second, "10 failed runs", func() bool { return api.count() >= soloFrom+10 })
	alone.Store(false)
	testenv.WaitFor(t, 5*time.Second, "the outage to close", func() bool {
		o := a.Engine().Outages(sla.OutageQuery{})
		return len(o) == 1 && o[0].End != nil
	})
	o := a.Engine().Outages(sla.OutageQuery{})[0]
	s := streaks(api.answers(), soloFrom)
	if len(s) != 1 {
		t.Fatalf("target failing streaks %v after run %d, want 1", s, soloFrom)
	}
	log := api.answers()
	atRunStart(t, "outage start", o.Start, log, s[0][0])
	atRunStart(t, "outage end", *o.End, log, s[0][1])
	if o.UnmonitoredSeconds != 0 || o.DowntimeSeconds <= 0 {
		t.Errorf("outage downtime %.3fs unmonitored %.3fs, want all of it downtime", o.DowntimeSeconds, o.UnmonitoredSeconds)
	}
}
