package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// gateBackend is a real engine on a store under a temp dir, on clock: pay's
// features have gates (transfer-a and -b 10% of budget left and page,
// card page only), talk/send has none.
func gateBackend(t *testing.T, clock *testClock) *backend {
	t.Helper()
	engine, err := sla.Open(sla.Options{Path: t.TempDir(), Region: "kr-central-1", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	spec := func(service, feature string, gate *sla.GatePolicy) sla.FeatureSpec {
		return sla.FeatureSpec{Service: service, Feature: feature, Objective: 0.999, Window: 30 * 24 * time.Hour,
			FailureThreshold: 1, RecoveryThreshold: 1, Gate: gate,
			Checks: []sla.CheckSpec{{Name: "api", Kind: "http"}}} // no interval: never stale
	}
	budgetAndPage := &sla.GatePolicy{HasMinBudget: true, MinBudgetRemaining: 0.1, BlockWhenFiring: []sla.BurnAlert{sla.AlertPage}}
	if err := engine.Configure([]sla.FeatureSpec{
		spec("pay", "transfer-a", budgetAndPage), spec("pay", "transfer-b", budgetAndPage),
		spec("pay", "card", &sla.GatePolicy{BlockWhenFiring: []sla.BurnAlert{sla.AlertPage}}),
		spec("talk", "send", nil),
	}); err != nil {
		t.Fatal(err)
	}
	return &backend{engine: engine}
}

// TestGate: the gate flips at the budget threshold (a 99.9% feature over
// 30 days has 2592 s of budget: 2332 s down leaves 10.03%, 2334 s 9.95%)
// and blocks while a page's burn-rate condition holds; bad requests name
// the parameter; unknown names are 404.
func TestGate(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(30 * 24 * time.Hour)
	clock := &testClock{t: t0}
	b := gateBackend(t, clock)
	e := b.engine
	for _, f := range []string{"transfer-a", "transfer-b", "card"} {
		e.Observe("pay", f, "api", sla.Observation{Start: t0, Success: true})
	}
	e.Observe("talk", "send", "api", sla.Observation{Start: t0, Success: true})
	// A day before now, transfer-a is down 2332 s and transfer-b 2334 s:
	// the short windows are quiet again by now, so only the budget counts.
	down := now.Add(-24 * time.Hour)
	for f, d := range map[string]time.Duration{"transfer-a": 2332 * time.Second, "transfer-b": 2334 * time.Second} {
		clock.Set(down)
		e.Observe("pay", f, "api", sla.Observation{Start: down, Error: "refused"})
		clock.Set(down.Add(d))
		e.Observe("pay", f, "api", sla.Observation{Start: down.Add(d), Success: true})
	}
	// card has been down for the last 10 minutes: 1h burns at 166, 5m at
	// 1000, both over 14.4.
	clock.Set(now.Add(-10 * time.Minute))
	e.Observe("pay", "card", "api", sla.Observation{Start: now.Add(-10 * time.Minute), Error: "timeout"})
	clock.Set(now)

	base := "http://" + startServer(t, b, "").Addr() + "/api/v1/gate"
	cases := []struct {
		query    string
		code     int
		allow    bool
		contains []string
	}{
		{"?service=pay&feature=transfer-a", 200, true, []string{`"error_budget_remaining": 0.1003`, `"min_budget_remaining": 0.1`, `"policy": true`}},
		{"?service=pay&feature=transfer-b", 423, false, []string{`pay/transfer-b: error budget remaining 9.9537% over 30d is below the gate's 10%`}},
		{"?service=pay&feature=card", 423, false, []string{`pay/card: page burn-rate alert firing: burn rate 166.7 over 1h and 1000 over 5m, both above 14.4`, `"firing": [` + "\n" + `        "page",` + "\n" + `        "ticket"`}},
		{"?service=pay", 423, false, []string{`pay/transfer-b: error budget`, `pay/card: page burn-rate`, `"feature": "transfer-a"`}},
		{"?service=talk", 200, true, []string{`"policy": false`, `"reasons": []`}},
		{"?service=mail", 404, false, []string{`service: unknown service \"mail\"`}},
		{"?service=pay&feature=refund", 404, false, []string{`feature: unknown feature \"refund\" of service \"pay\"`}},
		{"", 400, false, []string{`service: required`}},
		{"?service=pay&window=30d", 400, false, []string{`window: unknown parameter`}},
		{"?service=pay&service=talk", 400, false, []string{`service: given more than once`}},
		{"?service=pay&feature=Card!", 400, false, []string{`feature: not a feature name`}},
	}
	for _, c := range cases {
		resp, err := http.Get(base + c.query)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("GET %s = %d, want %d\n%s", c.query, resp.StatusCode, c.code, body)
			continue
		}
		for _, want := range c.contains {
			if !strings.Contains(string(body), want) {
				t.Errorf("GET %s: body lacks %s\n%s", c.query, want, body)
			}
		}
		if c.code == 200 || c.code == 423 {
			var g struct {
				Allow bool `json:"allow"`
			}
			if err := json.Unmarshal(body, &g); err != nil || g.Allow != c.allow {
				t.Errorf("GET %s: allow %v (%v), want %v", c.query, g.Allow, err, c.allow)
			}
		}
	}
}
