package sla

import (
	"encoding/json"
	"fmt"
	"time"
)

// CalendarPeriod is the length of a calendar SLO window.
type CalendarPeriod int

// The calendar periods. CalendarNone leaves the feature on its rolling
// Window.
const (
	CalendarNone CalendarPeriod = iota
	CalendarMonth
	CalendarWeek
)

// String is the period's name in `slo.window` without its "calendar-"
// prefix: "month", "week", or "" for none.
func (p CalendarPeriod) String() string {
	switch p {
	case CalendarMonth:
		return "month"
	case CalendarWeek:
		return "week"
	}
	return ""
}

// Calendar is a feature's calendar SLO window (`slo.window: calendar-month`
// or `calendar-week`, `slo.timezone`): the SLO window is the current month
// (from midnight of the 1st) or ISO week (from midnight on Monday) in
// Location, so availability, error budget and the calendar burn rate start
// afresh at its boundary. The zero Calendar is none: the rolling Window
// applies.
type Calendar struct {
	Period CalendarPeriod
	// Location is the zone whose midnight starts a period; nil is UTC.
	Location *time.Location
}

// Enabled reports whether c sets a calendar window.
func (c Calendar) Enabled() bool { return c.Period != CalendarNone }

// String is the window as written in `slo.window`: "calendar-month",
// "calendar-week", or "" for none.
func (c Calendar) String() string {
	if !c.Enabled() {
		return ""
	}
	return "calendar-" + c.Period.String()
}

// location is c.Location, UTC when unset.
func (c Calendar) location() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

// PeriodAt returns the calendar period holding t: [start, end), both
// midnights in c's zone. A period that contains a daylight-saving change is
// an hour longer or shorter than its days. It returns zero times when c is
// not enabled.
func (c Calendar) PeriodAt(t time.Time) (start, end time.Time) {
	local := t.In(c.location())
	y, m, d := local.Date()
	switch c.Period {
	case CalendarMonth:
		start = time.Date(y, m, 1, 0, 0, 0, 0, local.Location())
		end = time.Date(y, m+1, 1, 0, 0, 0, 0, local.Location())
	case CalendarWeek:
		back := (int(local.Weekday()) + 6) % 7 // days since Monday
		start = time.Date(y, m, d-back, 0, 0, 0, 0, local.Location())
		end = time.Date(y, m, d-back+7, 0, 0, 0, 0, local.Location())
	default:
		return time.Time{}, time.Time{}
	}
	// Where midnight does not exist (a zone that springs forward at 00:00),
	// time.Date gives the instant after the gap; a t inside the first hour
	// then still belongs to this period.
	if t.Before(start) {
		return c.PeriodAt(start.Add(-time.Nanosecond))
	}
	return start, end
}

// sameCalendar compares calendars by period and zone name.
func sameCalendar(a, b Calendar) bool {
	return a.Period == b.Period && a.location().String() == b.location().String()
}

// calendarRecord is a Calendar as the store's spec record carries it: the
// zone by name.
type calendarRecord struct {
	Period   string `json:"period,omitempty"`
	Timezone string `json:"timezone,omitempty"`
}

// MarshalJSON writes the period and the zone's name.
func (c Calendar) MarshalJSON() ([]byte, error) {
	r := calendarRecord{Period: c.Period.String()}
	if c.Enabled() {
		r.Timezone = c.location().String()
	}
	return json.Marshal(r)
}

// UnmarshalJSON reads what MarshalJSON wrote, loading the zone.
func (c *Calendar) UnmarshalJSON(data []byte) error {
	var r calendarRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return err
	}
	*c = Calendar{}
	switch r.Period {
	case "":
		return nil
	case "month":
		c.Period = CalendarMonth
	case "week":
		c.Period = CalendarWeek
	default:
		return fmt.Errorf("calendar period %q: want month or week", r.Period)
	}
	if r.Timezone != "" {
		loc, err := time.LoadLocation(r.Timezone)
		if err != nil {
			return fmt.Errorf("calendar time zone %q: %w", r.Timezone, err)
		}
		c.Location = loc
	}
	return nil
}

// calendarSpan returns the current calendar period of spec at now in Unix
// nanoseconds, ok false for a rolling window.
func calendarSpan(spec FeatureSpec, now int64) (start, end int64, ok bool) {
	if !spec.Calendar.Enabled() {
		return 0, 0, false
	}
	s, e := spec.Calendar.PeriodAt(time.Unix(0, now))
	return s.UnixNano(), e.UnixNano(), true
}

// calendarBudget is the error budget left of a calendar period [start, end)
// measured up to now by sp: the budget is (1 − objective) of the period's
// eligible time, taken as the whole period less the maintenance and
// unmonitored time so far. It is 1 at the period's start and falls only with
// downtime, so a deploy gate reads "what is left of this month's allowance";
// at the period's end it equals span.budgetRemaining.
func calendarBudget(sp span, start, end int64, objective float64) float64 {
	eligible := (end - start) - sp.maintenance - sp.unmonitored
	if eligible <= 0 || objective <= 0 {
		return 1
	}
	return 1 - float64(sp.downtime)/((1-objective)*float64(eligible))
}

// calendarNumbers are a feature's figures over its current calendar period.
type calendarNumbers struct {
	on           bool
	start, end   int64
	availability float64
	burn         float64
}
