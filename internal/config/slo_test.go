package config

import (
	"strings"
	"testing"
	"time"
)

const sloConfig = `agent: {region: kr-central-1}
defaults:
  slo: {objective: 99.9, window: calendar-month, timezone: Asia/Seoul}
  gate: {min_budget_remaining: 10%, block_when_firing: [page]}
services:
  - name: pay
    gate: {block_when_firing: [page, ticket]}
    features:
      - name: transfer
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
      - name: card
        slo: {objective: 99.5, window: calendar-week, timezone: Europe/Berlin}
        gate: {min_budget_remaining: 25}
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
      - name: rolling
        slo: {window: 7d}
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
  - name: talk
    features:
      - name: send
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
`

// TestSLOWindowsAndGates: calendar windows and their zones, and gates
// inherited field by field from the defaults through the service.
func TestSLOWindowsAndGates(t *testing.T) {
	cfg, err := Parse("vigil.yml", []byte(sloConfig))
	if err != nil {
		t.Fatal(err)
	}
	feature := func(s, f int) *Feature { return &cfg.Services[s].Features[f] }
	pct := func(v float64) *Percent { p := Percent(v); return &p }
	cases := []struct {
		name      string
		f         *Feature
		objective float64
		window    SLOWindow
		zone      string
		minBudget *Percent
		firing    []string
	}{
		{"inherits window, zone and the service's firing", feature(0, 0), 99.9, SLOWindow{Calendar: CalendarMonth}, "Asia/Seoul", pct(10), []string{"page", "ticket"}},
		{"own week in Berlin, own budget", feature(0, 1), 99.5, SLOWindow{Calendar: CalendarWeek}, "Europe/Berlin", pct(25), []string{"page", "ticket"}},
		{"rolling 7d keeps UTC", feature(0, 2), 99.9, RollingWindow(7 * 24 * time.Hour), "Asia/Seoul", pct(10), []string{"page", "ticket"}},
		{"defaults only", feature(1, 0), 99.9, SLOWindow{Calendar: CalendarMonth}, "Asia/Seoul", pct(10), []string{"page"}},
	}
	for _, c := range cases {
		s := c.f.SLO
		if s.Objective != c.objective || s.Window != c.window || s.Location == nil || s.Location.String() != c.zone {
			t.Errorf("%s: slo %v %v in %v, want %v %v in %s", c.name, s.Objective, s.Window, s.Location, c.objective, c.window, c.zone)
		}
		g := c.f.Gate
		if g == nil || g.MinBudgetRemaining == nil || *g.MinBudgetRemaining != *c.minBudget || strings.Join(g.BlockWhenFiring, ",") != strings.Join(c.firing, ",") {
			t.Errorf("%s: gate %+v, want min %v firing %v", c.name, g, *c.minBudget, c.firing)
		}
	}
}

// TestSLOWindowErrors: every bad key is named with its line.
func TestSLOWindowErrors(t *testing.T) {
	const bad = `agent: {region: kr-central-1}
defaults:
  gate: {min_budget_remaining: lots}
services:
  - name: pay
    gate: {block_when_firing: [pager]}
    features:
      - name: a
        slo: {window: calendar-year}
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
      - name: b
        slo: {window: calendar-month, timezone: Mars/Olympus}
        gate: {min_budget_remaining: 120%}
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
      - name: c
        slo: {window: 30d, timezone: Asia/Seoul}
        gate: {}
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
`
	_, err := Parse("vigil.yml", []byte(bad))
	if err == nil {
		t.Fatal("Parse accepted a bad config")
	}
	want := []string{
		`vigil.yml:3: defaults.gate.min_budget_remaining: want a percentage like 10%, not "lots"`,
		`vigil.yml:6: services[0].gate.block_when_firing[0]: unknown alert "pager": want page or ticket`,
		`vigil.yml:9: services[0].features[0].slo.window: window "calendar-year": want a duration like 30d, or calendar-month or calendar-week`,
		`vigil.yml:12: services[0].features[1].slo.timezone: unknown time zone "Mars/Olympus" (an IANA name like Asia/Seoul)`,
		`vigil.yml:13: services[0].features[1].gate.min_budget_remaining: must be a percentage between 0% and 100%, not 120%`,
		`vigil.yml:16: services[0].features[2].slo.timezone: applies to a calendar window (calendar-month or calendar-week), not 30d`,
		`vigil.yml:17: services[0].features[2].gate: sets neither min_budget_remaining nor block_when_firing`,
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing error\n  %s\nin\n%s", w, got)
		}
	}
}
