package sla

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// step is one check result in a scripted timeline, and what the feature
// should show right after it.
type step struct {
	at     float64 // start, seconds after t0
	check  string
	ok     bool
	dur    time.Duration
	err    string
	want   State
	reason string // substring expected in Reason when set
}

func TestStateMachine(t *testing.T) {
	ok := func(at float64, check string, want State) step {
		return step{at: at, check: check, ok: true, want: want}
	}
	fail := func(at float64, check string, want State) step {
		return step{at: at, check: check, err: "connection refused", want: want}
	}
	tests := []struct {
		name        string
		spec        func(s *FeatureSpec)
		checks      []string
		steps       []step
		wantOutages []outageSpan
		wantCause   Cause
		wantFailed  []string
	}{{
		name:        "thresholds of 1: first failure opens, first pass closes",
		checks:      []string{"a"},
		steps:       []step{ok(0, "a", StateUp), fail(10, "a", StateDown), ok(20, "a", StateUp)},
		wantOutages: []outageSpan{{10, 20}}, wantCause: Cause{"a", "connection refused"}, wantFailed: []string{"a"},
	}, {
		name:   "fewer failures than the threshold open nothing",
		spec:   func(s *FeatureSpec) { s.FailureThreshold = 3 },
		checks: []string{"a"},
		steps:  []step{ok(0, "a", StateUp), fail(10, "a", StateUp), fail(20, "a", StateUp), ok(30, "a", StateUp), fail(40, "a", StateUp)},
	}, {
		name:   "outage starts at the first failure of the streak and ends at the first pass",
		spec:   func(s *FeatureSpec) { s.FailureThreshold, s.RecoveryThreshold = 2, 2 },
		checks: []string{"a"},
		steps: []step{ok(0, "a", StateUp), fail(10, "a", StateUp), fail(20, "a", StateDown), fail(30, "a", StateDown),
			ok(40, "a", StateRecovering), ok(50, "a", StateUp)},
		wantOutages: []outageSpan{{10, 40}},
	}, {
		name:   "recovering then failing resumes the same outage",
		spec:   func(s *FeatureSpec) { s.RecoveryThreshold = 3 },
		checks: []string{"a"},
		steps: []step{ok(0, "a", StateUp), fail(10, "a", StateDown), ok(20, "a", StateRecovering), ok(30, "a", StateRecovering),
			fail(40, "a", StateDown), ok(50, "a", StateRecovering), ok(60, "a", StateRecovering), ok(70, "a", StateUp)},
		wantOutages: []outageSpan{{10, 50}},
	}, {
		name:        "unknown until the first result; failures below threshold leave it unknown",
		spec:        func(s *FeatureSpec) { s.FailureThreshold = 2 },
		checks:      []string{"a"},
		steps:       []step{fail(0, "a", StateUnknown), fail(10, "a", StateDown)},
		wantOutages: []outageSpan{{0, -1}},
	}, {
		name:   "degraded by redundancy loss",
		spec:   func(s *FeatureSpec) { s.Require = Require{Mode: RequireAny} },
		checks: []string{"dc1", "dc2"},
		steps: []step{ok(0, "dc1", StateUp),
			{at: 1, check: "dc2", err: "i/o timeout", want: StateDegraded, reason: "check dc2 failing: i/o timeout"},
			ok(10, "dc1", StateDegraded), ok(11, "dc2", StateUp), fail(20, "dc1", StateDegraded), fail(21, "dc2", StateDown)},
		// Changed (issue 16): the cause is the check whose failure broke the
		// requirement (the outage starts at its edge), not the first failing.
		wantOutages: []outageSpan{{21, -1}}, wantCause: Cause{"dc2", "connection refused"}, wantFailed: []string{"dc1", "dc2"},
	}, {
		name:   "degraded by latency",
		spec:   func(s *FeatureSpec) { s.Latency = 800 * time.Millisecond },
		checks: []string{"a"},
		steps: []step{
			{at: 0, check: "a", ok: true, dur: 1200 * time.Millisecond, want: StateDegraded, reason: "slowest passing run 1.2s over 800ms"},
			{at: 10, check: "a", ok: true, dur: 100 * time.Millisecond, want: StateUp}},
	}, {
		name:   "quorum 2 of 3",
		spec:   func(s *FeatureSpec) { s.Require = Require{Mode: RequireQuorum, N: 2} },
		checks: []string{"a", "b", "c"},
		steps: []step{ok(0, "a", StateUp), ok(1, "b", StateUp), fail(2, "c", StateDegraded), fail(10, "a", StateDown),
			ok(11, "b", StateDown), ok(12, "c", StateDegraded), ok(20, "a", StateUp)},
		wantOutages: []outageSpan{{10, 12}}, wantCause: Cause{"a", "connection refused"}, wantFailed: []string{"a", "c"},
	}, {
		name:        "before every check reported, only reported checks count",
		checks:      []string{"a", "b"},
		steps:       []step{ok(0, "a", StateUp), ok(10, "a", StateUp), fail(11, "b", StateDown)},
		wantOutages: []outageSpan{{11, -1}}, wantCause: Cause{"b", "connection refused"},
	}, {
		// Changed (issue 16): each check confirms its own recovery (2 passing
		// runs of its own), and the outage ends when the last one's began.
		name:   "checks failed during an outage are listed once each",
		spec:   func(s *FeatureSpec) { s.RecoveryThreshold = 2 },
		checks: []string{"a", "b"},
		steps: []step{ok(0, "a", StateUp), ok(0, "b", StateUp), fail(10, "a", StateDown), ok(11, "a", StateRecovering),
			fail(12, "b", StateDown), fail(20, "a", StateDown), ok(21, "a", StateDown), ok(22, "b", StateRecovering),
			ok(30, "a", StateRecovering), ok(32, "b", StateUp)},
		wantOutages: []outageSpan{{10, 22}}, wantCause: Cause{"a", "connection refused"}, wantFailed: []string{"a", "b"},
	}, {
		name:   "a straggler older than the latest result is ignored",
		checks: []string{"a"},
		steps:  []step{ok(10, "a", StateUp), fail(5, "a", StateUp)},
	}, {
		name: "maintenance hides failures and opens no outage",
		spec: func(s *FeatureSpec) {
			s.Maintenance = []Maintenance{{Start: at(100), Duration: 100 * time.Second}}
		},
		checks: []string{"a"},
		steps: []step{ok(90, "a", StateUp), fail(110, "a", StateMaintenance), fail(190, "a", StateMaintenance),
			ok(200, "a", StateUp)},
	}, {
		name: "an outage stays open across maintenance",
		spec: func(s *FeatureSpec) {
			s.Maintenance = []Maintenance{{Start: at(100), Duration: 100 * time.Second}}
		},
		checks:      []string{"a"},
		steps:       []step{ok(0, "a", StateUp), fail(50, "a", StateDown), ok(150, "a", StateMaintenance), ok(250, "a", StateUp)},
		wantOutages: []outageSpan{{50, 250}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(t0)
			e := memTest(t, clock)
			s := testSpec("f", tc.checks...)
			if tc.spec != nil {
				tc.spec(&s)
			}
			mustConfigure(t, e, s)
			for i, st := range tc.steps {
				clock.Set(at(st.at).Add(st.dur))
				e.Observe("talk", "f", st.check, Observation{Start: at(st.at), Duration: st.dur, Success: st.ok, Error: st.err})
				got := status(t, e, "f")
				if got.State != st.want {
					t.Fatalf("step %d (%s at %gs ok=%v): state %s, want %s (reason %q)", i, st.check, st.at, st.ok, got.State, st.want, got.Reason)
				}
				if st.reason != "" && !strings.Contains(got.Reason, st.reason) {
					t.Errorf("step %d: reason %q, want it to contain %q", i, got.Reason, st.reason)
				}
			}
			outages := e.Outages(OutageQuery{})
			if got := spans(outages); !slices.Equal(got, tc.wantOutages) && (len(got) > 0 || len(tc.wantOutages) > 0) {
				t.Fatalf("outages %v, want %v", got, tc.wantOutages)
			}
			if len(outages) == 0 {
				return
			}
			first := outages[len(outages)-1]
			if tc.wantCause != (Cause{}) && first.Cause != tc.wantCause {
				t.Errorf("cause %+v, want %+v", first.Cause, tc.wantCause)
			}
			if tc.wantFailed != nil && !slices.Equal(first.ChecksFailed, tc.wantFailed) {
				t.Errorf("checks_failed %v, want %v", first.ChecksFailed, tc.wantFailed)
			}
			if first.Region != "kr-central-1" || first.Service != "talk" || first.Feature != "f" || first.ID == 0 {
				t.Errorf("outage identity %+v", first)
			}
		})
	}
}

func TestOutageAcrossMaintenanceCountsOnlyOutsideIt(t *testing.T) {
	clock := newFakeClock(t0)
	e := memTest(t, clock)
	s := testSpec("f", "a")
	s.Maintenance = []Maintenance{{Start: at(100), Duration: 100 * time.Second}}
	mustConfigure(t, e, s)
	for _, r := range []struct {
		at float64
		ok bool
	}{{0, true}, {50, false}, {250, true}} {
		clock.Set(at(r.at))
		e.Observe("talk", "f", "a", Observation{Start: at(r.at), Success: r.ok, Error: "down"})
	}
	clock.Set(at(300))
	o := e.Outages(OutageQuery{})
	if len(o) != 1 || o[0].DurationSeconds != 200 || o[0].MaintenanceSeconds != 100 || o[0].DowntimeSeconds != 100 {
		t.Fatalf("outage %+v, want 200s long with 100s maintenance and 100s downtime", o)
	}
	r := e.Report(t0, at(300))
	f := r.Features[0]
	if f.DowntimeSeconds != 100 || f.MaintenanceSeconds != 100 || f.UnmonitoredSeconds != 0 {
		t.Fatalf("report %+v", f)
	}
	if want := 1 - 100.0/200; f.Availability != want {
		t.Fatalf("availability %v, want %v", f.Availability, want)
	}
}

func TestCronMaintenance(t *testing.T) {
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	clock := newFakeClock(t0) // Sunday 00:00 UTC = Sunday 09:00 KST
	e := memTest(t, clock)
	s := testSpec("f", "a")
	// 10:00 KST on Sundays = 01:00 UTC, 30 minutes.
	s.Maintenance = []Maintenance{{Cron: "0 10 * * SUN", Location: seoul, Duration: 30 * time.Minute}}
	mustConfigure(t, e, s)
	for _, tc := range []struct {
		at   time.Duration
		want State
	}{
		{59 * time.Minute, StateUp}, {time.Hour, StateMaintenance}, {89 * time.Minute, StateMaintenance},
		{90 * time.Minute, StateUp}, {7*24*time.Hour + 65*time.Minute, StateMaintenance},
	} {
		clock.Set(t0.Add(tc.at))
		e.Observe("talk", "f", "a", Observation{Start: t0.Add(tc.at), Success: true})
		if got := status(t, e, "f").State; got != tc.want {
			t.Errorf("at +%s: state %s, want %s", tc.at, got, tc.want)
		}
	}
	clock.Set(t0.Add(8 * 24 * time.Hour))
	r := e.Report(t0, t0.Add(8*24*time.Hour))
	if got := r.Features[0].MaintenanceSeconds; got != 2*1800 {
		t.Fatalf("maintenance %vs over 8 days, want 3600", got)
	}
}

func TestConfigure(t *testing.T) {
	clock := newFakeClock(t0)
	e := memTest(t, clock)
	a, b := testSpec("a", "x"), testSpec("b", "x")
	mustConfigure(t, e, a, b)
	ref := e.Check("talk", "a", "x")
	if ref == nil || e.Check("talk", "a", "nope") != nil || e.Check("talk", "zz", "x") != nil {
		t.Fatal("Check: want a ref for a configured check only")
	}
	clock.Set(at(10))
	ref.Observe(Observation{Start: at(10), Error: "boom"})
	if got := status(t, e, "a").State; got != StateDown {
		t.Fatalf("state %s, want down", got)
	}
	mustConfigure(t, e, a, b) // idempotent: the ref stays valid
	clock.Set(at(20))
	ref.Observe(Observation{Start: at(20), Success: true})
	if got := status(t, e, "a").State; got != StateUp {
		t.Fatalf("after an idempotent reload: state %s, want up", got)
	}
	// Remove a: its ref becomes a no-op, its history stays.
	clock.Set(at(30))
	mustConfigure(t, e, b)
	ref.Observe(Observation{Start: at(30), Error: "boom"})
	if n := len(e.Features()); n != 1 {
		t.Fatalf("%d features configured, want 1", n)
	}
	if o := e.Outages(OutageQuery{Feature: "a"}); len(o) != 1 || o[0].End == nil {
		t.Fatalf("outages of removed feature: %+v", o)
	}
	// Re-adding a: the time it was away is unmonitored.
	clock.Set(at(50))
	mustConfigure(t, e, a, b)
	clock.Set(at(60))
	r := e.Report(t0, at(60))
	if f := r.Features[0]; f.Feature != "a" || f.UnmonitoredSeconds != 20 || f.DowntimeSeconds != 10 {
		t.Fatalf("report for a: %+v", f)
	}
	// Removing a feature during an outage ends the outage there; when the
	// feature comes back it is unknown until its first result.
	clock.Set(at(70))
	e.Observe("talk", "a", "x", Observation{Start: at(70), Error: "boom"})
	clock.Set(at(80))
	mustConfigure(t, e, b)
	clock.Set(at(90))
	mustConfigure(t, e, a, b)
	if got := spans(e.Outages(OutageQuery{Feature: "a"})); len(got) != 2 || got[1] != (outageSpan{70, 80}) {
		t.Fatalf("outages after removal during an outage: %v", got)
	}
	if st := status(t, e, "a"); st.State != StateUnknown {
		t.Fatalf("re-added feature state %s, want unknown", st.State)
	}
	for _, bad := range [][]FeatureSpec{
		{{Service: "", Feature: "x"}},
		{a, a},
		{func() FeatureSpec { s := testSpec("q", "x"); s.Objective = 1; return s }()},
		{func() FeatureSpec { s := testSpec("q", "x"); s.Require = Require{Mode: RequireQuorum, N: 2}; return s }()},
		{func() FeatureSpec {
			s := testSpec("q", "x")
			s.Maintenance = []Maintenance{{Cron: "not cron", Duration: time.Minute}}
			return s
		}()},
	} {
		if err := e.Configure(bad); err == nil {
			t.Errorf("Configure(%+v): want an error", bad)
		}
	}
}

// TestDowntimeCounterNeverTakesBackRecoveryTime: while a feature recovers, the
// open outage may still end at the start of recovery, so the downtime counter
// must not count the recovering time (heartbeats and scrapes included) until
// it is known to be downtime; a counter cannot go down.
func TestDowntimeCounterNeverTakesBackRecoveryTime(t *testing.T) {
	for _, recovers := range []bool{true, false} {
		t.Run(fmt.Sprintf("recovery completes %v", recovers), func(t *testing.T) {
			clock := newFakeClock(t0)
			e := memTest(t, clock)
			s := testSpec("f", "a")
			s.RecoveryThreshold = 3
			mustConfigure(t, e, s)
			observe := func(sec float64, ok bool) {
				clock.Set(at(sec))
				e.Observe("talk", "f", "a", Observation{Start: at(sec), Success: ok, Error: "down"})
			}
			observe(0, true)
			observe(10, false) // outage from 10
			observe(20, true)  // recovering from 20
			var seen []float64
			for _, sec := range []float64{25, 30, 35} { // heartbeats and scrapes while recovering
				clock.Set(at(sec))
				if err := e.beat(false); err != nil {
					t.Fatal(err)
				}
				seen = append(seen, status(t, e, "f").DowntimeSeconds)
			}
			observe(30, true)
			observe(40, recovers) // third pass closes the outage at 20; a failure resumes it
			clock.Set(at(45))
			seen = append(seen, status(t, e, "f").DowntimeSeconds)
			for i := 1; i < len(seen); i++ {
				if seen[i] < seen[i-1] {
					t.Fatalf("downtime counter went down: %v", seen)
				}
			}
			want := 10.0 // [10, 20)
			if !recovers {
				want = 35 // [10, 45): the recovery never happened
			}
			if got := seen[len(seen)-1]; got != want {
				t.Fatalf("downtime counter %v at the end, want %v (history %v)", got, want, seen)
			}
		})
	}
}

// TestStaleResultIsAFailedRun: a check with no run for 2 × interval +
// timeout counts a failed run at that moment, found by the heartbeat once
// the silence is older than a heartbeat interval; a run that is merely late
// is not one (issue 16).
func TestStaleResultIsAFailedRun(t *testing.T) {
	clock := newFakeClock(t0)
	e := memTest(t, clock)
	mustConfigure(t, e, staleSpec(testSpec("f", "a", "b")))
	obs := func(sec float64, check string, ok bool) {
		clock.Set(at(sec))
		e.Observe("talk", "f", check, Observation{Start: at(sec), Success: ok, Error: "503"})
	}
	beat := func(sec float64) {
		clock.Set(at(sec))
		if err := e.Heartbeat(); err != nil {
			t.Fatal(err)
		}
	}
	obs(0, "a", true)
	obs(0, "b", true)
	obs(10, "a", true)
	obs(20, "a", true)
	beat(32) // b is 32 s silent, but a run of it may be on its way: not yet
	if got := spans(e.Outages(OutageQuery{})); len(got) != 0 {
		t.Fatalf("outages %v after a silence younger than a heartbeat interval, want none", got)
	}
	obs(30, "a", true)
	beat(36) // now b's silence since 25 s is older than the interval
	got := e.Outages(OutageQuery{})
	if s := spans(got); fmt.Sprint(s) != fmt.Sprint([]outageSpan{{25, -1}}) {
		t.Fatalf("outages %v, want one from 25s (the moment b went stale)", s)
	}
	if c := got[0].Cause; c != (Cause{"b", "stale: no result for 25s"}) {
		t.Errorf("cause %+v, want check b stale", c)
	}
	if st := status(t, e, "f"); st.State != StateDown || st.Reason != "check b failing: stale: no result for 25s" {
		t.Errorf("state %s reason %q, want down with b stale", st.State, st.Reason)
	}
	obs(40, "b", true)
	if s := spans(e.Outages(OutageQuery{})); fmt.Sprint(s) != fmt.Sprint([]outageSpan{{25, 40}}) {
		t.Errorf("outages %v, want {25 40}", s)
	}
}
