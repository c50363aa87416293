package sla

import (
	"fmt"
	"math"
	"time"

	"github.com/robfig/cron/v3"
)

// maintHorizon is how far ahead maintenance windows are materialized, so the
// hot path finds them without expanding cron schedules.
const (
	maintHorizon = 48 * time.Hour
	// maxCronWindows bounds one expansion, whatever the cron expression.
	maxCronWindows = 100_000
	never          = int64(math.MaxInt64)
)

// cronWindow is one recurring maintenance window.
type cronWindow struct {
	schedule cron.Schedule
	location *time.Location
	duration int64
}

// maintSchedule is a feature's maintenance configuration, parsed.
type maintSchedule struct {
	oneOff []interval
	cron   []cronWindow
	// longest is the longest window, to find windows begun before a point.
	longest int64
}

func (s *maintSchedule) empty() bool { return s == nil || len(s.oneOff) == 0 && len(s.cron) == 0 }

// parseMaintenance checks and parses a feature's maintenance windows; it
// returns nil for none.
func parseMaintenance(list []Maintenance) (*maintSchedule, error) {
	if len(list) == 0 {
		return nil, nil
	}
	s := &maintSchedule{}
	for i, m := range list {
		if m.Duration <= 0 {
			return nil, fmt.Errorf("maintenance[%d]: duration must be positive, got %s", i, m.Duration)
		}
		d := int64(m.Duration)
		s.longest = max(s.longest, d)
		switch {
		case m.Cron != "" && !m.Start.IsZero():
			return nil, fmt.Errorf("maintenance[%d]: set either start or cron, not both", i)
		case m.Cron != "":
			sched, err := cron.ParseStandard(m.Cron)
			if err != nil {
				return nil, fmt.Errorf("maintenance[%d]: cron %q: %w", i, m.Cron, err)
			}
			loc := m.Location
			if loc == nil {
				loc = time.UTC
			}
			s.cron = append(s.cron, cronWindow{schedule: sched, location: loc, duration: d})
		case !m.Start.IsZero():
			start := m.Start.UnixNano()
			s.oneOff = append(s.oneOff, interval{start, start + d})
		default:
			return nil, fmt.Errorf("maintenance[%d]: needs start or cron", i)
		}
	}
	return s, nil
}

// sameMaintenance reports whether two maintenance lists describe the same
// windows, so that a reload with unchanged config keeps the schedule's epoch.
func sameMaintenance(a, b []Maintenance) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Start.Equal(b[i].Start) || a[i].Cron != b[i].Cron || a[i].Duration != b[i].Duration ||
			locationName(a[i].Location) != locationName(b[i].Location) {
			return false
		}
	}
	return true
}

func locationName(l *time.Location) string {
	if l == nil {
		return ""
	}
	return l.String()
}

// extendMaint materializes the feature's maintenance windows up to until.
// Windows are clipped to begin no earlier than maintFrom: a schedule applies
// from when it was configured.
func (f *feature) extendMaint(until int64) {
	if f.maintUntil >= until {
		return
	}
	if f.schedule.empty() {
		f.maintUntil = never
		return
	}
	from := f.maintUntil
	add := func(iv interval) {
		iv.start = max(iv.start, f.maintFrom)
		if iv.end <= iv.start {
			return // wholly before the schedule applied
		}
		if f.maintDirty == 0 || iv.start < f.maintDirty {
			f.maintDirty = iv.start
		}
		f.maint = insertMerged(f.maint, iv)
	}
	for _, iv := range f.schedule.oneOff {
		if iv.start < until && iv.end > from {
			add(iv)
		}
	}
	for _, cw := range f.schedule.cron {
		t := time.Unix(0, from-cw.duration).In(cw.location)
		for range maxCronWindows {
			next := cw.schedule.Next(t)
			if next.IsZero() || next.UnixNano() >= until {
				break
			}
			start := next.UnixNano()
			add(interval{start, start + cw.duration})
			t = next
		}
	}
	f.maintUntil = until
}

// truncateMaint drops the windows (and parts) at or after t, when the
// maintenance schedule changes at t, and marks them for the store.
func (f *feature) truncateMaint(t int64) {
	keep, changed := f.maint[:0], false
	for _, iv := range f.maint {
		if iv.start >= t {
			changed = true
			continue
		}
		changed = changed || iv.end > t
		iv.end = min(iv.end, t)
		keep = append(keep, iv)
	}
	f.maint = keep
	if !changed {
		return // the store holds the same windows: nothing to rewrite
	}
	if f.maintDirty == 0 || t < f.maintDirty {
		f.maintDirty = t
	}
	if n := len(keep); n > 0 && keep[n-1].end == t && keep[n-1].start < f.maintDirty {
		f.maintDirty = keep[n-1].start // rewrite the truncated window
	}
}
