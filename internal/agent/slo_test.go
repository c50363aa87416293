package agent

import (
	"reflect"
	"testing"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/sla"
)

// TestFeatureSpecCalendarAndGate: slo.window/timezone and gate reach the
// SLA engine's spec.
func TestFeatureSpecCalendarAndGate(t *testing.T) {
	cfg, err := config.Parse("vigil.yml", []byte(`agent: {region: kr-central-1}
defaults:
  gate: {min_budget_remaining: 10%, block_when_firing: [page]}
services:
  - name: pay
    features:
      - name: transfer
        slo: {window: calendar-month, timezone: Asia/Seoul}
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
      - name: card
        slo: {window: 7d}
        gate: {block_when_firing: [page, ticket]}
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	specs := FeatureSpecs(cfg.Checks())
	card, transfer := specs[0], specs[1]
	if c := transfer.Calendar; c.Period != sla.CalendarMonth || c.Location.String() != "Asia/Seoul" {
		t.Errorf("transfer calendar %+v, want month in Asia/Seoul", c)
	}
	if card.Calendar.Enabled() || card.Window.Hours() != 7*24 {
		t.Errorf("card window %v calendar %+v, want rolling 7d", card.Window, card.Calendar)
	}
	want := &sla.GatePolicy{HasMinBudget: true, MinBudgetRemaining: 0.1, BlockWhenFiring: []sla.BurnAlert{sla.AlertPage}}
	if !reflect.DeepEqual(transfer.Gate, want) {
		t.Errorf("transfer gate %+v, want %+v", transfer.Gate, want)
	}
	want = &sla.GatePolicy{HasMinBudget: true, MinBudgetRemaining: 0.1, BlockWhenFiring: []sla.BurnAlert{sla.AlertPage, sla.AlertTicket}}
	if !reflect.DeepEqual(card.Gate, want) {
		t.Errorf("card gate %+v, want %+v", card.Gate, want)
	}
}
