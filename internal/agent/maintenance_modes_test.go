package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/maintenance"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/sla"
	"github.com/vigil-monitoring/vigil/sla/store"
)

type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time { return c.now }

// TestMaintenanceModesFigures: each mode's effect on the SLA figures, to the
// second, through the agent's own paths (addRuntimeMaintenance for exclude,
// the pause wrapper's skipped runs for pause) into the real engine with an
// injected clock. A check runs every second from 0 to 600; it fails over
// [200, 320); a window is declared at 100 over [150, 350):
//   - exclude: no outage; 200 s of maintenance; nothing down;
//   - mute: the outage counts in full (120 s down), no maintenance;
//   - pause: the runs inside the window are skipped, so the check is blind
//     from 150 to its first real run at 350: 200 s unmonitored, nothing down;
//
// and once the window has passed it ends by itself: runs after 350 count.
func TestMaintenanceModesFigures(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, tc := range []struct {
		mode                          maintenance.Mode
		down, maintained, unmonitored float64
	}{
		{maintenance.ModeExclude, 0, 200, 0},
		{maintenance.ModeMute, 120, 0, 0},
		{maintenance.ModePause, 0, 0, 200},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			clock := &stepClock{now: t0}
			e, err := sla.New(store.NewMemory(), sla.Options{Region: "kr-central-1", Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			book, _ := maintenance.Open("")
			a := &Agent{maint: book, opts: Options{Clock: clock}}
			spec := sla.FeatureSpec{Service: "talk", Feature: "send", Objective: 0.999, Window: 30 * 24 * time.Hour,
				FailureThreshold: 1, RecoveryThreshold: 1, Labels: map[string]string{"datacenter": "pangyo"},
				Checks: []sla.CheckSpec{{Name: "api", Kind: "http", Interval: time.Second, Timeout: 500 * time.Millisecond}}}
			configure := func() {
				specs := []sla.FeatureSpec{spec}
				a.addRuntimeMaintenance(specs, clock.Now())
				if err := e.Configure(specs); err != nil {
					t.Fatal(err)
				}
			}
			configure()
			target := maintenance.Target{Service: "talk", Feature: "send", Labels: spec.Labels}
			prober := &pausable{Prober: proberFunc(func() *probes.Result { return nil }), a: a, target: target}
			ref := e.Check("talk", "send", "api")
			for s := 0; s <= 600; s++ {
				clock.now = at(s)
				if s == 100 {
					start := at(150)
					if _, err := book.Add(maintenance.Request{Selector: map[string]string{"datacenter": "pangyo"},
						Start: &start, Duration: "200s", Mode: tc.mode, Author: "ops"}, []maintenance.Target{target}, clock.now); err != nil {
						t.Fatal(err)
					}
					configure() // what MaintenanceChanged does
				}
				failing := s >= 200 && s < 320
				r := &probes.Result{Start: at(s), Duration: 10 * time.Millisecond, Success: !failing}
				if failing {
					r.Err = errors.New("status 503")
				}
				prober.Prober = proberFunc(func() *probes.Result { return r })
				got := prober.Probe(t.Context())
				if id, ok := paused(got); ok {
					ref.Observe(sla.Observation{Start: got.Start, AgentFault: "paused by maintenance " + id})
					continue
				}
				ref.Observe(sla.Observation{Start: got.Start, Duration: got.Duration, Success: got.Success, Error: got.ErrorString()})
			}
			f := e.Report(at(0), at(600)).Features[0]
			if f.DowntimeSeconds != tc.down || f.MaintenanceSeconds != tc.maintained || f.UnmonitoredSeconds != tc.unmonitored {
				t.Errorf("down %v maintenance %v unmonitored %v, want %v %v %v", f.DowntimeSeconds, f.MaintenanceSeconds,
					f.UnmonitoredSeconds, tc.down, tc.maintained, tc.unmonitored)
			}
			if st := e.Features()[0].State; st != sla.StateUp {
				t.Errorf("state after the window %s, want up (the window ended by itself)", st)
			}
		})
	}
}

type proberFunc func() *probes.Result

func (f proberFunc) Probe(context.Context) *probes.Result { return f() }
