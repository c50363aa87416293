package sla

import "time"

// ledger classifies a span of a feature's time. Every instant is exactly one
// of: unmonitored (the agent not running, or the feature not configured),
// maintenance, downtime (in an outage), or otherwise eligible and fine.
// Degraded time is a part of eligible time that is not downtime.
type ledger struct {
	monitored []interval // configured and the agent running
	maint     []interval // maintenance ∩ monitored
	eligible  []interval // monitored − maintenance: the time the SLA counts
	down      []interval // outages ∩ eligible
	degraded  []interval // degraded spells ∩ eligible
	scratch   []interval
}

// ensureMaint materializes maintenance windows past now, for reads at times
// no evaluation or heartbeat has reached yet; call with f.mu held.
func (f *feature) ensureMaint(now int64) {
	if f.configured && f.maintUntil <= now {
		f.extendMaint(now + int64(maintHorizon))
	}
}

// build fills the ledger for [from, to); open intervals end at now. The
// slices are reused between calls.
func (l *ledger) build(f *feature, gaps []interval, from, to, now int64) {
	to = min(to, now)
	l.scratch = clipClose(l.scratch[:0], f.presence, from, to)
	l.monitored = subtract(l.monitored[:0], l.scratch, gaps)
	l.maint = intersect(l.maint[:0], l.monitored, f.maint)
	l.eligible = subtract(l.eligible[:0], l.monitored, f.maint)
	l.scratch = l.scratch[:0]
	for _, o := range f.outages {
		iv := interval{o.Start, o.End}.closedAt(now)
		if s, e := max(iv.start, from), min(iv.end, to); s < e {
			l.scratch = append(l.scratch, interval{s, e})
		}
	}
	l.down = intersect(l.down[:0], l.scratch, l.eligible)
	l.scratch = clipClose(l.scratch[:0], f.degraded, from, to)
	l.degraded = intersect(l.degraded[:0], l.scratch, l.eligible)
}

// span is what a ledger says about one window.
type span struct {
	length, unmonitored, maintenance, eligible, downtime, degraded int64
}

// window measures [from, to) of a built ledger.
func (l *ledger) window(from, to int64) span {
	s := span{length: to - from}
	monitored := measure(l.monitored, from, to)
	s.unmonitored = s.length - monitored
	s.maintenance = measure(l.maint, from, to)
	s.eligible = monitored - s.maintenance
	s.downtime = measure(l.down, from, to)
	s.degraded = measure(l.degraded, from, to)
	return s
}

// availability is 1 − downtime / eligible time, 1 when nothing was eligible.
func (s span) availability() float64 {
	if s.eligible <= 0 {
		return 1
	}
	return 1 - float64(s.downtime)/float64(s.eligible)
}

// budgetRemaining is 1 − downtime / ((1 − objective) × eligible).
func (s span) budgetRemaining(objective float64) float64 {
	if s.eligible <= 0 || objective <= 0 {
		return 1
	}
	return 1 - float64(s.downtime)/((1-objective)*float64(s.eligible))
}

// burnRate is (downtime / eligible) / (1 − objective).
func (s span) burnRate(objective float64) float64 {
	if s.eligible <= 0 || objective <= 0 {
		return 0
	}
	return float64(s.downtime) / float64(s.eligible) / (1 - objective)
}

func seconds(ns int64) float64 { return time.Duration(ns).Seconds() }

func timeOf(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// The rolling windows of availability and burn rates.
var (
	availabilityWindows = [...]struct {
		name string
		d    time.Duration
	}{{"1h", time.Hour}, {"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}}
	burnWindows = [...]struct {
		name string
		d    time.Duration
	}{{"5m", 5 * time.Minute}, {"30m", 30 * time.Minute}, {"1h", time.Hour}, {"2h", 2 * time.Hour},
		{"6h", 6 * time.Hour}, {"1d", 24 * time.Hour}, {"3d", 3 * 24 * time.Hour}}
)

// numbers are a feature's figures at one moment, for metrics and status.
type numbers struct {
	state        State
	since        int64
	availability [len(availabilityWindows) + 1]float64 // the last is the SLO window
	budget       float64
	burn         [len(burnWindows)]float64
	downtime     float64 // lifetime totals, seconds
	degraded     float64
	unmonitored  float64
	outages      uint64
	outageActive bool
	outageStart  float64 // seconds since the epoch of the current or last outage
	lastDuration float64
	calendar     calendarNumbers
}

// defaultSLOWindow is used when a feature has no window configured.
const defaultSLOWindow = 30 * 24 * time.Hour

func sloWindow(s FeatureSpec) time.Duration {
	if s.Window > 0 {
		return s.Window
	}
	return defaultSLOWindow
}

// numbers computes a feature's figures at now; call with f.mu held.
func (f *feature) numbers(now int64, gaps []interval, l *ledger) numbers {
	f.ensureMaint(now)
	var n numbers
	n.state, n.since = f.shownState(now)
	slo := int64(sloWindow(f.spec))
	calStart, calEnd, calendar := calendarSpan(f.spec, now)
	if calendar {
		slo = now - calStart
	}
	longest := max(slo, int64(30*24*time.Hour))
	from := min(now-longest, f.counters.at, f.counters.downAt)
	l.build(f, gaps, from, now, now)
	for i, w := range availabilityWindows {
		n.availability[i] = l.window(now-int64(w.d), now).availability()
	}
	sloSpan := l.window(now-slo, now)
	n.availability[len(availabilityWindows)] = sloSpan.availability()
	n.budget = sloSpan.budgetRemaining(f.spec.Objective)
	if calendar {
		n.budget = calendarBudget(sloSpan, calStart, calEnd, f.spec.Objective)
		n.calendar = calendarNumbers{on: true, start: calStart, end: calEnd,
			availability: n.availability[len(availabilityWindows)], burn: sloSpan.burnRate(f.spec.Objective)}
	}
	for i, w := range burnWindows {
		n.burn[i] = l.window(now-int64(w.d), now).burnRate(f.spec.Objective)
	}
	c := f.shown(now, l)
	n.downtime, n.degraded, n.unmonitored = seconds(c.downtime), seconds(c.degraded), seconds(c.unmonitored)
	n.outages = c.compactedOutages + uint64(len(f.outages))
	if k := len(f.outages); k > 0 {
		o := f.outages[k-1]
		n.outageActive = o.End == openEnd
		n.outageStart = float64(o.Start) / 1e9
		n.lastDuration = seconds(interval{o.Start, o.End}.closedAt(now).end - o.Start)
	}
	return n
}

// shown returns the counters as exported at now: the accounted totals plus
// what the record adds since, from a ledger built up to now (leads paid off
// first), and the time cut by agent faults since. Call with f.mu held.
func (f *feature) shown(now int64, l *ledger) counters {
	c := f.counters
	if to := f.downtimeHorizon(now); to > c.downAt {
		credit(&c.downtime, &c.downLead, measure(l.down, c.downAt, to))
		c.downAt = to
	}
	// Degraded and unmonitored time are final up to the vantage's hold: an
	// impairment (or its end) may still be confirmed with an earlier edge.
	if to := min(now, f.vantageHold()); to > c.at {
		credit(&c.degraded, &c.degradedLead, measure(l.degraded, c.at, to))
		c.unmonitored += f.blindDone
		if f.blindSince != 0 {
			c.unmonitored += max(0, to-max(c.at, f.blindSince))
		}
		c.at = to
	}
	// A result stamped with its start can end an outage or a degraded spell
	// before a moment already shown (the run began before the scrape and
	// ended after it): what was shown stays, and the difference is lead for
	// the record to pay off, as after a crash.
	if c.downtime < f.shownDown {
		c.downLead += f.shownDown - c.downtime
		c.downtime = f.shownDown
	}
	if c.degraded < f.shownDegraded {
		c.degradedLead += f.shownDegraded - c.degraded
		c.degraded = f.shownDegraded
	}
	f.shownDown, f.shownDegraded = c.downtime, c.degraded
	return c
}
