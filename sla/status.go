package sla

import (
	"cmp"
	"slices"
	"time"

	"github.com/prometheus/common/model"
)

// Features returns the status of every configured feature, sorted by
// service and feature.
func (e *Engine) Features() []FeatureStatus {
	now := e.nowNanos()
	e.mu.RLock()
	features, gaps := e.configured, e.gaps
	e.mu.RUnlock()
	out := make([]FeatureStatus, 0, len(features))
	var l ledger
	for _, f := range features {
		f.mu.Lock()
		if f.configured {
			out = append(out, e.status(f, now, gaps, &l))
		}
		f.mu.Unlock()
	}
	return out
}

// status builds one FeatureStatus; call with f.mu held.
func (e *Engine) status(f *feature, now int64, gaps []interval, l *ledger) FeatureStatus {
	n := f.numbers(now, gaps, l)
	s := FeatureStatus{
		Service: f.spec.Service, Feature: f.spec.Feature, Title: f.spec.Title, ServiceTitle: f.spec.ServiceTitle,
		Labels: f.spec.Labels, State: n.state, Since: timeOf(n.since),
		Availability: Availability{Hour: n.availability[0], Day: n.availability[1], Week: n.availability[2],
			Month: n.availability[3], SLO: n.availability[4]},
		SLO: SLOStatus{Objective: f.spec.Objective, Window: model.Duration(sloWindow(f.spec)).String(),
			ErrorBudgetRemaining: n.budget},
		DowntimeSeconds: n.downtime, DegradedSeconds: n.degraded,
	}
	if n.since == 0 {
		s.Since = time.Time{}
	}
	if c := n.calendar; c.on {
		loc := f.spec.Calendar.location()
		start, end, avail := timeOf(c.start).In(loc), timeOf(c.end).In(loc), c.availability
		s.Availability.Calendar = &avail
		s.SLO.Window, s.SLO.Timezone = f.spec.Calendar.String(), loc.String()
		s.SLO.PeriodStart, s.SLO.PeriodEnd = &start, &end
	}
	if n.state != StateUp && n.state != StateUnknown && n.state != StateMaintenance {
		s.Reason = f.reasonText(n.state)
	}
	if f.blindSince != 0 {
		s.Reason = f.blindReason()
	}
	for i := range f.checks {
		s.Checks = append(s.Checks, checkStatus(&f.checks[i], &f.spec.Checks[i]))
	}
	if on, since := f.flapping(now); on {
		t := timeOf(since)
		s.Flapping, s.FlappingSince = true, &t
	}
	if f.open != nil {
		o := e.outage(f, f.open, now, gaps, l)
		s.Outage = &o
	}
	return s
}

// outage converts a stored outage for the API; call with f.mu held.
func (e *Engine) outage(f *feature, o *outageRec, now int64, gaps []interval, l *ledger) Outage {
	end := o.endAt(now)
	l.build(f, gaps, o.Start, end, now)
	sp := l.window(o.Start, end)
	out := Outage{
		ID: o.ID, Service: f.spec.Service, Feature: f.spec.Feature, Region: e.region,
		Start: timeOf(o.Start), DurationSeconds: seconds(end - o.Start),
		DowntimeSeconds: seconds(sp.downtime), MaintenanceSeconds: seconds(sp.maintenance),
		UnmonitoredSeconds: seconds(sp.unmonitored),
		Cause:              o.Cause, ChecksFailed: slices.Clone(o.ChecksFailed),
	}
	if out.ChecksFailed == nil {
		out.ChecksFailed = []string{}
	}
	if o.End != openEnd {
		t := timeOf(o.End)
		out.End = &t
	}
	return out
}

// Outages returns the outages matching q, newest first, including those of
// features no longer configured.
func (e *Engine) Outages(q OutageQuery) []Outage {
	now := e.nowNanos()
	e.mu.RLock()
	features, gaps := e.all, e.gaps
	e.mu.RUnlock()
	since, until := int64(-1<<63), never
	if !q.Since.IsZero() {
		since = q.Since.UnixNano()
	}
	if !q.Until.IsZero() {
		until = q.Until.UnixNano()
	}
	var out []Outage
	var l ledger
	for _, f := range features {
		f.mu.Lock()
		f.ensureMaint(now)
		if (q.Service == "" || q.Service == f.spec.Service) && (q.Feature == "" || q.Feature == f.spec.Feature) {
			for _, o := range f.outages {
				if o.Start <= until && o.endAt(now) >= since {
					out = append(out, e.outage(f, o, now, gaps, &l))
				}
			}
		}
		f.mu.Unlock()
	}
	slices.SortStableFunc(out, func(a, b Outage) int { return b.Start.Compare(a.Start) })
	return out
}

// Report computes the SLA report over [from, to), cut at now. It covers every
// feature configured at some time in the range, including removed ones.
func (e *Engine) Report(from, to time.Time) *Report {
	nowTime := e.clock.Now()
	now := nowTime.UnixNano()
	if to.IsZero() || to.After(nowTime) {
		to = nowTime
	}
	if from.After(to) {
		from = to
	}
	a, b := from.UnixNano(), to.UnixNano()
	e.mu.RLock()
	features, gaps := e.all, e.gaps
	e.mu.RUnlock()
	r := &Report{Region: e.region, From: from.UTC(), To: to.UTC(), GeneratedAt: nowTime.UTC(), Features: []ReportFeature{}}
	var l ledger
	for _, f := range features {
		f.mu.Lock()
		f.ensureMaint(now)
		monitored := measure(closeAll(f.presence, now), a, b)
		// A feature configured now is in every report, also of a range it
		// was not monitored in: left out, it would look like it had no SLA.
		if f.configured || monitored > 0 || hasOutageIn(f, a, b, now) {
			l.build(f, gaps, a, b, now)
			sp := l.window(a, b)
			rf := ReportFeature{
				Service: f.spec.Service, Feature: f.spec.Feature, Title: f.spec.Title, ServiceTitle: f.spec.ServiceTitle,
				Objective: f.spec.Objective, Availability: sp.availability(),
				DowntimeSeconds: seconds(sp.downtime), DegradedSeconds: seconds(sp.degraded),
				MaintenanceSeconds: seconds(sp.maintenance), UnmonitoredSeconds: seconds(sp.unmonitored),
				Configured: f.configured, Outages: []Outage{}, NoData: monitored == 0,
			}
			rf.Met = rf.Availability >= f.spec.Objective && !rf.NoData
			for _, o := range f.outages {
				if o.Start < b && o.endAt(now) > a {
					rf.Outages = append(rf.Outages, e.outage(f, o, now, gaps, &l))
				}
			}
			r.Features = append(r.Features, rf)
		}
		f.mu.Unlock()
	}
	slices.SortStableFunc(r.Features, func(x, y ReportFeature) int {
		return cmp.Or(cmp.Compare(x.Service, y.Service), cmp.Compare(x.Feature, y.Feature))
	})
	return r
}

// closeAll returns list with an open last interval closed at now.
func closeAll(list []interval, now int64) []interval {
	if n := len(list); n > 0 && list[n-1].end == openEnd {
		list = slices.Clone(list)
		list[n-1].end = max(now, list[n-1].start)
	}
	return list
}

func hasOutageIn(f *feature, from, to, now int64) bool {
	for _, o := range f.outages {
		if o.Start < to && o.endAt(now) > from {
			return true
		}
	}
	return false
}

// endAt is the outage's end, now while it is open.
func (o *outageRec) endAt(now int64) int64 { return interval{o.Start, o.End}.closedAt(now).end }
