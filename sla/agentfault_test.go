package sla

import (
	"fmt"
	"testing"
)

// emfile is a result as the agent hands it over when a probe could not even
// open a socket (probes.Result.AgentFault).
func emfile(sec float64) Observation {
	return Observation{Start: at(sec), Error: "http probe talk/f/a: GET http://10.0.0.1/: dial tcp 10.0.0.1:80: socket: too many open files",
		AgentFault: "too many open files"}
}

// TestAgentFaultIsUnmonitored: a result that failed for the agent's own
// reason (no file descriptors: issue 14, defect 4) says nothing about the
// service. It opens no outage and counts toward no streak; the feature's
// time from it to the check's next real result is unmonitored, not
// downtime, also inside an open outage.
func TestAgentFaultIsUnmonitored(t *testing.T) {
	type result struct {
		sec  float64
		kind byte // p pass, f fail, x agent fault
	}
	tests := []struct {
		name                  string
		results               []result
		end                   float64
		outages               []outageSpan
		downtime, unmonitored float64
		state                 State
	}{
		{"faults alone open no outage",
			[]result{{0, 'p'}, {10, 'x'}, {20, 'x'}, {30, 'x'}, {40, 'x'}, {50, 'p'}}, 60,
			nil, 0, 40, StateUp},
		{"faults inside an outage are not downtime",
			[]result{{0, 'f'}, {10, 'f'}, {20, 'x'}, {30, 'x'}, {40, 'f'}, {50, 'p'}}, 60,
			[]outageSpan{{0, 50}}, 30, 20, StateUp},
		{"a fault neither counts toward a streak nor resets it",
			[]result{{0, 'p'}, {10, 'f'}, {20, 'x'}, {30, 'f'}}, 40,
			[]outageSpan{{10, -1}}, 20, 10, StateDown},
		{"still blind at the end",
			[]result{{0, 'p'}, {10, 'x'}, {20, 'x'}}, 35,
			nil, 0, 25, StateUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(t0)
			e := memTest(t, clock)
			s := testSpec("f", "a")
			s.FailureThreshold = 2
			mustConfigure(t, e, s)
			for _, r := range tc.results {
				clock.Set(at(r.sec))
				o := Observation{Start: at(r.sec), Success: r.kind == 'p', Error: "503"}
				if r.kind == 'x' {
					o = emfile(r.sec)
				}
				e.Observe("talk", "f", "a", o)
			}
			clock.Set(at(tc.end))
			if got := spans(e.Outages(OutageQuery{})); fmt.Sprint(got) != fmt.Sprint(tc.outages) && len(got)+len(tc.outages) > 0 {
				t.Errorf("outages %v, want %v", got, tc.outages)
			}
			r := e.Report(t0, at(tc.end)).Features[0]
			if r.DowntimeSeconds != tc.downtime || r.UnmonitoredSeconds != tc.unmonitored {
				t.Errorf("report: downtime %v unmonitored %v, want %v and %v", r.DowntimeSeconds, r.UnmonitoredSeconds, tc.downtime, tc.unmonitored)
			}
			if c := exported(t, e, "f"); c[0] != tc.downtime || c[2] != tc.unmonitored {
				t.Errorf("counters: downtime %v unmonitored %v, want %v and %v", c[0], c[2], tc.downtime, tc.unmonitored)
			}
			if st := status(t, e, "f"); st.State != tc.state {
				t.Errorf("state %s, want %s", st.State, tc.state)
			}
		})
	}
}

// TestAgentFaultShown: while blind, the feature shows unknown with the
// agent's reason, and its check shows the fault as the agent's.
func TestAgentFaultShown(t *testing.T) {
	clock := newFakeClock(t0)
	e := memTest(t, clock)
	mustConfigure(t, e, testSpec("f", "a", "b"))
	e.Observe("talk", "f", "a", Observation{Start: at(0), Success: true})
	e.Observe("talk", "f", "b", Observation{Start: at(0), Success: true})
	clock.Set(at(10))
	e.Observe("talk", "f", "a", emfile(10))
	e.Observe("talk", "f", "b", Observation{Start: at(10), Success: true}) // b alone does not end it
	st := status(t, e, "f")
	if st.State != StateUnknown || !st.Since.Equal(at(10)) || st.Reason != "agent: too many open files (check a)" {
		t.Errorf("blind feature: state %s since %v reason %q", st.State, st.Since, st.Reason)
	}
	if c := st.Checks[0]; c.Up || c.AgentFault != "too many open files" || c.LastRun == nil || !c.LastRun.Equal(at(10)) {
		t.Errorf("blind check: %+v", c)
	}
	if c := st.Checks[1]; !c.Up || c.AgentFault != "" {
		t.Errorf("other check: %+v", c)
	}
	clock.Set(at(20))
	e.Observe("talk", "f", "a", Observation{Start: at(20), Success: true})
	st = status(t, e, "f")
	if st.State != StateUp || st.Reason != "" || st.Checks[0].AgentFault != "" {
		t.Errorf("after a real result: state %s reason %q check %+v", st.State, st.Reason, st.Checks[0])
	}
	if r := e.Report(t0, at(20)).Features[0]; r.UnmonitoredSeconds != 10 || r.DowntimeSeconds != 0 {
		t.Errorf("report: %+v", r)
	}
}

// TestAgentFaultAcrossRestart: the cut is in the store. A restart (clean or
// kill -9) while a check is blind keeps the time unmonitored, the counter
// agrees with the report, and the feature is checked afresh after it.
func TestAgentFaultAcrossRestart(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("kill -9 %v", crash), func(t *testing.T) {
			clock := newFakeClock(t0)
			e := openCrashTest(t, t.TempDir(), clock)
			mustConfigure(t, e, testSpec("f", "a"))
			e.Observe("talk", "f", "a", Observation{Start: at(0), Success: true})
			clock.Set(at(20))
			e.Observe("talk", "f", "a", emfile(20))
			clock.Set(at(30))
			if err := e.beat(false); err != nil {
				t.Fatal(err)
			}
			clock.Set(at(35))
			before := exported(t, e, "f")
			dir := e.file[:len(e.file)-len(storeFile)-1]
			if crash {
				dir = crashCopy(t, e)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			clock.Set(at(50))
			e = openCrashTest(t, dir, clock)
			mustConfigure(t, e, testSpec("f", "a"))
			after := exported(t, e, "f")
			if after[2] < before[2] {
				t.Errorf("unmonitored counter went back from %v to %v", before[2], after[2])
			}
			e.Observe("talk", "f", "a", Observation{Start: at(50), Success: true})
			clock.Set(at(60))
			r := e.Report(t0, at(60)).Features[0]
			// [20, 50): blind, then not running.
			if r.UnmonitoredSeconds != 30 || r.DowntimeSeconds != 0 || len(r.Outages) != 0 {
				t.Errorf("report: unmonitored %v downtime %v outages %d, want 30, 0, 0", r.UnmonitoredSeconds, r.DowntimeSeconds, len(r.Outages))
			}
			if c := exported(t, e, "f"); c[2] != r.UnmonitoredSeconds {
				t.Errorf("unmonitored counter %v, report %v", c[2], r.UnmonitoredSeconds)
			}
			if st := status(t, e, "f"); st.State != StateUp {
				t.Errorf("state %s after the restart and a pass, want up", st.State)
			}
		})
	}
}
