package contract

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Contract is the agreed terms of one feature's SLA.
type Contract struct {
	// Objective is the agreed availability in percent, e.g. 99.9.
	Objective float64
	// Location is the zone covered hours and excluded dates are read in;
	// nil means UTC.
	Location *time.Location
	// Hours are the covered hours; none means every hour is covered.
	Hours []Hours
	// Excluded are local dates that are never covered (holidays).
	Excluded []Date
	// Credits are the credit tiers, in any order.
	Credits []Tier
}

// Tier is one credit tier: availability below Below percent owes Credit
// percent of the fee.
type Tier struct {
	Below  float64 `json:"below"`
	Credit float64 `json:"credit"`
}

// Date is a local calendar date.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// String formats d as 2006-01-02.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// ParseDate reads a date written as 2026-12-25.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// Hours is one covered-hours rule: on the given weekdays, from Start to End
// (minutes after local midnight). An End at or before Start runs past
// midnight into the next day ("Fri 22:00-06:00").
type Hours struct {
	Days       [7]bool // by time.Weekday
	Start, End int     // minutes; End may be 1440 (24:00)
	text       string
}

// String is the rule as written.
func (h Hours) String() string { return h.text }

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseHours reads a rule such as "Mon-Fri 09:00-18:00", "Sat,Sun 10:00-14:00",
// "Daily 00:00-24:00" or "Fri-Mon 22:00-06:00": weekdays (three-letter
// names, ranges wrapping over the week, lists with commas, or "Daily"), a
// space, and a local time range.
func ParseHours(s string) (Hours, error) {
	h := Hours{text: s}
	days, clock, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return h, fmt.Errorf("covered hours %q: want days and times, like \"Mon-Fri 09:00-18:00\"", s)
	}
	if strings.EqualFold(days, "daily") {
		for i := range h.Days {
			h.Days[i] = true
		}
	} else {
		for _, part := range strings.Split(days, ",") {
			first, last, isRange := strings.Cut(part, "-")
			a, okA := dayNames[strings.ToLower(first)]
			b, okB := a, okA
			if isRange {
				b, okB = dayNames[strings.ToLower(last)]
			}
			if !okA || !okB {
				return h, fmt.Errorf("covered hours %q: %q is not a weekday (Mon..Sun), a range (Mon-Fri) or Daily", s, part)
			}
			for d := a; ; d = (d + 1) % 7 {
				h.Days[d] = true
				if d == b {
					break
				}
			}
		}
	}
	from, to, ok := strings.Cut(strings.TrimSpace(clock), "-")
	var err1, err2 error
	h.Start, err1 = minutes(from)
	h.End, err2 = minutes(to)
	if !ok || err1 != nil || err2 != nil || h.Start == 1440 {
		return h, fmt.Errorf("covered hours %q: %q is not a time range like 09:00-18:00", s, clock)
	}
	if h.Start == h.End {
		return h, fmt.Errorf("covered hours %q: the range is empty (write 00:00-24:00 for whole days)", s)
	}
	return h, nil
}

// minutes reads HH:MM (00:00 to 24:00) as minutes after midnight.
func minutes(s string) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || len(hh) != 2 || len(mm) != 2 || err1 != nil || err2 != nil || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	return h*60 + m, nil
}

// Interval is the half-open span [Start, End).
type Interval struct{ Start, End time.Time }

// Covered returns the covered parts of [from, to), sorted, disjoint and
// merged where they touch.
func (c Contract) Covered(from, to time.Time) []Interval {
	if !from.Before(to) {
		return nil
	}
	loc := c.location()
	var out []Interval
	if len(c.Hours) == 0 {
		out = []Interval{{from, to}}
	} else {
		// Every local date whose rules can reach into the range: a rule
		// running past midnight starts the day before.
		y, m, d := from.In(loc).Date()
		for day := time.Date(y, m, d-1, 0, 0, 0, 0, loc); day.Before(to); day = time.Date(y, m, d+1, 0, 0, 0, 0, loc) {
			y, m, d = day.Date()
			for _, h := range c.Hours {
				if !h.Days[day.Weekday()] {
					continue
				}
				endDay := d
				if h.End <= h.Start {
					endDay++
				}
				s := time.Date(y, m, d, 0, h.Start, 0, 0, loc)
				e := time.Date(y, m, endDay, 0, h.End, 0, 0, loc)
				out = addClipped(out, Interval{s, e}, from, to)
			}
		}
		out = merge(out)
	}
	if len(c.Excluded) == 0 {
		return out
	}
	var holidays []Interval
	for _, x := range c.Excluded {
		s := time.Date(x.Year, x.Month, x.Day, 0, 0, 0, 0, loc)
		holidays = addClipped(holidays, Interval{s, time.Date(x.Year, x.Month, x.Day+1, 0, 0, 0, 0, loc)}, from, to)
	}
	return Subtract(out, merge(holidays))
}

func (c Contract) location() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

// addClipped appends iv ∩ [from, to) to list when it is not empty.
func addClipped(list []Interval, iv Interval, from, to time.Time) []Interval {
	if iv.Start.Before(from) {
		iv.Start = from
	}
	if iv.End.After(to) {
		iv.End = to
	}
	if iv.Start.Before(iv.End) {
		list = append(list, iv)
	}
	return list
}

// merge sorts list and merges overlapping or touching intervals.
func merge(list []Interval) []Interval {
	slices.SortFunc(list, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	var out []Interval
	for _, iv := range list {
		if n := len(out); n > 0 && !iv.Start.After(out[n-1].End) {
			if iv.End.After(out[n-1].End) {
				out[n-1].End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// Intersect returns a ∩ b; both sorted and disjoint.
func Intersect(a, b []Interval) []Interval {
	var out []Interval
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		s, e := later(a[i].Start, b[j].Start), earlier(a[i].End, b[j].End)
		if s.Before(e) {
			out = append(out, Interval{s, e})
		}
		if a[i].End.Before(b[j].End) {
			i++
		} else {
			j++
		}
	}
	return out
}

// Subtract returns a − b; both sorted and disjoint.
func Subtract(a, b []Interval) []Interval {
	var out []Interval
	j := 0
	for _, iv := range a {
		cur := iv.Start
		for j < len(b) && !b[j].End.After(cur) {
			j++
		}
		for k := j; k < len(b) && b[k].Start.Before(iv.End); k++ {
			if b[k].Start.After(cur) {
				out = append(out, Interval{cur, b[k].Start})
			}
			cur = later(cur, b[k].End)
		}
		if cur.Before(iv.End) {
			out = append(out, Interval{cur, iv.End})
		}
	}
	return out
}

// Length is the total length of list.
func Length(list []Interval) time.Duration {
	var d time.Duration
	for _, iv := range list {
		d += iv.End.Sub(iv.Start)
	}
	return d
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Below reports whether the availability (eligible − downtime) / eligible is
// below percent, exactly: no float rounding decides a credit. Nothing
// eligible is 100 %.
func Below(downtime, eligible time.Duration, percent float64) bool {
	if eligible <= 0 {
		return false
	}
	avail := new(big.Rat).SetFrac(big.NewInt(int64(eligible-downtime)), big.NewInt(int64(eligible)))
	limit, ok := new(big.Rat).SetString(strconv.FormatFloat(percent, 'f', -1, 64))
	if !ok {
		return false
	}
	limit.Quo(limit, big.NewRat(100, 1))
	return avail.Cmp(limit) < 0
}

// Credit returns the tier an availability reaches: of the tiers it is below,
// the one with the lowest Below (the largest credit). ok is false when it
// reaches none.
func (c Contract) Credit(downtime, eligible time.Duration) (t Tier, ok bool) {
	for _, tier := range c.Credits {
		if Below(downtime, eligible, tier.Below) && (!ok || tier.Below < t.Below) {
			t, ok = tier, true
		}
	}
	return t, ok
}
