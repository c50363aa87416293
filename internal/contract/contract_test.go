package contract

import (
	"strings"
	"testing"
	"time"
)

func mustHours(t *testing.T, rules ...string) []Hours {
	t.Helper()
	var out []Hours
	for _, r := range rules {
		h, err := ParseHours(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
	return out
}

func TestCovered(t *testing.T) {
	seoul, _ := time.LoadLocation("Asia/Seoul")
	ny, _ := time.LoadLocation("America/New_York")
	holiday, _ := ParseDate("2026-11-03")
	for _, tc := range []struct {
		name     string
		c        Contract
		from, to time.Time
		want     time.Duration
		first    string // first covered interval, RFC 3339 in the zone
	}{
		{"all hours by default", Contract{}, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
			30 * 24 * time.Hour, "2026-11-01T00:00:00Z-2026-12-01T00:00:00Z"},
		// November 2026 in Seoul: 21 weekdays × 9 h.
		{"weekdays in Seoul", Contract{Location: seoul, Hours: mustHours(t, "Mon-Fri 09:00-18:00")},
			time.Date(2026, 11, 1, 0, 0, 0, 0, seoul), time.Date(2026, 12, 1, 0, 0, 0, 0, seoul), 21 * 9 * time.Hour,
			"2026-11-02T09:00:00+09:00-2026-11-02T18:00:00+09:00"},
		{"a holiday is not covered", Contract{Location: seoul, Hours: mustHours(t, "Mon-Fri 09:00-18:00"), Excluded: []Date{holiday}},
			time.Date(2026, 11, 1, 0, 0, 0, 0, seoul), time.Date(2026, 12, 1, 0, 0, 0, 0, seoul), 20 * 9 * time.Hour,
			"2026-11-02T09:00:00+09:00-2026-11-02T18:00:00+09:00"},
		{"the range cuts a day", Contract{Location: seoul, Hours: mustHours(t, "Mon-Fri 09:00-18:00")},
			time.Date(2026, 11, 2, 12, 0, 0, 0, seoul), time.Date(2026, 11, 3, 10, 0, 0, 0, seoul), 7 * time.Hour,
			"2026-11-02T12:00:00+09:00-2026-11-02T18:00:00+09:00"},
		{"overnight from the day before the range", Contract{Location: seoul, Hours: mustHours(t, "Sun 22:00-06:00")},
			time.Date(2026, 11, 2, 0, 0, 0, 0, seoul), time.Date(2026, 11, 3, 0, 0, 0, 0, seoul), 6 * time.Hour,
			"2026-11-02T00:00:00+09:00-2026-11-02T06:00:00+09:00"},
		{"two rules merge where they touch", Contract{Location: seoul, Hours: mustHours(t, "Mon 00:00-12:00", "Mon 12:00-24:00")},
			time.Date(2026, 11, 2, 0, 0, 0, 0, seoul), time.Date(2026, 11, 3, 0, 0, 0, 0, seoul), 24 * time.Hour,
			"2026-11-02T00:00:00+09:00-2026-11-03T00:00:00+09:00"},
		// 8 March 2026 in New York has 23 hours: Daily 00:00-24:00 covers 23h of it.
		{"a day of 23 hours", Contract{Location: ny, Hours: mustHours(t, "Daily 00:00-24:00")},
			time.Date(2026, 3, 8, 0, 0, 0, 0, ny), time.Date(2026, 3, 9, 0, 0, 0, 0, ny), 23 * time.Hour,
			"2026-03-08T00:00:00-05:00-2026-03-09T00:00:00-04:00"},
		{"covered hours across the change", Contract{Location: ny, Hours: mustHours(t, "Sun 01:00-04:00")},
			time.Date(2026, 3, 8, 0, 0, 0, 0, ny), time.Date(2026, 3, 9, 0, 0, 0, 0, ny), 2 * time.Hour,
			"2026-03-08T01:00:00-05:00-2026-03-08T04:00:00-04:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.c.Covered(tc.from, tc.to)
			if d := Length(got); d != tc.want {
				t.Errorf("covered %v, want %v (%v)", d, tc.want, got)
			}
			loc := tc.c.location()
			if len(got) == 0 {
				t.Fatal("nothing covered")
			}
			first := got[0].Start.In(loc).Format(time.RFC3339) + "-" + got[0].End.In(loc).Format(time.RFC3339)
			if first != tc.first {
				t.Errorf("first interval %s, want %s", first, tc.first)
			}
		})
	}
}

func TestParseHoursErrors(t *testing.T) {
	for in, want := range map[string]string{
		"Mon-Fri":             "want days and times",
		"Mon-Fry 09:00-18:00": `"Mon-Fry" is not a weekday`,
		"Mon 9:00-18:00":      "is not a time range",
		"Mon 09:00-24:01":     "is not a time range",
		"Mon 09:00-09:00":     "the range is empty",
	} {
		_, err := ParseHours(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseHours(%q) = %v, want %q", in, err, want)
		}
	}
	h, err := ParseHours("Fri-Mon 22:00-06:00")
	if err != nil || !h.Days[time.Friday] || !h.Days[time.Sunday] || !h.Days[time.Monday] || h.Days[time.Tuesday] {
		t.Errorf("Fri-Mon wraps over the week: %+v %v", h.Days, err)
	}
}

func TestCredit(t *testing.T) {
	c := Contract{Credits: []Tier{{Below: 99.0, Credit: 25}, {Below: 99.9, Credit: 10}}}
	eligible := 1000 * time.Second
	for _, tc := range []struct {
		down   time.Duration
		credit float64
		ok     bool
	}{
		{0, 0, false},
		{time.Second, 0, false}, // exactly 99.9 %: not below
		{time.Second + time.Nanosecond, 10, true},
		{10 * time.Second, 10, true}, // exactly 99.0 %
		{11 * time.Second, 25, true},
	} {
		tier, ok := c.Credit(tc.down, eligible)
		if ok != tc.ok || tier.Credit != tc.credit {
			t.Errorf("downtime %v of %v: credit %v %v, want %v %v", tc.down, eligible, tier.Credit, ok, tc.credit, tc.ok)
		}
	}
	if Below(0, 0, 99.9) {
		t.Error("nothing eligible counts as 100 %")
	}
}
