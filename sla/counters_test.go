package sla

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// crashCopy simulates kill -9: it copies the store file as it is on disk at
// this moment (no final heartbeat, no clean mark) into a new directory, for
// the next "run" to open. Holding writeMu, no commit is half-way.
func crashCopy(t *testing.T, e *Engine) string {
	t.Helper()
	e.writeMu.Lock()
	data, err := os.ReadFile(e.file)
	e.writeMu.Unlock()
	if err != nil {
		t.Fatalf("crash copy of %s: %v", e.file, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, storeFile), data, 0o600); err != nil {
		t.Fatalf("crash copy to %s: %v", dir, err)
	}
	return dir
}

// openCrashTest opens dir with a 10 s heartbeat (the test drives beats by
// hand, the engine's own ticker never fires within a test).
func openCrashTest(t *testing.T, dir string, clock Clock) *Engine {
	t.Helper()
	e, err := Open(Options{Path: dir, Region: "kr-central-1", Clock: clock, HeartbeatInterval: 10 * time.Second, noSync: true})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// exported returns what /metrics shows now for talk/feature: downtime,
// degraded and unmonitored seconds and the outages counter.
func exported(t *testing.T, e *Engine, feature string) [4]float64 {
	t.Helper()
	now := e.nowNanos()
	e.mu.RLock()
	f, gaps := e.features[featureKey("talk", feature)], e.gaps
	e.mu.RUnlock()
	if f == nil {
		t.Fatalf("no feature talk/%s", feature)
	}
	var l ledger
	f.mu.Lock()
	n := f.numbers(now, gaps, &l)
	f.mu.Unlock()
	return [4]float64{n.downtime, n.degraded, n.unmonitored, float64(n.outages)}
}

var counterNames = [4]string{"vigil_sla_downtime_seconds_total", "vigil_sla_degraded_seconds_total",
	"vigil_sla_unmonitored_seconds_total", "vigil_outages_total"}

// TestCountersAcrossCrashesMatchReport: five kill -9 cycles with an outage
// open on one feature and a degraded spell on another. A scrape may have seen
// the counters up to the moment of the kill, so they may never come back
// lower; and they may not run ahead of the report either, which counts the
// time since the last heartbeat as unmonitored (issue 14, defect 3).
func TestCountersAcrossCrashesMatchReport(t *testing.T) {
	clock := newFakeClock(t0)
	down := testSpec("down", "a")
	down.FailureThreshold = 2
	degraded := testSpec("degraded", "a", "b")
	degraded.Require = Require{Mode: RequireAny}
	e := openCrashTest(t, t.TempDir(), clock)
	mustConfigure(t, e, down, degraded)
	sec := 0.0
	observe := func(e *Engine) {
		clock.Set(at(sec))
		e.Observe("talk", "down", "a", Observation{Start: at(sec), Error: "503"})
		e.Observe("talk", "degraded", "a", Observation{Start: at(sec), Success: true})
		e.Observe("talk", "degraded", "b", Observation{Start: at(sec), Error: "refused"})
	}
	var seen [2][4]float64 // the highest values a scrape saw, per feature
	scrape := func(e *Engine, when string) {
		for i, feature := range []string{"down", "degraded"} {
			got := exported(t, e, feature)
			for k := range got {
				if got[k] < seen[i][k] {
					t.Fatalf("%s: %s{feature=%q} went back from %v to %v", when, counterNames[k], feature, seen[i][k], got[k])
				}
			}
			seen[i] = got
		}
	}
	for cycle := range 5 {
		// 25 s of running: a result every 5 s, heartbeats at +10 and +20,
		// then a scrape at +29 and the kill; the agent comes back 4 s later.
		start := sec
		for step := 1; step <= 5; step++ {
			sec = start + float64(step)*5
			observe(e)
			if step == 2 || step == 4 {
				if err := e.beat(false); err != nil {
					t.Fatal(err)
				}
			}
			scrape(e, "running")
		}
		sec = start + 29
		clock.Set(at(sec))
		scrape(e, "before the kill")
		dir := crashCopy(t, e)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		sec += 4
		clock.Set(at(sec))
		e = openCrashTest(t, dir, clock)
		mustConfigure(t, e, down, degraded)
		scrape(e, fmt.Sprintf("after the restart of cycle %d", cycle+1))
	}
	r := e.Report(t0, at(sec))
	for i, rf := range r.Features {
		want := [4]float64{rf.DowntimeSeconds, rf.DegradedSeconds, rf.UnmonitoredSeconds, float64(len(rf.Outages))}
		got := exported(t, e, rf.Feature)
		for k := range got {
			if math.Abs(got[k]-want[k]) > 10 { // one heartbeat interval
				t.Errorf("%s{feature=%q} = %v after 5 crashes, report says %v", counterNames[k], rf.Feature, got[k], want[k])
			}
		}
		if i == 0 && (rf.Feature != "degraded" || rf.DegradedSeconds < 50 || rf.DowntimeSeconds != 0) {
			t.Errorf("report for talk/degraded: %+v", rf)
		}
		if i == 1 && (rf.Feature != "down" || len(rf.Outages) != 1 || rf.DowntimeSeconds < 50) {
			t.Errorf("report for talk/down: %+v", rf)
		}
	}
}

// TestCounterKeepsOutageClosedAfterHeartbeat: an outage that closes after
// the last heartbeat has been scraped with its time up to the close; after a
// kill -9 the counter may not fall back to the heartbeat's value (issue 14,
// defect 3: 13.0 -> 10.0, which Prometheus reads as a reset).
func TestCounterKeepsOutageClosedAfterHeartbeat(t *testing.T) {
	clock := newFakeClock(t0)
	e := openCrashTest(t, t.TempDir(), clock)
	mustConfigure(t, e, testSpec("f", "a"))
	observe := func(e *Engine, sec float64, ok bool) {
		clock.Set(at(sec))
		e.Observe("talk", "f", "a", Observation{Start: at(sec), Success: ok, Error: "503"})
	}
	observe(e, 0, false) // outage from 0
	clock.Set(at(10))
	if err := e.beat(false); err != nil {
		t.Fatal(err)
	}
	observe(e, 13, true) // closes at 13, after the heartbeat at 10
	clock.Set(at(15))
	before := exported(t, e, "f")
	if before[0] != 13 {
		t.Fatalf("downtime counter %v before the kill, want 13", before[0])
	}
	dir := crashCopy(t, e)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	clock.Set(at(20))
	e = openCrashTest(t, dir, clock)
	after := exported(t, e, "f")
	for k := range after {
		if after[k] < before[k] {
			t.Errorf("%s went back from %v to %v across kill -9", counterNames[k], before[k], after[k])
		}
	}
	r := e.Report(t0, at(20)).Features[0]
	if r.DowntimeSeconds != 10 || r.UnmonitoredSeconds != 10 {
		t.Errorf("report: downtime %v unmonitored %v, want 10 and 10 (the time after the heartbeat is unmonitored)",
			r.DowntimeSeconds, r.UnmonitoredSeconds)
	}
	if math.Abs(after[0]-r.DowntimeSeconds) > 10 || after[2] != r.UnmonitoredSeconds {
		t.Errorf("counters %v after the kill, report downtime %v unmonitored %v", after, r.DowntimeSeconds, r.UnmonitoredSeconds)
	}
}

// TestCounterHoldsWhatAScrapeSaw: a passing run that began before a scrape
// and ended after it starts recovery at its start, before the moment the
// scrape counted downtime to. The counter keeps what it showed (TestKill9Loop
// saw it fall by 3.5 ms), and the record pays the difference off later.
func TestCounterHoldsWhatAScrapeSaw(t *testing.T) {
	clock := newFakeClock(t0)
	spec := testSpec("down", "a")
	spec.FailureThreshold, spec.RecoveryThreshold = 1, 1
	e := openCrashTest(t, t.TempDir(), clock)
	mustConfigure(t, e, spec)
	clock.Set(at(0))
	e.Observe("talk", "down", "a", Observation{Start: at(0), Error: "503"})
	clock.Set(at(10))
	shown := exported(t, e, "down")[0]
	if shown != 10 {
		t.Fatalf("downtime at 10 s of an outage: %g", shown)
	}
	// The run that passes began at 9.5 s and reports at 10.2 s.
	clock.Set(at(10.2))
	e.Observe("talk", "down", "a", Observation{Start: at(9.5), Success: true})
	if got := exported(t, e, "down")[0]; got < shown {
		t.Errorf("downtime fell from %g to %g after a passing run that began before the scrape", shown, got)
	}
	// A later outage pays the half second off: 4 s more downtime shows
	// as 3.5 s more on the counter, so it ends where the record does.
	clock.Set(at(20))
	e.Observe("talk", "down", "a", Observation{Start: at(20), Error: "503"})
	clock.Set(at(24))
	e.Observe("talk", "down", "a", Observation{Start: at(24), Success: true})
	clock.Set(at(30))
	if got := exported(t, e, "down")[0]; got != 13.5 {
		t.Errorf("downtime after a 9.5 s and a 4 s outage: %g, want 13.5", got)
	}
}

// TestScheduledHeartbeat: with ScheduledHeartbeat the caller's Heartbeat is
// what persists liveness: after a kill -9 the gap counted unmonitored starts
// at the last call.
func TestScheduledHeartbeat(t *testing.T) {
	clock := newFakeClock(t0)
	e, err := Open(Options{Path: t.TempDir(), Region: "kr-central-1", Clock: clock, ScheduledHeartbeat: true, noSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	mustConfigure(t, e, testSpec("down", "a"))
	if e.HeartbeatInterval() != 10*time.Second {
		t.Errorf("HeartbeatInterval = %s, want the 10 s default", e.HeartbeatInterval())
	}
	clock.Set(at(5))
	if err := e.Heartbeat(); err != nil {
		t.Fatal(err)
	}
	dir := crashCopy(t, e)
	clock.Set(at(20))
	again := openCrashTest(t, dir, clock)
	if got := exported(t, again, "down")[2]; got != 15 {
		t.Errorf("unmonitored after a crash 15 s after the last Heartbeat: %gs, want 15", got)
	}
}
