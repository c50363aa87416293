package globalview

import (
	"slices"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// The rolling windows of availability, as in an agent's figures.
var windows = [...]time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}

// BurnWindows are the windows of FeatureFigures.BurnRate, as an agent's
// vigil_sla_burn_rate{window}.
var BurnWindows = [...]string{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}

var burnDurations = [...]time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
	6 * time.Hour, 24 * time.Hour, 72 * time.Hour}

// FeatureFigures are one feature's numbers for /metrics, now.
type FeatureFigures struct {
	Service, Feature string
	// StateIndex is the global state's index in States (one-hot gauge).
	StateIndex  int
	RegionsDown int // regions down now
	// RegionsMonitoring are the regions monitoring the feature now.
	RegionsMonitoring int
	MinRegions        int
	Objective         float64
	Availability      sla.Availability // 1h, 24h, 7d, 30d; SLO = 30d
	BudgetRemaining   float64
	// BurnRate per BurnWindows: (down / eligible) / (1 − objective), 0
	// with nothing eligible.
	BurnRate [len(BurnWindows)]float64
	// DowntimeSeconds, RegionalSeconds and UnmonitoredSeconds are over
	// the last 30 days.
	DowntimeSeconds, RegionalSeconds, UnmonitoredSeconds float64
	// OutageActive while a global outage is open; OutageStart and
	// OutageLastDuration are of the current or last global outage (zero
	// when there was none in the retention).
	OutageActive       bool
	OutageStart        time.Time
	OutageLastDuration float64
}

// State is the global state's name.
func (f *FeatureFigures) State() string { return States[f.StateIndex] }

// Figures are every feature's figures now, sorted by service and feature.
func (v *View) Figures() []FeatureFigures {
	return v.AppendFigures(nil)
}

// AppendFigures appends every feature's figures to dst (reuse it between
// scrapes to allocate nothing per feature).
func (v *View) AppendFigures(dst []FeatureFigures) []FeatureFigures {
	now := v.opt.Clock.Now()
	v.mu.RLock()
	defer v.mu.RUnlock()
	n0 := len(dst)
	dst = slices.Grow(dst, len(v.sorted))[:n0+len(v.sorted)]
	v.forEach(now, nil, func(c *calc, i int, f *featureState) {
		ff := FeatureFigures{Service: f.service, Feature: f.feature, MinRegions: f.minRegions, Objective: f.objective}
		st, _ := c.stateNow()
		ff.StateIndex = int(st)
		for _, rt := range c.regs {
			if containsAt(rt.mon, c.now-1) {
				ff.RegionsMonitoring++
			}
			if containsAt(rt.dn, c.now-1) {
				ff.RegionsDown++
			}
		}
		ff.Availability, ff.BudgetRemaining = c.rolling(f.objective)
		for i, w := range burnDurations {
			if _, down, eligible := c.availability(c.now-int64(w), c.now); eligible > 0 {
				ff.BurnRate[i] = float64(down) / float64(eligible) / (1 - f.objective)
			}
		}
		from := c.now - int64(windows[3])
		ff.DowntimeSeconds = seconds(c.measureState(codeDown, from, c.now))
		ff.RegionalSeconds = seconds(c.measureState(codeRegional, from, c.now))
		ff.UnmonitoredSeconds = seconds(c.measureState(codeUnknown, from, c.now))
		for i := len(c.segs) - 1; i >= 0; i-- {
			if sg := c.segs[i]; sg.st == codeDown {
				ff.OutageActive = sg.e >= c.now
				ff.OutageStart = time.Unix(0, sg.s).UTC()
				ff.OutageLastDuration = seconds(sg.e - sg.s)
				break
			}
		}
		dst[n0+i] = ff
	})
	return dst
}

// rolling is the availability over the rolling windows and the budget left.
func (c *calc) rolling(objective float64) (sla.Availability, float64) {
	var ratios [len(windows)]float64
	var down, eligible int64
	for i, w := range windows {
		ratios[i], down, eligible = c.availability(c.now-int64(w), c.now)
	}
	budget := 1.0
	if allowed := (1 - objective) * float64(eligible); allowed > 0 {
		budget = 1 - float64(down)/allowed
	}
	return sla.Availability{Hour: ratios[0], Day: ratios[1], Week: ratios[2], Month: ratios[3], SLO: ratios[3]}, budget
}

func seconds(ns int64) float64 { return float64(ns) / 1e9 }

func timeOf(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// Features are every feature's global state now, with each region's view,
// sorted by service and feature (regions by name).
func (v *View) Features() []FeatureStatus {
	now := v.opt.Clock.Now()
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]FeatureStatus, len(v.sorted))
	v.forEach(now, nil, func(c *calc, i int, f *featureState) {
		fs := FeatureStatus{Service: f.service, Feature: f.feature, MinRegions: f.minRegions,
			Objective: f.objective, RegionsDown: []string{}, Regions: make([]RegionStatus, 0, len(c.regs))}
		st, since := c.stateNow()
		fs.State = States[st]
		if since != noTime {
			fs.Since = timeOf(since)
		}
		names := make([]string, 0, len(f.replicas)) // the regions' Replicas share it
		for i := range c.regs {
			rs := v.regionStatus(c, &c.regs[i], names[len(names):len(names):cap(names)])
			names = names[:len(names)+len(rs.Replicas)]
			if rs.State == StateDown {
				fs.RegionsDown = append(fs.RegionsDown, rs.Region)
			}
			fs.Regions = append(fs.Regions, rs)
		}
		fs.Availability, fs.BudgetRemaining = c.rolling(f.objective)
		if st == codeDown {
			o := c.outage(f, c.segs[len(c.segs)-1])
			fs.Outage = &o
		}
		out[i] = fs
	})
	return out
}

// regionStatus is a region's state at the last instant before now.
func (v *View) regionStatus(c *calc, rt *regionTL, replicas []string) RegionStatus {
	t := c.now - 1
	rs := RegionStatus{Region: rt.name, Replicas: replicas}
	cur := rt.stateAt(t)
	rs.State, rs.Monitored = cur, cur != StateUnknown
	lastBeat := noTime
	for _, r := range rt.reps {
		rs.Replicas = append(rs.Replicas, r.rep.agent.id)
		if containsAt(r.mon, t) {
			rs.Monitoring++
		}
		lastBeat = max(lastBeat, r.rep.agent.lastBeat)
	}
	if lastBeat != noTime && c.now > lastBeat+v.opt.StaleAfter.Nanoseconds() {
		ts := timeOf(lastBeat)
		rs.NoDataSince = &ts
	}
	edges := c.edges[:0]
	for _, list := range [...][]interval{rt.mon, rt.dn, rt.deg, rt.mnt} {
		for _, iv := range list {
			edges = append(edges, iv.s, iv.e)
		}
	}
	slices.Sort(edges)
	c.edges = edges
	for i := len(edges) - 1; i >= 0; i-- {
		if b := edges[i]; b <= c.now && rt.stateAt(b-1) != cur {
			rs.Since = timeOf(b)
			break
		}
	}
	return rs
}

func (rt *regionTL) stateAt(t int64) string {
	switch {
	case containsAt(rt.mnt, t):
		return StateMaintenance
	case !containsAt(rt.mon, t):
		return StateUnknown
	case containsAt(rt.dn, t):
		return StateDown
	case containsAt(rt.deg, t):
		return StateDegraded
	}
	return StateUp
}

// outage describes the global outage sg of f (rule 3's causes).
func (c *calc) outage(f *featureState, sg segment) Outage {
	o := Outage{Service: f.service, Feature: f.feature, Start: timeOf(sg.s),
		Regions: []string{}, Causes: []RegionCause{}}
	end := sg.e
	if sg.e < c.now {
		e := timeOf(sg.e)
		o.End = &e
	} else {
		end = c.now
	}
	o.DurationSeconds = seconds(end - sg.s)
	for _, rt := range c.regs {
		first, ok := firstIn(rt.dn, sg.s, sg.e)
		if !ok {
			continue
		}
		o.Regions = append(o.Regions, rt.name)
		for _, r := range rt.reps {
			if !containsAt(r.dn, first) {
				continue
			}
			rc := RegionCause{Region: rt.name, Agent: r.rep.agent.id}
			for _, out := range r.rep.outages {
				if out.start <= first && first < out.end {
					rc.Cause = out.cause
					break
				}
			}
			o.Causes = append(o.Causes, rc)
			break
		}
	}
	return o
}

// firstIn is the first instant of list in [from, to).
func firstIn(list []interval, from, to int64) (int64, bool) {
	for _, iv := range list {
		if iv.e > from && iv.s < to {
			return max(iv.s, from), true
		}
	}
	return 0, false
}

// Outages are the global outages of the matching features (an empty
// service or feature matches any) overlapping [since, until) (a zero time
// is unbounded), newest first.
func (v *View) Outages(service, feature string, since, until time.Time) []Outage {
	now := v.opt.Clock.Now()
	v.mu.RLock()
	defer v.mu.RUnlock()
	from, to := int64(noTime), int64(openEnd)
	if !since.IsZero() {
		from = since.UnixNano()
	}
	if !until.IsZero() {
		to = until.UnixNano()
	}
	per := make([][]Outage, len(v.sorted))
	match := func(f *featureState) bool {
		return (service == "" || f.service == service) && (feature == "" || f.feature == feature)
	}
	v.forEach(now, match, func(c *calc, i int, f *featureState) {
		per[i] = c.appendOutages(nil, f, from, to)
	})
	out := slices.Concat(per...)
	if out == nil {
		out = []Outage{}
	}
	slices.SortStableFunc(out, func(a, b Outage) int { return b.Start.Compare(a.Start) })
	return out
}

// appendOutages appends f's global outages overlapping [from, to) (an open
// one also when it reaches from).
func (c *calc) appendOutages(out []Outage, f *featureState, from, to int64) []Outage {
	for _, sg := range c.segs {
		if sg.st != codeDown || sg.s >= to || (sg.e <= from && sg.e < c.now) {
			continue
		}
		out = append(out, c.outage(f, sg))
	}
	return out
}

// Report is every feature's global figures over [from, to) (rule 4).
func (v *View) Report(from, to time.Time) Report {
	now := v.opt.Clock.Now()
	v.mu.RLock()
	defer v.mu.RUnlock()
	rep := Report{From: from, To: to, Regions: make([]string, 0, len(v.regions)), Features: make([]ReportFeature, len(v.sorted))}
	for r := range v.regions {
		rep.Regions = append(rep.Regions, r)
	}
	slices.Sort(rep.Regions)
	f0, t0 := from.UnixNano(), to.UnixNano()
	v.forEach(now, nil, func(c *calc, i int, f *featureState) {
		ratio, down, _ := c.availability(f0, t0)
		rf := ReportFeature{Service: f.service, Feature: f.feature, Objective: f.objective,
			Availability: ratio, Met: ratio >= f.objective, DowntimeSeconds: seconds(down),
			RegionalSeconds:    seconds(c.measureState(codeRegional, f0, t0)),
			UnmonitoredSeconds: seconds(c.measureState(codeUnknown, f0, t0)),
			MaintenanceSeconds: seconds(c.measureState(codeMaintenance, f0, t0))}
		rf.Outages = c.appendOutages([]Outage{}, f, f0, t0)
		rf.Regions = make([]RegionFigures, len(c.regs))
		for i := range c.regs {
			rf.Regions[i] = c.regs[i].figures(f0, t0)
		}
		rep.Features[i] = rf
	})
	return rep
}

// figures are the region's own figures over [from, to).
func (rt *regionTL) figures(from, to int64) RegionFigures {
	mon, mnt := measure(rt.mon, from, to), measure(rt.mnt, from, to)
	rf := RegionFigures{Region: rt.name, Availability: 1, NoData: mon == 0,
		DowntimeSeconds: seconds(measure(rt.dn, from, to)), DegradedSeconds: seconds(measure(rt.deg, from, to)),
		MaintenanceSeconds: seconds(mnt), UnmonitoredSeconds: seconds(max(to-from, 0) - mon - mnt)}
	if mon > 0 {
		rf.Availability = 1 - float64(measure(rt.dn, from, to))/float64(mon)
	}
	return rf
}
