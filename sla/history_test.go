package sla

import (
	"fmt"
	"testing"
	"time"
)

func mustLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s not available: %v", name, err)
	}
	return loc
}

// TestDailyHistory plays four days in Seoul (UTC+9) and checks every figure
// of every day to the second: an outage across midnight, one cut by
// maintenance, an agent restart, a degraded spell, a partial today.
func TestDailyHistory(t *testing.T) {
	seoul := mustLocation(t, "Asia/Seoul")
	kst := func(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, seoul) }
	dir := t.TempDir()
	clock := newFakeClock(kst(1, 9, 0)) // t0
	spec := testSpec("message", "a")
	spec.Latency = 800 * time.Millisecond
	spec.Maintenance = []Maintenance{{Start: kst(2, 10, 0), Duration: time.Hour}}
	open := func() *Engine {
		e, err := Open(Options{Path: dir, Region: "kr-central-1", Clock: clock, noSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		mustConfigure(t, e, spec)
		return e
	}
	e := open()
	obs := func(when time.Time, ok bool, dur time.Duration) {
		clock.Set(when)
		e.Observe("talk", "message", "a", Observation{Start: when, Duration: dur, Success: ok, Error: "refused"})
	}
	obs(kst(1, 9, 0), true, 0)
	obs(kst(1, 23, 30), false, 0) // down 23:30 .. 00:45: 30m on the 1st, 45m on the 2nd
	obs(kst(2, 0, 45), true, 0)
	obs(kst(2, 9, 50), false, 0) // down 9:50 .. 11:20 with maintenance 10:00-11:00: 30m
	obs(kst(2, 11, 20), true, 0)
	clock.Set(kst(3, 12, 0)) // the agent stops 12:00 .. 14:00
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	clock.Set(kst(3, 14, 0))
	e = open()
	obs(kst(3, 20, 0), true, 1200*time.Millisecond) // degraded 20:00 .. 20:10
	obs(kst(3, 20, 10), true, 100*time.Millisecond)
	clock.Set(kst(4, 6, 0))

	const day = 86400.0
	tests := []struct {
		date                                                 time.Time
		downtime, degraded, maintenance, unmonitored, eligib float64
	}{
		{time.Date(2026, 10, 31, 0, 0, 0, 0, seoul), 0, 0, 0, day, 0}, // before the feature existed
		{kst(1, 0, 0), 1800, 0, 0, 9 * 3600, 15 * 3600},
		{kst(2, 0, 0), 45*60 + 30*60, 0, 3600, 0, day - 3600},
		{kst(3, 0, 0), 0, 600, 0, 2 * 3600, day - 2*3600},
		{kst(4, 0, 0), 0, 0, 0, 0, 6 * 3600}, // today, up to 06:00
	}
	got := e.DailyHistory("talk", "message", len(tests), seoul)
	if len(got) != len(tests) {
		t.Fatalf("got %d days, want %d", len(got), len(tests))
	}
	for i, w := range tests {
		g := got[i]
		wantAvail := 1.0
		if w.eligib > 0 {
			wantAvail = 1 - w.downtime/w.eligib
		}
		if !g.Date.Equal(w.date) || g.Date.Location() != seoul || g.DowntimeSeconds != w.downtime || g.DegradedSeconds != w.degraded ||
			g.MaintenanceSeconds != w.maintenance || g.UnmonitoredSeconds != w.unmonitored || g.EligibleSeconds != w.eligib ||
			g.Availability != wantAvail {
			t.Errorf("day %s:\n got %+v\nwant %+v availability %v", w.date.Format("Jan 2"), g, w, wantAvail)
		}
	}
	// The days add up to the engine's own 7d window.
	var down, eligible float64
	for _, d := range got {
		down, eligible = down+d.DowntimeSeconds, eligible+d.EligibleSeconds
	}
	if st := status(t, e, "message"); st.Availability.Week != 1-down/eligible {
		t.Errorf("7d availability = %v, days give %v", st.Availability.Week, 1-down/eligible)
	}
	if e.DailyHistory("talk", "nope", 5, seoul) != nil || e.DailyHistory("talk", "message", 0, seoul) != nil {
		t.Error("unknown feature or 0 days should give nil")
	}
}

// TestDailyHistoryDST checks that days follow local midnights where clocks
// change: New York falls back on 1 Nov 2026, a 25-hour day.
func TestDailyHistoryDST(t *testing.T) {
	ny := mustLocation(t, "America/New_York")
	clock := newFakeClock(time.Date(2026, 10, 30, 0, 0, 0, 0, ny))
	e := memTest(t, clock)
	mustConfigure(t, e, testSpec("message", "a"))
	fail := time.Date(2026, 10, 31, 23, 30, 0, 0, ny)
	clock.Set(fail)
	e.Observe("talk", "message", "a", Observation{Start: fail, Error: "refused"})
	back := time.Date(2026, 11, 2, 0, 30, 0, 0, ny) // 26h after fail
	clock.Set(back)
	e.Observe("talk", "message", "a", Observation{Start: back, Success: true})
	clock.Set(time.Date(2026, 11, 2, 12, 0, 0, 0, ny))

	got := e.DailyHistory("talk", "message", 4, ny)
	want := []struct {
		date     string
		length   float64
		downtime float64
	}{
		{"2026-10-30", 24 * 3600, 0},
		{"2026-10-31", 24 * 3600, 30 * 60},
		{"2026-11-01", 25 * 3600, 25 * 3600},
		{"2026-11-02", 12 * 3600, 30 * 60},
	}
	for i, w := range want {
		g := got[i]
		length := g.EligibleSeconds + g.MaintenanceSeconds + g.UnmonitoredSeconds
		if g.Date.Format("2006-01-02") != w.date || g.Date.Hour() != 0 || length != w.length || g.DowntimeSeconds != w.downtime {
			t.Errorf("day %d = %s %+v (length %v), want %s length %v downtime %v", i, g.Date, g, length, w.date, w.length, w.downtime)
		}
	}
	if got[2].Availability != 0 {
		t.Errorf("a day wholly down has availability %v, want 0", got[2].Availability)
	}
}

// TestLastKnownAfterRestart checks what `vigil report --format bulletin`
// relies on: a store opened read-only shows every feature unknown in
// Features() (no result in this run), while LastKnown gives the states the
// agent last recorded, as of its last heartbeat.
func TestLastKnownAfterRestart(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock(t0)
	e, err := Open(Options{Path: dir, Region: "kr-central-1", Clock: clock, noSync: true})
	if err != nil {
		t.Fatal(err)
	}
	normal, downSpec, recovering, degraded, maint, silent := testSpec("normal", "a"), testSpec("down", "a"),
		testSpec("recovering", "a"), testSpec("degraded", "a"), testSpec("maint", "a"), testSpec("silent", "a")
	recovering.RecoveryThreshold = 3
	degraded.Latency = time.Second
	maint.Maintenance = []Maintenance{{Start: at(500), Duration: time.Hour}}
	mustConfigure(t, e, normal, downSpec, recovering, degraded, maint, silent)
	obs := func(feature string, sec float64, ok bool, dur time.Duration) {
		clock.Set(at(sec))
		e.Observe("talk", feature, "a", Observation{Start: at(sec), Success: ok, Duration: dur, Error: "connection refused"})
	}
	obs("normal", 10, true, 0)
	obs("down", 20, false, 0)
	obs("recovering", 30, false, 0)
	obs("recovering", 40, true, 0)
	obs("degraded", 50, true, 2*time.Second)
	obs("maint", 60, true, 0)
	clock.Set(at(600))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	clock.Set(at(7200)) // report run two hours later

	ro, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	for _, s := range ro.Features() {
		if s.State != StateUnknown && s.State != StateMaintenance {
			t.Errorf("read-only Features() %s = %s: expected unknown (no result in this run)", s.Feature, s.State)
		}
	}
	asOf, features := ro.LastKnown()
	if !asOf.Equal(at(600)) {
		t.Errorf("as of %v, want the last heartbeat %v", asOf, at(600))
	}
	want := map[string]struct {
		state  State
		since  float64
		reason string
	}{
		"normal":     {StateUp, 10, ""},
		"down":       {StateDown, 20, "check a failing: connection refused"},
		"recovering": {StateRecovering, 40, "recovering: check a 1 of 3 passing runs"},
		"degraded":   {StateDegraded, 50, "slowest passing run 2s over 1s"},
		"maint":      {StateMaintenance, 500, ""},
		"silent":     {StateUnknown, 0, ""},
	}
	if len(features) != len(want) {
		t.Fatalf("LastKnown gave %d features, want %d", len(features), len(want))
	}
	for _, s := range features {
		w := want[s.Feature]
		if s.State != w.state || !s.Since.Equal(at(w.since)) || s.Reason != w.reason {
			t.Errorf("%s = %s since %v reason %q; want %s since %v reason %q", s.Feature, s.State, s.Since, s.Reason,
				w.state, at(w.since), w.reason)
		}
		if s.Feature == "down" && (s.Outage == nil || s.Outage.End != nil || s.Outage.DurationSeconds != 580) {
			t.Errorf("down's open outage = %+v, want open, 580s as of the heartbeat", s.Outage)
		}
	}
	if fmt.Sprint(ro.Region()) != "kr-central-1" {
		t.Errorf("Region() = %q", ro.Region())
	}
}
