package agent

import (
	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/sla"
)

// agentCalendar is the SLA engine's calendar window of slo: none for a
// rolling window.
func agentCalendar(slo *config.SLO) sla.Calendar {
	switch slo.Window.Calendar {
	case config.CalendarMonth:
		return sla.Calendar{Period: sla.CalendarMonth, Location: slo.Location}
	case config.CalendarWeek:
		return sla.Calendar{Period: sla.CalendarWeek, Location: slo.Location}
	}
	return sla.Calendar{}
}

// agentGate is the SLA engine's gate policy of g (nil: none).
func agentGate(g *config.Gate) *sla.GatePolicy {
	if g == nil {
		return nil
	}
	p := &sla.GatePolicy{}
	if g.MinBudgetRemaining != nil {
		p.HasMinBudget, p.MinBudgetRemaining = true, float64(*g.MinBudgetRemaining)/100
	}
	for _, a := range g.BlockWhenFiring {
		p.BlockWhenFiring = append(p.BlockWhenFiring, sla.BurnAlert(a))
	}
	return p
}
