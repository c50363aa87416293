package sla

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
)

// BurnAlert names one of the multiwindow burn-rate alert conditions the
// engine evaluates from its own burn rates: those of the shipped rules
// (deploy/prometheus/vigil-rules.yml, after the SRE workbook).
type BurnAlert string

// The burn-rate alerts: page is VigilErrorBudgetFastBurn's condition,
// ticket VigilErrorBudgetSlowBurn's.
const (
	AlertPage   BurnAlert = "page"
	AlertTicket BurnAlert = "ticket"
)

// BurnCondition is one pair of a burn-rate alert: it holds while the burn
// rate over both windows is above Factor.
type BurnCondition struct {
	Alert       BurnAlert
	Long, Short string // names in BurnWindows
	Factor      float64
}

// BurnConditions are the pairs, as in the shipped rules: page when 1h and 5m
// burn over 14.4 or 6h and 30m over 6; ticket when 1d and 2h burn over 3 or
// 3d and 6h over 1. Vigil evaluates them without the rules' `for:` delay.
var BurnConditions = []BurnCondition{
	{AlertPage, "1h", "5m", 14.4},
	{AlertPage, "6h", "30m", 6},
	{AlertTicket, "1d", "2h", 3},
	{AlertTicket, "3d", "6h", 1},
}

// burnIndex is the index of the burn window named name.
func burnIndex(name string) int {
	for i, w := range burnWindows {
		if w.name == name {
			return i
		}
	}
	panic("sla: no burn window " + name)
}

// Firing returns the conditions that hold for the figures' burn rates, in
// BurnConditions' order.
func (r *FeatureFigures) Firing() []BurnCondition {
	var out []BurnCondition
	for _, c := range BurnConditions {
		if r.Burn[burnIndex(c.Long)] > c.Factor && r.Burn[burnIndex(c.Short)] > c.Factor {
			out = append(out, c)
		}
	}
	return out
}

// GatePolicy is a feature's error-budget gate (`gate:`): what makes
// GET /api/v1/gate refuse a deploy.
type GatePolicy struct {
	// MinBudgetRemaining (a ratio, 0.1 for 10%) blocks while the error
	// budget remaining is below it; ignored unless HasMinBudget.
	MinBudgetRemaining float64
	HasMinBudget       bool
	// BlockWhenFiring blocks while any of these alerts' conditions holds.
	BlockWhenFiring []BurnAlert
}

func sameGate(a, b *GatePolicy) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.MinBudgetRemaining == b.MinBudgetRemaining && a.HasMinBudget == b.HasMinBudget &&
		slices.Equal(a.BlockWhenFiring, b.BlockWhenFiring)
}

// GateDecision is the gate's answer for one feature.
type GateDecision struct {
	Service string `json:"service"`
	Feature string `json:"feature"`
	Allow   bool   `json:"allow"`
	// Reasons say why the gate blocks; empty when it allows.
	Reasons []string `json:"reasons"`
	// ErrorBudgetRemaining is over the SLO window (for a calendar window,
	// the current period), as vigil_sla_error_budget_remaining_ratio.
	ErrorBudgetRemaining float64 `json:"error_budget_remaining"`
	Window               string  `json:"window"`
	// MinBudgetRemaining is the policy's threshold, absent when the budget
	// does not block.
	MinBudgetRemaining *float64 `json:"min_budget_remaining,omitempty"`
	// Firing lists the burn-rate alerts whose condition holds now, blocking
	// or not; BlockWhenFiring those that block.
	Firing          []BurnAlert `json:"firing"`
	BlockWhenFiring []BurnAlert `json:"block_when_firing"`
	// Policy is false when no gate is configured for the feature: it then
	// always allows.
	Policy bool `json:"policy"`
}

// The errors Gate returns for names it does not know.
var (
	ErrUnknownService = errors.New("unknown service")
	ErrUnknownFeature = errors.New("unknown feature")
)

// Gate decides for feature of service (every feature of the service when
// feature is "") whether its policy allows a deploy now. It wraps
// ErrUnknownService or ErrUnknownFeature for names not configured.
func (e *Engine) Gate(service, feature string) ([]GateDecision, error) {
	rows, specs, _ := e.Figures(nil, 0)
	var out []GateDecision
	serviceKnown := false
	for i := range rows {
		r := &rows[i]
		spec := &specs[r.Index]
		if spec.Service != service {
			continue
		}
		serviceKnown = true
		if feature != "" && spec.Feature != feature {
			continue
		}
		out = append(out, decide(spec, r))
	}
	switch {
	case !serviceKnown:
		return nil, fmt.Errorf("%w %q", ErrUnknownService, service)
	case len(out) == 0:
		return nil, fmt.Errorf("%w %q of service %q", ErrUnknownFeature, feature, service)
	}
	return out, nil
}

// decide applies spec's gate to its figures r.
func decide(spec *FeatureSpec, r *FeatureFigures) GateDecision {
	d := GateDecision{Service: spec.Service, Feature: spec.Feature, Allow: true, Reasons: []string{},
		ErrorBudgetRemaining: r.BudgetRemaining, Firing: []BurnAlert{}, BlockWhenFiring: []BurnAlert{}}
	d.Window = spec.Calendar.String()
	if d.Window == "" {
		d.Window = model.Duration(sloWindow(*spec)).String()
	}
	firing := r.Firing()
	for _, c := range firing {
		if !slices.Contains(d.Firing, c.Alert) {
			d.Firing = append(d.Firing, c.Alert)
		}
	}
	g := spec.Gate
	if g == nil {
		return d
	}
	d.Policy = true
	d.BlockWhenFiring = append(d.BlockWhenFiring, g.BlockWhenFiring...)
	if g.HasMinBudget {
		v := g.MinBudgetRemaining
		d.MinBudgetRemaining = &v
		if r.BudgetRemaining < v {
			d.Reasons = append(d.Reasons, fmt.Sprintf("error budget remaining %s over %s is below the gate's %s",
				percent(r.BudgetRemaining), d.Window, percent(v)))
		}
	}
	for _, c := range firing {
		if slices.Contains(g.BlockWhenFiring, c.Alert) {
			d.Reasons = append(d.Reasons, fmt.Sprintf("%s burn-rate alert firing: burn rate %.4g over %s and %.4g over %s, both above %g",
				c.Alert, r.Burn[burnIndex(c.Long)], c.Long, r.Burn[burnIndex(c.Short)], c.Short, c.Factor))
		}
	}
	d.Allow = len(d.Reasons) == 0
	return d
}

// percent renders a ratio as a percentage with up to 4 decimals.
func percent(ratio float64) string {
	s := fmt.Sprintf("%.4f", ratio*100)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}
