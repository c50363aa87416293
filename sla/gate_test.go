package sla

import (
	"errors"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBurnConditionsMatchShippedRules: the page and ticket conditions the
// gate evaluates are those of deploy/prometheus/vigil-rules.yml (severity
// page: VigilErrorBudgetFastBurn, ticket: VigilErrorBudgetSlowBurn).
func TestBurnConditionsMatchShippedRules(t *testing.T) {
	data, err := os.ReadFile("../deploy/prometheus/vigil-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	pair := regexp.MustCompile(`vigil_sla_burn_rate\{window="(\w+)"\} > ([0-9.]+) and ignoring \(window\) vigil_sla_burn_rate\{window="(\w+)"\} > ([0-9.]+)`)
	severity := regexp.MustCompile(`severity: (\w+)`)
	var got []BurnCondition
	for _, block := range strings.Split(string(data), "- alert: ")[1:] {
		if !strings.HasPrefix(block, "VigilErrorBudget") {
			continue
		}
		sev := severity.FindStringSubmatch(block)
		for _, m := range pair.FindAllStringSubmatch(block, -1) {
			long, _ := strconv.ParseFloat(m[2], 64)
			short, _ := strconv.ParseFloat(m[4], 64)
			if long != short {
				t.Errorf("%s: the two windows have thresholds %v and %v", m[0], long, short)
			}
			got = append(got, BurnCondition{Alert: BurnAlert(sev[1]), Long: m[1], Short: m[3], Factor: long})
		}
	}
	if !reflect.DeepEqual(got, BurnConditions) {
		t.Errorf("shipped rules' burn-rate pairs\n %+v\nthe gate's\n %+v", got, BurnConditions)
	}
}

// TestFiringAtThreshold: a pair fires only when both windows burn above
// its factor, not at it.
func TestFiringAtThreshold(t *testing.T) {
	set := func(burns map[string]float64) *FeatureFigures {
		r := &FeatureFigures{}
		for name, v := range burns {
			r.Burn[burnIndex(name)] = v
		}
		return r
	}
	cases := []struct {
		name  string
		burns map[string]float64
		want  []BurnAlert
	}{
		{"at 14.4", map[string]float64{"1h": 14.4, "5m": 20}, nil},
		{"just above 14.4", map[string]float64{"1h": 14.41, "5m": 14.41}, []BurnAlert{AlertPage}},
		{"long only", map[string]float64{"6h": 7, "30m": 5}, nil},
		{"6h pair and ticket", map[string]float64{"6h": 7, "30m": 7, "3d": 1.5}, []BurnAlert{AlertPage, AlertTicket}},
		{"1d pair", map[string]float64{"1d": 3.5, "2h": 3.5}, []BurnAlert{AlertTicket}},
	}
	for _, c := range cases {
		var got []BurnAlert
		for _, cond := range set(c.burns).Firing() {
			got = append(got, cond.Alert)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: firing %v, want %v", c.name, got, c.want)
		}
	}
}

// TestGateCalendarBudgetResets: with a calendar-month window in Asia/Seoul
// the gate that blocks on November's spent budget opens at midnight of
// 1 December there (15:00 UTC), when the budget starts afresh.
func TestGateCalendarBudgetResets(t *testing.T) {
	seoul := mustZone(t, "Asia/Seoul")
	start := time.Date(2026, 10, 31, 15, 0, 0, 0, time.UTC)
	clock := newFakeClock(start)
	e := memTest(t, clock)
	spec := testSpec("f", "a")
	spec.Calendar = Calendar{Period: CalendarMonth, Location: seoul}
	spec.Gate = &GatePolicy{HasMinBudget: true, MinBudgetRemaining: 0.5}
	mustConfigure(t, e, spec)
	e.Observe("talk", "f", "a", Observation{Start: start, Success: true})
	down := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	clock.Set(down)
	e.Observe("talk", "f", "a", Observation{Start: down, Error: "refused"})
	clock.Set(down.Add(1800 * time.Second))
	e.Observe("talk", "f", "a", Observation{Start: down.Add(1800 * time.Second), Success: true})

	boundary := time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		now   time.Time
		allow bool
	}{{boundary.Add(-time.Second), false}, {boundary, true}} {
		clock.Set(c.now)
		d, err := e.Gate("talk", "f")
		if err != nil {
			t.Fatal(err)
		}
		if d[0].Allow != c.allow || d[0].Window != "calendar-month" {
			t.Errorf("at %s: allow %v over %q (budget %v, reasons %q); want %v over calendar-month",
				c.now, d[0].Allow, d[0].Window, d[0].ErrorBudgetRemaining, d[0].Reasons, c.allow)
		}
	}
	if _, err := e.Gate("talk", "g"); !errors.Is(err, ErrUnknownFeature) {
		t.Errorf("unknown feature: %v", err)
	}
	if _, err := e.Gate("mail", ""); !errors.Is(err, ErrUnknownService) {
		t.Errorf("unknown service: %v", err)
	}
}
