package sla

// FeatureFigures are one configured feature's figures at a moment: what the
// feature-level series show. The engine computes them; a presenter
// (internal/export) renders them.
type FeatureFigures struct {
	// Index is the feature's position in the specs Engine.Figures returned
	// for the generation these figures belong to.
	Index     int
	Objective float64
	State     State
	// Availability is by AvailabilityWindows; the last is the SLO window.
	Availability [len(availabilityWindows) + 1]float64
	// BudgetRemaining is the error budget left over the SLO window: 1
	// untouched, 0 spent, below 0 overspent.
	BudgetRemaining float64
	// Burn is the burn rate by BurnWindows.
	Burn [len(burnWindows)]float64
	// Lifetime totals in seconds; they never fall.
	DowntimeSeconds    float64
	DegradedSeconds    float64
	UnmonitoredSeconds float64
	// Outages counts the outages opened, compacted ones included.
	Outages uint64
	// OutageActive is true while an outage is open; OutageStart (seconds
	// since the epoch) and LastOutageSeconds describe the current or last
	// outage, 0 if none.
	OutageActive      bool
	OutageStart       float64
	LastOutageSeconds float64
	// Flapping is FeatureStatus.Flapping.
	Flapping bool
	// Calendar is set for a feature with a calendar SLO window: its
	// availability and burn rate over the current period (also the last of
	// Availability; BudgetRemaining is the period's) and the period's
	// bounds in seconds since the epoch.
	Calendar             bool
	CalendarAvailability float64
	CalendarBurn         float64
	PeriodStart          float64
	PeriodEnd            float64
}

// AvailabilityWindows names FeatureFigures.Availability's windows, in order:
// the rolling windows, then "slo", the feature's SLO window.
func AvailabilityWindows() []string {
	names := make([]string, 0, len(availabilityWindows)+1)
	for _, w := range availabilityWindows {
		names = append(names, w.name)
	}
	return append(names, "slo")
}

// BurnWindows names FeatureFigures.Burn's windows, in order.
func BurnWindows() []string {
	names := make([]string, 0, len(burnWindows))
	for _, w := range burnWindows {
		names = append(names, w.name)
	}
	return names
}

// Figures appends every configured feature's figures at now to rows and
// returns them with the configuration's generation. Each row's Index points
// into the configured features' specs (sorted by service, then feature),
// which Figures returns only when the generation differs from known (one it
// returned before, or 0): a presenter renders what depends on the specs once
// per configuration and only the figures per call. Allocation-free when rows
// has room and the configuration is known.
func (e *Engine) Figures(rows []FeatureFigures, known uint64) ([]FeatureFigures, []FeatureSpec, uint64) {
	now := e.nowNanos()
	e.mu.RLock()
	features, gaps, gen := e.configured, e.gaps, e.generation
	var specs []FeatureSpec
	if gen != known {
		specs = make([]FeatureSpec, len(features))
		for i, f := range features {
			f.mu.Lock()
			specs[i] = f.spec
			f.mu.Unlock()
		}
	}
	e.mu.RUnlock()
	var l ledger
	for i, f := range features {
		f.mu.Lock()
		if f.configured {
			row := f.numbers(now, gaps, &l).figures(i, f.spec.Objective)
			row.Flapping, _ = f.flapping(now)
			rows = append(rows, row)
		}
		f.mu.Unlock()
	}
	return rows, specs, gen
}

// figures exports n as the feature at index with objective.
func (n numbers) figures(index int, objective float64) FeatureFigures {
	return FeatureFigures{Index: index, Objective: objective, State: n.state, Availability: n.availability,
		BudgetRemaining: n.budget, Burn: n.burn, DowntimeSeconds: n.downtime, DegradedSeconds: n.degraded,
		UnmonitoredSeconds: n.unmonitored, Outages: n.outages, OutageActive: n.outageActive,
		OutageStart: n.outageStart, LastOutageSeconds: n.lastDuration,
		Calendar: n.calendar.on, CalendarAvailability: n.calendar.availability, CalendarBurn: n.calendar.burn,
		PeriodStart: float64(n.calendar.start) / 1e9, PeriodEnd: float64(n.calendar.end) / 1e9}
}
