package sla

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s not in this system's zoneinfo: %v", name, err)
	}
	return loc
}

// TestCalendarMonthSeoul: a calendar-month SLO in Asia/Seoul starts afresh
// at midnight of the 1st there (15:00 UTC the day before): availability,
// budget and the calendar burn rate of November's outage are gone at
// 2026-11-30T15:00:00Z, while the rolling windows still hold it.
func TestCalendarMonthSeoul(t *testing.T) {
	seoul := mustZone(t, "Asia/Seoul")
	start := time.Date(2026, 10, 31, 15, 0, 0, 0, time.UTC) // 2026-11-01 00:00 KST
	clock := newFakeClock(start)
	e := memTest(t, clock)
	spec := testSpec("f", "a")
	spec.Calendar = Calendar{Period: CalendarMonth, Location: seoul}
	mustConfigure(t, e, spec)
	e.Observe("talk", "f", "a", Observation{Start: start, Success: true})

	// 23:00-23:30 KST on 30 November.
	novOutage := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
	clock.Set(novOutage)
	e.Observe("talk", "f", "a", Observation{Start: novOutage, Error: "refused"})
	clock.Set(novOutage.Add(30 * time.Minute))
	e.Observe("talk", "f", "a", Observation{Start: novOutage.Add(30 * time.Minute), Success: true})

	boundary := time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC) // 2026-12-01 00:00 KST
	decOutage := boundary.Add(24 * time.Hour)                  // 2026-12-02 00:00 KST, 10 minutes
	const nov, dec = 30 * 86400.0, 31 * 86400.0
	cases := []struct {
		name                    string
		now                     time.Time
		periodStart             time.Time
		availability, budget    float64
		burn, rolling30d        float64
		downtimeBefore, elapsed float64 // for the message only
	}{
		{"last second of November", boundary.Add(-time.Second), start,
			1 - 1800/(nov-1), 1 - 1800/(0.001*nov), 1800 / (nov - 1) / 0.001, 1 - 1800/(nov-1), 1800, nov - 1},
		{"midnight of 1 December", boundary, boundary, 1, 1, 0, 1 - 1800/nov, 0, 0},
		{"a day into December", boundary.Add(24 * time.Hour), boundary, 1, 1, 0, 1 - 1800/nov, 0, 86400},
		{"after December's outage", decOutage.Add(time.Hour), boundary,
			1 - 600/(25*3600.0), 1 - 600/(0.001*dec), 600 / (25 * 3600.0) / 0.001, 1 - 2400/nov, 600, 25 * 3600},
	}
	decFed := false
	for _, c := range cases {
		if c.now.After(decOutage) && !decFed {
			decFed = true
			clock.Set(decOutage)
			e.Observe("talk", "f", "a", Observation{Start: decOutage, Error: "refused"})
			clock.Set(decOutage.Add(10 * time.Minute))
			e.Observe("talk", "f", "a", Observation{Start: decOutage.Add(10 * time.Minute), Success: true})
		}
		clock.Set(c.now)
		rows, _, _ := e.Figures(nil, 0)
		r := rows[0]
		if !r.Calendar || r.PeriodStart != float64(c.periodStart.Unix()) {
			t.Errorf("%s: calendar %v, period start %v; want true, %v", c.name, r.Calendar, r.PeriodStart, c.periodStart)
		}
		slo := r.Availability[len(r.Availability)-1]
		for _, v := range []struct {
			what      string
			got, want float64
		}{
			{"calendar availability", r.CalendarAvailability, c.availability},
			{"slo availability", slo, c.availability},
			{"budget", r.BudgetRemaining, c.budget},
			{"calendar burn", r.CalendarBurn, c.burn},
			{"rolling 30d availability", r.Availability[3], c.rolling30d},
		} {
			if math.Abs(v.got-v.want) > 1e-12 {
				t.Errorf("%s (%.0fs down in %.0fs of the period): %s %.12f, want %.12f", c.name, c.downtimeBefore, c.elapsed, v.what, v.got, v.want)
			}
		}
	}

	st := status(t, e, "f")
	if st.SLO.Window != "calendar-month" || st.SLO.Timezone != "Asia/Seoul" || st.Availability.Calendar == nil ||
		st.SLO.PeriodStart == nil || st.SLO.PeriodEnd == nil {
		t.Fatalf("status SLO %+v, calendar availability %v; want calendar-month in Asia/Seoul with the period", st.SLO, st.Availability.Calendar)
	}
	data, err := json.Marshal(st.SLO)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(st.SLO.ErrorBudgetRemaining-(1-600/(0.001*dec))) > 1e-12 {
		t.Errorf("status budget %v, want %v", st.SLO.ErrorBudgetRemaining, 1-600/(0.001*dec))
	}
	want := `{"objective":0.999,"window":"calendar-month","error_budget_remaining":` + jsonFloat(st.SLO.ErrorBudgetRemaining) +
		`,"timezone":"Asia/Seoul","period_start":"2026-12-01T00:00:00+09:00","period_end":"2027-01-01T00:00:00+09:00"}`
	if string(data) != want {
		t.Errorf("slo JSON\n got %s\nwant %s", data, want)
	}
}

func jsonFloat(v float64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestCalendarWeekDST: a calendar week runs from Monday midnight to Monday
// midnight in its zone, so the week a daylight-saving change falls in is
// 167 or 169 hours long, and its budget is of that length.
func TestCalendarWeekDST(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	cases := []struct {
		name       string
		at         time.Time
		start, end time.Time
		hours      float64
	}{
		{"autumn: clocks go back on Sunday 25 October", time.Date(2026, 10, 22, 12, 0, 0, 0, time.UTC),
			time.Date(2026, 10, 18, 22, 0, 0, 0, time.UTC), time.Date(2026, 10, 25, 23, 0, 0, 0, time.UTC), 169},
		{"spring: clocks go forward on Sunday 29 March", time.Date(2026, 3, 29, 21, 59, 59, 0, time.UTC),
			time.Date(2026, 3, 22, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC), 167},
		{"Monday midnight CEST belongs to the new week", time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC),
			time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC), time.Date(2026, 4, 5, 22, 0, 0, 0, time.UTC), 168},
	}
	for _, c := range cases {
		s, e := Calendar{Period: CalendarWeek, Location: berlin}.PeriodAt(c.at)
		if !s.Equal(c.start) || !e.Equal(c.end) || e.Sub(s).Hours() != c.hours {
			t.Errorf("%s: week of %s is [%s, %s) (%vh), want [%s, %s) (%vh)", c.name, c.at, s.UTC(), e.UTC(), e.Sub(s).Hours(),
				c.start, c.end, c.hours)
		}
	}

	// The engine: a feature configured at the start of the long week, one
	// hour down on Wednesday; at the end of the week the budget is of 169h,
	// and on Monday it is whole again.
	weekStart := cases[0].start
	clock := newFakeClock(weekStart)
	e := memTest(t, clock)
	spec := testSpec("f", "a")
	spec.Calendar = Calendar{Period: CalendarWeek, Location: berlin}
	mustConfigure(t, e, spec)
	e.Observe("talk", "f", "a", Observation{Start: weekStart, Success: true})
	down := time.Date(2026, 10, 21, 10, 0, 0, 0, time.UTC)
	clock.Set(down)
	e.Observe("talk", "f", "a", Observation{Start: down, Error: "refused"})
	clock.Set(down.Add(time.Hour))
	e.Observe("talk", "f", "a", Observation{Start: down.Add(time.Hour), Success: true})

	clock.Set(cases[0].end.Add(-time.Second))
	rows, _, _ := e.Figures(nil, 0)
	if want := 1 - 3600/(0.001*169*3600); math.Abs(rows[0].BudgetRemaining-want) > 1e-12 {
		t.Errorf("budget at the end of the 169h week %v, want %v", rows[0].BudgetRemaining, want)
	}
	clock.Set(cases[0].end)
	rows, _, _ = e.Figures(rows[:0], 0)
	if r := rows[0]; r.BudgetRemaining != 1 || r.CalendarAvailability != 1 || r.CalendarBurn != 0 || r.PeriodStart != float64(cases[0].end.Unix()) {
		t.Errorf("Monday 00:00 CET: budget %v, availability %v, burn %v, period start %v; want 1, 1, 0, %d",
			r.BudgetRemaining, r.CalendarAvailability, r.CalendarBurn, r.PeriodStart, cases[0].end.Unix())
	}
	if st := status(t, e, "f"); st.SLO.Window != "calendar-week" || st.SLO.PeriodStart.Format(time.RFC3339) != "2026-10-26T00:00:00+01:00" {
		t.Errorf("status: window %q, period start %s; want calendar-week from 2026-10-26T00:00:00+01:00", st.SLO.Window, st.SLO.PeriodStart)
	}
}

// TestCalendarPeriodsContain: over two years hour by hour, in zones whose
// clocks change at midnight too, every instant lies in its period, the
// period starts at a local midnight of the 1st (month) or a Monday (week),
// and the next period starts where it ends.
func TestCalendarPeriodsContain(t *testing.T) {
	for _, zone := range []string{"UTC", "Asia/Seoul", "Europe/Berlin", "America/New_York", "America/Havana", "America/Santiago", "Asia/Beirut", "Australia/Lord_Howe"} {
		loc := mustZone(t, zone)
		for _, period := range []CalendarPeriod{CalendarMonth, CalendarWeek} {
			c := Calendar{Period: period, Location: loc}
			for h := 0; h < 2*366*24; h++ {
				at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour)
				s, e := c.PeriodAt(at)
				if at.Before(s) || !at.Before(e) {
					t.Fatalf("%s %s: %s not in its period [%s, %s)", zone, c, at, s, e)
				}
				ls := s.In(loc)
				if (period == CalendarMonth && ls.Day() != 1) || (period == CalendarWeek && ls.Weekday() != time.Monday) || ls.Hour() > 1 {
					t.Fatalf("%s %s: period of %s starts %s", zone, c, at, ls)
				}
				if ns, _ := c.PeriodAt(e); !ns.Equal(e) {
					t.Fatalf("%s %s: period after [%s, %s) starts at %s", zone, c, s, e, ns)
				}
			}
		}
	}
}

// TestCalendarSpecRecord: the store's spec record carries the calendar's
// zone by name, and a reload that changes only the window applies.
func TestCalendarSpecRecord(t *testing.T) {
	seoul := mustZone(t, "Asia/Seoul")
	spec := testSpec("f", "a")
	spec.Calendar = Calendar{Period: CalendarWeek, Location: seoul}
	got, err := decodeSpec(encodeSpec(spec))
	if err != nil {
		t.Fatal(err)
	}
	if !sameSpec(got, spec) || got.Calendar.Location.String() != "Asia/Seoul" {
		t.Errorf("decoded calendar %+v, want week in Asia/Seoul", got.Calendar)
	}
	plain, err := decodeSpec(encodeSpec(testSpec("f", "a")))
	if err != nil || plain.Calendar.Enabled() {
		t.Errorf("rolling spec decoded with calendar %+v (err %v)", plain.Calendar, err)
	}

	clock := newFakeClock(t0)
	e := memTest(t, clock)
	mustConfigure(t, e, testSpec("f", "a"))
	mustConfigure(t, e, spec)
	if st := status(t, e, "f"); st.SLO.Window != "calendar-week" {
		t.Errorf("after a reload to calendar-week the window is %q", st.SLO.Window)
	}
	mustConfigure(t, e, testSpec("f", "a"))
	if st := status(t, e, "f"); st.SLO.Window != "30d" || st.Availability.Calendar != nil {
		t.Errorf("after a reload back to 30d: window %q, calendar availability %v", st.SLO.Window, st.Availability.Calendar)
	}
}
