package sla

import (
	"time"
)

// Read-only accessors for the status page, the bulletin and `vigil report`.

// Now is the engine's clock: pages that show "as of" use it so that they
// agree with the figures the engine computed.
func (e *Engine) Now() time.Time { return e.clock.Now() }

// Region is the region the engine records, as configured or, for a store
// opened read-only, as the agent last wrote it.
func (e *Engine) Region() string { return e.region }

// Day is one calendar day of a feature's history. The seconds add up:
// Downtime + the rest of Eligible + Maintenance + Unmonitored is the length
// of the day (up to now for today).
type Day struct {
	// Date is the midnight that starts the day, in the location asked for.
	Date               time.Time `json:"date"`
	DowntimeSeconds    float64   `json:"downtime_seconds"`
	DegradedSeconds    float64   `json:"degraded_seconds"`
	MaintenanceSeconds float64   `json:"maintenance_seconds"`
	UnmonitoredSeconds float64   `json:"unmonitored_seconds"`
	// EligibleSeconds is the time the SLA counts: monitored, not maintenance.
	EligibleSeconds float64 `json:"eligible_seconds"`
	// Availability is 1 − downtime / eligible; 1 when nothing was eligible.
	Availability float64 `json:"availability"`
}

// DailyHistory returns the last days calendar days of a feature in loc
// (nil: UTC), oldest first, the last one being today counted up to now.
// Days are cut at local midnight, so a day may last 23 or 25 hours where
// the clocks change. It returns nil for an unknown feature.
func (e *Engine) DailyHistory(service, feature string, days int, loc *time.Location) []Day {
	if days <= 0 {
		return nil
	}
	if loc == nil {
		loc = time.UTC
	}
	nowTime := e.clock.Now()
	now := nowTime.UnixNano()
	e.mu.RLock()
	f, gaps := e.features[featureKey(service, feature)], e.gaps
	e.mu.RUnlock()
	if f == nil {
		return nil
	}
	y, m, d := nowTime.In(loc).Date()
	bounds := make([]int64, days+1)
	for i := range bounds {
		bounds[i] = time.Date(y, m, d-days+1+i, 0, 0, 0, 0, loc).UnixNano()
	}
	out := make([]Day, days)
	var l ledger
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ensureMaint(now)
	l.build(f, gaps, bounds[0], now, now)
	for i := range out {
		from, to := bounds[i], min(bounds[i+1], now)
		day := Day{Date: time.Unix(0, from).In(loc), Availability: 1}
		if to > from {
			sp := l.window(from, to)
			day.DowntimeSeconds, day.DegradedSeconds = seconds(sp.downtime), seconds(sp.degraded)
			day.MaintenanceSeconds, day.UnmonitoredSeconds = seconds(sp.maintenance), seconds(sp.unmonitored)
			day.EligibleSeconds, day.Availability = seconds(sp.eligible), sp.availability()
		}
		out[i] = day
	}
	return out
}

// LastKnown returns every configured feature's status and the time it
// describes. For a running engine that is now and Features(). A store opened
// read-only (`vigil report`) has had no result in this run, so Features()
// shows every feature unknown; LastKnown instead gives the state the agent
// last recorded, as of its last heartbeat, with the reason of the last
// transition.
func (e *Engine) LastKnown() (time.Time, []FeatureStatus) {
	if !e.readOnly {
		now := e.clock.Now()
		return now.UTC(), e.Features()
	}
	e.mu.RLock()
	features, gaps := e.configured, e.gaps
	e.mu.RUnlock()
	asOf := e.nowNanos()
	for i := len(gaps) - 1; i >= 0; i-- {
		if gaps[i].end == never {
			asOf = gaps[i].start // the last heartbeat
			break
		}
	}
	out := make([]FeatureStatus, 0, len(features))
	var l ledger
	for _, f := range features {
		f.mu.Lock()
		s := e.status(f, asOf, gaps, &l)
		state, since := lastState(f, asOf)
		s.State, s.Since, s.Reason = state, timeOf(since), ""
		if since == 0 {
			s.Since = time.Time{}
		}
		key := f.key
		f.mu.Unlock()
		if state != StateUp && state != StateUnknown && state != StateMaintenance {
			s.Reason = e.lastReason(key)
		}
		out = append(out, s)
	}
	return timeOf(asOf), out
}

// lastState is the state machine's recorded state at t, maintenance when t
// is inside a window; call with f.mu held.
func lastState(f *feature, t int64) (State, int64) {
	if i := maintIndex(f.maint, t); i >= 0 {
		return StateMaintenance, f.maint[i].start
	}
	if f.machine == StateUnknown || f.machine == "" {
		since := int64(0)
		if len(f.presence) > 0 {
			since = f.presence[len(f.presence)-1].start
		}
		return StateUnknown, since
	}
	return f.machine, f.machineSince
}

// lastReason reads the reason recorded with the feature's last transition,
// "" if none or unreadable (the reason is a courtesy, not a figure).
func (e *Engine) lastReason(fkey string) string {
	rec, _ := e.store.LastTransition(fkey)
	return rec.Reason
}
