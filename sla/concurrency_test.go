package sla

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestConcurrentUse observes, scrapes, queries and reconfigures at once; run
// with -race. The outage log must stay ordered and disjoint.
func TestConcurrentUse(t *testing.T) {
	clock := newFakeClock(t0)
	e := memTest(t, clock)
	var specs []FeatureSpec
	for i := range 12 {
		s := testSpec(fmt.Sprintf("f%d", i), "a", "b", "c")
		s.Require = Require{Mode: RequireQuorum, N: 2}
		s.FailureThreshold, s.RecoveryThreshold = 2, 2
		specs = append(specs, s)
	}
	mustConfigure(t, e, specs...)

	var tick atomic.Int64 // shared time in 100ms steps, always increasing
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for range 1500 {
				now := t0.Add(time.Duration(tick.Add(1)) * 100 * time.Millisecond)
				clock.Set(now)
				f, c := rng.IntN(12), string(rune('a'+rng.IntN(3)))
				ref := e.Check("talk", fmt.Sprintf("f%d", f), c)
				ref.Observe(Observation{Start: now, Success: rng.IntN(3) > 0, Error: "flaky"})
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 40 {
				rows, specs, _ := e.Figures(nil, 0)
				if len(rows) < len(specs)-1 || len(rows) == 0 {
					t.Errorf("Figures: %d rows of %d features", len(rows), len(specs))
					return
				}
				for _, r := range rows {
					if r.Index >= len(specs) {
						t.Errorf("Figures: row index %d of %d specs", r.Index, len(specs))
						return
					}
				}
				_ = e.Features()
				_ = e.Outages(OutageQuery{Service: "talk"})
				_ = e.Report(t0, clock.Now())
			}
		})
	}
	wg.Go(func() {
		for i := range 30 {
			n := len(specs)
			if i%2 == 0 {
				n-- // drop the last feature, then bring it back
			}
			if err := e.Configure(specs[:n]); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		for range 30 {
			if err := e.beat(false); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	byFeature := map[string][]Outage{}
	for _, o := range e.Outages(OutageQuery{}) {
		byFeature[o.Feature] = append(byFeature[o.Feature], o)
	}
	if len(byFeature) == 0 {
		t.Fatal("no outages at all: the test did not exercise anything")
	}
	for name, list := range byFeature {
		for i := 1; i < len(list); i++ { // newest first
			newer, older := list[i-1], list[i]
			if older.End == nil || older.End.After(newer.Start) {
				t.Errorf("%s: outages overlap or out of order: %+v then %+v", name, older, newer)
			}
		}
	}
}

// TestHeartbeat runs in a synctest bubble: the ticker fires on virtual time.
func TestHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		e, err := Open(Options{Path: dir, HeartbeatInterval: time.Minute, noSync: true}) // capped at 10s
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		mustConfigure(t, e, testSpec("f", "a"))
		e.Observe("talk", "f", "a", Observation{Start: start, Error: "down"})
		time.Sleep(25 * time.Second)
		synctest.Wait()
		h, err := e.store.Load()
		if err != nil {
			t.Fatal(err)
		}
		heartbeat, c := h.Heartbeat, countersOf(h.Counters[featureKey("talk", "f")])
		if want := start.Add(20 * time.Second).UnixNano(); heartbeat != want || c.at != want {
			t.Errorf("heartbeat at +%s, counters at +%s; want both at +20s",
				time.Duration(heartbeat-start.UnixNano()), time.Duration(c.at-start.UnixNano()))
		}
		if c.downtime != int64(20*time.Second) {
			t.Errorf("persisted downtime %s, want 20s", time.Duration(c.downtime))
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFeatureStatusJSON(t *testing.T) {
	clock := newFakeClock(t0)
	e := memTest(t, clock)
	s := testSpec("f", "a", "b")
	s.Require = Require{Mode: RequireAny}
	mustConfigure(t, e, s)
	clock.Set(at(5))
	e.Observe("talk", "f", "a", Observation{Start: at(5), Duration: 300 * time.Millisecond, Success: true})
	e.Observe("talk", "f", "b", Observation{Start: at(5), Duration: time.Second, Error: "dial tcp 127.0.0.1:1: connection refused"})
	data, err := json.Marshal(e.Features())
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	f := got[0]
	for k, v := range map[string]any{"service": "talk", "feature": "f", "title": "Feature f", "state": "degraded",
		"since": "2026-11-01T00:00:05Z", "reason": "check b failing: dial tcp 127.0.0.1:1: connection refused"} {
		if f[k] != v {
			t.Errorf("%s = %v, want %v", k, f[k], v)
		}
	}
	avail := f["availability"].(map[string]any)
	for _, k := range []string{"1h", "24h", "7d", "30d", "slo"} {
		if avail[k] != 1.0 {
			t.Errorf("availability[%s] = %v, want 1", k, avail[k])
		}
	}
	slo := f["slo"].(map[string]any)
	if slo["objective"] != 0.999 || slo["window"] != "30d" || slo["error_budget_remaining"] != 1.0 {
		t.Errorf("slo %v", slo)
	}
	checks := f["checks"].([]any)
	b := checks[1].(map[string]any)
	if b["name"] != "b" || b["kind"] != "http" || b["up"] != false || b["last_run"] != "2026-11-01T00:00:05Z" ||
		b["duration_seconds"] != 1.0 || b["error"] != "dial tcp 127.0.0.1:1: connection refused" {
		t.Errorf("check b %v", b)
	}
}

func TestOutageQuery(t *testing.T) {
	clock := newFakeClock(t0)
	e := memTest(t, clock)
	mustConfigure(t, e, testSpec("f", "a"), testSpec("g", "a"))
	for _, r := range []struct {
		feature string
		at      float64
		ok      bool
	}{{"f", 10, false}, {"f", 20, true}, {"g", 30, false}, {"g", 40, true}, {"f", 50, false}} {
		clock.Set(at(r.at))
		e.Observe("talk", r.feature, "a", Observation{Start: at(r.at), Success: r.ok})
	}
	clock.Set(at(60))
	tests := []struct {
		q    OutageQuery
		want []float64 // starts, newest first
	}{
		{OutageQuery{}, []float64{50, 30, 10}},
		{OutageQuery{Feature: "f"}, []float64{50, 10}},
		{OutageQuery{Service: "other"}, nil},
		{OutageQuery{Since: at(25)}, []float64{50, 30}},
		{OutageQuery{Until: at(25)}, []float64{10}},
		{OutageQuery{Since: at(35), Until: at(45)}, []float64{30}},
		{OutageQuery{Since: at(55)}, []float64{50}}, // open: counts up to now
	}
	for _, tc := range tests {
		var got []float64
		for _, o := range e.Outages(tc.q) {
			got = append(got, o.Start.Sub(t0).Seconds())
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Outages(%+v) starts %v, want %v", tc.q, got, tc.want)
		}
	}
}
