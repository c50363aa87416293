package config

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/vigil-monitoring/vigil/internal/contract"
)

// Contract is the `sla:` block of a service or a feature (their SLA field): the terms a
// contract-grade report measures against. A feature's block replaces its
// service's whole (no merging field by field).
type Contract struct {
	// Objective is the agreed availability in percent; left out, the
	// feature's slo.objective.
	Objective float64 `yaml:"objective,omitempty" json:"objective,omitempty"`
	// Timezone reads CoveredHours and ExcludedDates; default UTC.
	Timezone string `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	// CoveredHours like "Mon-Fri 09:00-18:00"; none: every hour.
	CoveredHours []string `yaml:"covered_hours,omitempty" json:"covered_hours,omitempty"`
	// ExcludedDates like "2026-12-25": local days never covered.
	ExcludedDates []string `yaml:"excluded_dates,omitempty" json:"excluded_dates,omitempty"`
	// Credits are the service-credit tiers.
	Credits []Credit `yaml:"credits,omitempty" json:"credits,omitempty"`

	// Terms is the block parsed by validation (objective not yet filled).
	Terms contract.Contract `yaml:"-" json:"-"`
}

// Credit is one tier of `credits`: availability below Below percent owes
// Credit percent.
type Credit struct {
	Below  float64 `yaml:"below" json:"below"`
	Credit float64 `yaml:"credit" json:"credit"`
}

// contract checks the sla block at path and parses it into c.Terms.
func (p *parser) contract(path string, c *Contract) {
	if c == nil {
		return
	}
	if c.Objective != 0 || p.present(path+".objective") {
		if c.Objective <= 0 || c.Objective >= 100 {
			p.add(path+".objective", "must be a percentage in (0, 100), like 99.9, not %v (leave it out for the feature's slo.objective)", c.Objective)
		}
	}
	t := contract.Contract{Objective: c.Objective, Location: time.UTC}
	if c.Timezone != "" {
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			p.add(path+".timezone", "unknown time zone %q", c.Timezone)
		} else {
			t.Location = loc
		}
	}
	for i, s := range c.CoveredHours {
		h, err := contract.ParseHours(s)
		if err != nil {
			p.add(fmt.Sprintf("%s.covered_hours[%d]", path, i), "%v", err)
			continue
		}
		t.Hours = append(t.Hours, h)
	}
	for i, s := range c.ExcludedDates {
		d, err := contract.ParseDate(s)
		if err != nil {
			p.add(fmt.Sprintf("%s.excluded_dates[%d]", path, i), "%v", err)
			continue
		}
		t.Excluded = append(t.Excluded, d)
	}
	seen := map[float64]int{}
	for i, cr := range c.Credits {
		cp := fmt.Sprintf("%s.credits[%d]", path, i)
		switch {
		case cr.Below <= 0 || cr.Below > 100:
			p.add(cp+".below", "must be a percentage in (0, 100], not %v", cr.Below)
		case cr.Credit <= 0 || cr.Credit > 100:
			p.add(cp+".credit", "must be a percentage in (0, 100], not %v", cr.Credit)
		default:
			if prev, dup := seen[cr.Below]; dup {
				p.add(cp+".below", "%v is also the threshold of credits[%d]", cr.Below, prev)
				continue
			}
			seen[cr.Below] = i
			t.Credits = append(t.Credits, contract.Tier{Below: cr.Below, Credit: cr.Credit})
		}
	}
	// A lower availability never owes less.
	tiers := slices.Clone(t.Credits)
	slices.SortFunc(tiers, func(a, b contract.Tier) int { return cmp.Compare(b.Below, a.Below) })
	for i := 1; i < len(tiers); i++ {
		if tiers[i].Credit < tiers[i-1].Credit {
			p.add(path+".credits", "below %v owes %v%%, less than %v%% below %v: credits must not fall as availability falls",
				tiers[i].Below, tiers[i].Credit, tiers[i-1].Credit, tiers[i-1].Below)
		}
	}
	c.Terms = t
}

// Contracts returns the SLA contract of every feature that has one (its own
// sla block, else its service's), keyed "service/feature", with the
// objective filled from slo.objective where the block leaves it out.
func (c *Config) Contracts() map[string]contract.Contract {
	out := map[string]contract.Contract{}
	for si := range c.Services {
		s := &c.Services[si]
		for fi := range s.Features {
			f := &s.Features[fi]
			block := f.SLA
			if block == nil {
				block = s.SLA
			}
			if block == nil {
				continue
			}
			t := block.Terms
			if t.Objective == 0 && f.SLO != nil {
				t.Objective = f.SLO.Objective
			}
			out[s.Name+"/"+f.Name] = t
		}
	}
	return out
}
