package sla

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// TestSpecJSONIsMarshal: the hand-written spec JSON is json.Marshal's, byte
// for byte, so that records written before and after read the same.
func TestSpecJSONIsMarshal(t *testing.T) {
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	specs := map[string]FeatureSpec{
		"zero":  {},
		"plain": testSpec("login", "web", "api"),
		"escaped strings": {Service: `a"b\c`, Feature: "<f>&", Title: "tab\there\x01", ServiceTitle: "카카오톡 \u2028 \xff",
			Labels: map[string]string{"z": "1", "a": "<2>", "": ""}, Checks: []CheckSpec{{Name: "é", Kind: "dns"}}},
		"empty labels and checks": {Labels: map[string]string{}, Checks: []CheckSpec{}},
		"everything": {Service: "s", Feature: "f", Require: Require{Mode: RequireQuorum, N: 2}, Objective: 0.9995,
			Window: 7 * 24 * time.Hour, Latency: 300 * time.Millisecond, FailureThreshold: 3, RecoveryThreshold: 2,
			Flap: Flap{Changes: 6, Window: 30 * time.Minute},
			Checks: []CheckSpec{{Name: "c", Kind: "http", Interval: 10 * time.Second, Timeout: 5 * time.Second,
				FailureThreshold: 2, RecoveryThreshold: 3, FailureWindow: FailureWindow{Failures: 3, Runs: 5}}},
			Maintenance: []Maintenance{{Start: time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC), Duration: time.Hour},
				{Cron: "0 3 * * *", Location: seoul, Duration: time.Hour}},
			Calendar: Calendar{Period: CalendarMonth, Location: seoul},
			Gate:     &GatePolicy{HasMinBudget: true, MinBudgetRemaining: 0.1, BlockWhenFiring: []BurnAlert{AlertPage}}},
		"tiny objective":  {Objective: 1e-7},
		"huge objective":  {Objective: 1e22},
		"whole objective": {Objective: 1},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		s := testSpec("f", "a", "b")
		s.Objective = rng.Float64() * []float64{1, 1e-9, 1e25, 100}[i%4]
		s.Window = time.Duration(rng.Int64())
		s.Require.N = rng.IntN(1000) - 500
		specs["random "+string(rune('a'+i%26))+string(rune('a'+i/26))] = s
	}
	for name, s := range specs {
		want, err := json.Marshal(toSpecRecord(s))
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeSpec(s); string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}
