package config

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// The calendar windows `slo.window` takes besides a rolling duration.
const (
	CalendarMonth = "calendar-month"
	CalendarWeek  = "calendar-week"
)

// SLOWindow is `slo.window`: a rolling duration ("30d") or a calendar
// period ("calendar-month", "calendar-week") read in `slo.timezone`.
type SLOWindow struct {
	// Rolling is the rolling window; 0 for a calendar window.
	Rolling time.Duration
	// Calendar is CalendarMonth or CalendarWeek; "" for a rolling window.
	Calendar string
}

// RollingWindow is a rolling SLOWindow of d.
func RollingWindow(d time.Duration) SLOWindow { return SLOWindow{Rolling: d} }

// IsZero reports whether the window is unset.
func (w SLOWindow) IsZero() bool { return w.Rolling == 0 && w.Calendar == "" }

// String is the window as written in YAML.
func (w SLOWindow) String() string {
	if w.Calendar != "" {
		return w.Calendar
	}
	return probeconfig.Duration(w.Rolling).String()
}

// UnmarshalYAML reads a duration or a calendar window.
func (w *SLOWindow) UnmarshalYAML(node *yaml.Node) error {
	var s string
	if err := node.Decode(&s); err != nil {
		return fmt.Errorf("window must be a duration like 30d, or %s or %s: %w", CalendarMonth, CalendarWeek, err)
	}
	switch s = strings.TrimSpace(s); s {
	case CalendarMonth, CalendarWeek:
		*w = SLOWindow{Calendar: s}
		return nil
	}
	d, err := probeconfig.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("window %q: want a duration like 30d, or %s or %s", s, CalendarMonth, CalendarWeek)
	}
	*w = SLOWindow{Rolling: d}
	return nil
}

// MarshalYAML writes the window as UnmarshalYAML reads it.
func (w SLOWindow) MarshalYAML() (any, error) { return w.String(), nil }

// MarshalJSON writes the window as a string.
func (w SLOWindow) MarshalJSON() ([]byte, error) { return json.Marshal(w.String()) }

// Percent is a percentage written `10%` or `10`; it holds 10 for either.
type Percent float64

// UnmarshalText reads a number with an optional trailing %.
func (p *Percent) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(b)), "%"))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || strings.ContainsAny(s, "_xXpP") {
		return fmt.Errorf("want a percentage like 10%%, not %q", string(b))
	}
	*p = Percent(v)
	return nil
}

// MarshalText writes the percentage with its % sign.
func (p Percent) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(p), 'f', -1, 64) + "%"), nil
}

// The burn-rate alerts a gate may block on (block_when_firing): the SRE
// workbook's multiwindow conditions of deploy/prometheus/vigil-rules.yml,
// which the agent evaluates from its own burn rates.
const (
	AlertPage   = "page"
	AlertTicket = "ticket"
)

// Gate is `gate:` in defaults, a service or a feature: when
// GET /api/v1/gate answers 423 for a feature. Fields are inherited one by
// one (feature → service → defaults); validation leaves a feature's Gate
// nil when no level sets one.
type Gate struct {
	// MinBudgetRemaining blocks while less than this percentage of the
	// error budget remains (e.g. 10%); nil: the budget does not block.
	MinBudgetRemaining *Percent `yaml:"min_budget_remaining,omitempty" json:"min_budget_remaining,omitempty"`
	// BlockWhenFiring lists the burn-rate alerts (page, ticket) that block
	// while their condition holds.
	BlockWhenFiring []string `yaml:"block_when_firing,omitempty" json:"block_when_firing,omitempty"`
}

// sloTimezone checks slo.timezone at path and loads it into s.Location;
// an inherited zone applies only to an inherited calendar window.
func (p *parser) sloTimezone(path string, s *SLO, def SLO) {
	if s.Timezone == "" {
		s.Timezone, s.Location = def.Timezone, def.Location
	} else {
		loc, err := time.LoadLocation(s.Timezone)
		if err != nil {
			p.add(path+".timezone", "unknown time zone %q (an IANA name like Asia/Seoul)", s.Timezone)
		}
		s.Location = loc
		if s.Window.Calendar == "" && !p.underBad(path+".window") {
			p.add(path+".timezone", "applies to a calendar window (%s or %s), not %s", CalendarMonth, CalendarWeek, s.Window)
		}
	}
	if s.Location == nil {
		s.Location = time.UTC
	}
}

// gate resolves the gate at path from the level above, up (nil: none), and
// checks it; it returns the resolved gate, nil when no level sets one.
func (p *parser) gate(path string, g *Gate, up *Gate) *Gate {
	if g == nil {
		if up == nil {
			return nil
		}
		cp := *up
		return &cp
	}
	if !p.present(path+".min_budget_remaining") && !p.present(path+".block_when_firing") {
		p.add(path, "sets neither min_budget_remaining nor block_when_firing")
	}
	if g.MinBudgetRemaining == nil && up != nil {
		g.MinBudgetRemaining = up.MinBudgetRemaining
	} else if v := g.MinBudgetRemaining; v != nil && (*v < 0 || *v > 100) {
		p.add(path+".min_budget_remaining", "must be a percentage between 0%% and 100%%, not %v%%", float64(*v))
	}
	if !p.present(path+".block_when_firing") && up != nil {
		g.BlockWhenFiring = up.BlockWhenFiring
	} else {
		seen := map[string]bool{}
		for i, a := range g.BlockWhenFiring {
			switch {
			case a != AlertPage && a != AlertTicket:
				p.add(fmt.Sprintf("%s.block_when_firing[%d]", path, i), "unknown alert %q: want %s or %s", a, AlertPage, AlertTicket)
			case seen[a]:
				p.add(fmt.Sprintf("%s.block_when_firing[%d]", path, i), "%q is listed twice", a)
			}
			seen[a] = true
		}
	}
	return g
}
