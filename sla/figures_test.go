package sla

import (
	"math"
	"testing"
	"time"
)

// TestFigures: the figures a presenter gets, by the index of the specs of
// their generation; specs come only when the configuration changed; the
// steady call allocates nothing.
func TestFigures(t *testing.T) {
	clock := newFakeClock(t0)
	e := memTest(t, clock)
	mustConfigure(t, e, testSpec("g", "a"), testSpec("f", "a"))
	clock.Set(at(0))
	e.Observe("talk", "f", "a", Observation{Start: at(0), Success: true})
	e.Observe("talk", "g", "a", Observation{Start: at(0), Success: true})
	clock.Set(at(1800))
	e.Observe("talk", "f", "a", Observation{Start: at(1800), Error: "refused"})
	clock.Set(at(3600))

	rows, specs, gen := e.Figures(nil, 0)
	if len(rows) != 2 || len(specs) != 2 || gen == 0 {
		t.Fatalf("Figures: %d rows, %d specs, generation %d; want 2, 2, > 0", len(rows), len(specs), gen)
	}
	f := rows[0]
	if spec := specs[f.Index]; spec.Feature != "f" {
		t.Fatalf("first row is %s, want f (sorted by key)", spec.Feature)
	}
	want := FeatureFigures{Index: f.Index, Objective: 0.999, State: StateDown,
		DowntimeSeconds: 1800, Outages: 1, OutageActive: true, OutageStart: float64(at(1800).Unix()), LastOutageSeconds: 1800}
	want.Availability, want.Burn, want.BudgetRemaining = f.Availability, f.Burn, f.BudgetRemaining
	if f != want {
		t.Errorf("figures of f\n got %+v\nwant %+v", f, want)
	}
	if budget := 1 - 1800/(0.001*3600); math.Abs(f.BudgetRemaining-budget) > 1e-9 {
		t.Errorf("budget remaining of f %v, want %v", f.BudgetRemaining, budget)
	}
	if math.Abs(f.Availability[0]-0.5) > 1e-9 || math.Abs(f.Availability[len(f.Availability)-1]-0.5) > 1e-9 {
		t.Errorf("availability of f %v, want 0.5 over 1h and the SLO window", f.Availability)
	}
	if got, want := len(AvailabilityWindows()), len(f.Availability); got != want {
		t.Errorf("%d availability window names for %d figures", got, want)
	}
	if got, want := len(BurnWindows()), len(f.Burn); got != want {
		t.Errorf("%d burn window names for %d figures", got, want)
	}

	if _, again, gen2 := e.Figures(rows[:0], gen); again != nil || gen2 != gen {
		t.Errorf("unchanged configuration: specs %v, generation %d -> %d; want none, unchanged", again, gen, gen2)
	}
	// The ledger's interval lists grow once per call, not per feature.
	if allocs := testing.AllocsPerRun(20, func() { rows, _, _ = e.Figures(rows[:0], gen) }); allocs > 6 {
		t.Errorf("Figures allocates %v times per call, want at most 6 (the ledger's lists)", allocs)
	}
	mustConfigure(t, e, testSpec("f", "a"))
	if rows, specs, gen3 := e.Figures(rows[:0], gen); gen3 == gen || len(specs) != 1 || len(rows) != 1 || rows[0].Index != 0 {
		t.Errorf("after Configure: generation %d -> %d, %d specs, %d rows; want a new generation, 1, 1", gen, gen3, len(specs), len(rows))
	}
}

// TestBurnRateAlertPairs checks when the SRE workbook's multiwindow alerts
// would first fire for a full outage of a 99.9% feature monitored for days.
func TestBurnRateAlertPairs(t *testing.T) {
	clock := newFakeClock(t0)
	e := memTest(t, clock)
	mustConfigure(t, e, testSpec("f", "a"))
	outageAt := t0.Add(4 * 24 * time.Hour)
	clock.Set(outageAt.Add(-10 * time.Second))
	e.Observe("talk", "f", "a", Observation{Start: outageAt.Add(-10 * time.Second), Success: true})
	clock.Set(outageAt)
	e.Observe("talk", "f", "a", Observation{Start: outageAt, Error: "down"})

	// With the whole window eligible, burn(w) after x seconds of outage is
	// min(x, w) / w / 0.001, so a pair fires once the longer window holds:
	// 1h > 14.4 at x > 51.84s; 6h > 6 at x > 129.6s; 1d > 3 at x > 259.2s;
	// 3d > 1 at x > 259.2s (the short windows hold sooner).
	pairs := []struct {
		name        string
		long, short int // indexes into burnWindows
		threshold   float64
		firstSecond int
	}{
		{"1h&5m>14.4", 2, 0, 14.4, 52},
		{"6h&30m>6", 4, 1, 6, 130},
		{"1d&2h>3", 5, 3, 3, 260},
		{"3d&6h>1", 6, 4, 1, 260},
	}
	first := make([]int, len(pairs))
	f := e.features[featureKey("talk", "f")]
	var l ledger
	for x := 0; x <= 300; x++ {
		now := outageAt.Add(time.Duration(x) * time.Second).UnixNano()
		f.mu.Lock()
		n := f.numbers(now, e.gaps, &l)
		f.mu.Unlock()
		for i, p := range pairs {
			if first[i] == 0 && n.burn[p.long] > p.threshold && n.burn[p.short] > p.threshold {
				first[i] = x
			}
		}
	}
	for i, p := range pairs {
		if first[i] != p.firstSecond {
			t.Errorf("%s first holds %ds into the outage, want %ds", p.name, first[i], p.firstSecond)
		}
	}
}
