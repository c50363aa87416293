package timerange

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestParseReadsEveryForm(t *testing.T) {
	tests := []struct {
		in   string
		edge Edge
		want time.Time
	}{
		{"", Start, time.Time{}},
		{"now", Start, now},
		{"2026-10-15T15:33:00+09:00", Start, time.Date(2026, 10, 15, 6, 33, 0, 0, time.UTC)},
		{"2026-10-15T15:33", End, time.Date(2026, 10, 15, 15, 33, 0, 0, time.UTC)},
		{"2026-10-15", Start, time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC)},
		{"2026-10-15", End, time.Date(2026, 10, 16, 0, 0, 0, 0, time.UTC)},
		{"2026-10", Start, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-12", End, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"1792046000", Start, time.Unix(1792046000, 0)},
		{"1792046000.25", Start, time.Unix(1792046000, 250_000_000)},
		{"0", Start, time.Unix(0, 0)},
		{"24h", Start, now.Add(-24 * time.Hour)},
		{"30d", Start, now.Add(-30 * 24 * time.Hour)},
		{"1h30m", Start, now.Add(-90 * time.Minute)},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, tt.edge, time.Time{}, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("Parse(%q, %v) = %v, %v; want %v", tt.in, tt.edge, got, err, tt.want)
		}
	}
}

// TestParseRejectsNonsense: each of these used to read as some time (NaN, Inf,
// 1e300 and the int64 maximum as 1677-09-21, 12abc as 12 s after the epoch).
func TestParseRejectsNonsense(t *testing.T) {
	for _, in := range []string{
		"NaN", "nan", "Inf", "+Inf", "-Inf", "1e300", "1e9", "9223372036854775807", "99999999999999",
		"12abc", "1_000", " 123", "123 ", "-5", "+5", "0x10", "yesterday", "2026-13", "2026-10-32",
		"0s", "-24h", "100000000y", "12.", ".5", "1.1234567890",
	} {
		got, err := Parse(in, Start, time.Time{}, now)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, got)
			continue
		}
		if !strings.Contains(err.Error(), in) {
			t.Errorf("Parse(%q) error %q does not name the value", in, err)
		}
	}
}

func TestRangeTakesDaysAndMonthsWhole(t *testing.T) {
	tests := []struct {
		from, to   string
		start, end time.Time
	}{
		{"2026-12", "2026-12", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-11-03", "2026-11-03", time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC)},
		{"", "", now.Add(-DefaultSpan), now},
		{"", "2026-10", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(-DefaultSpan), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		start, end, err := Range("from", tt.from, "to", tt.to, now)
		if err != nil || !start.Equal(tt.start) || !end.Equal(tt.end) {
			t.Errorf("Range(%q, %q) = %v, %v, %v; want %v, %v", tt.from, tt.to, start, end, err, tt.start, tt.end)
		}
	}
	if _, _, err := Range("--from", "2026-12", "--to", "2026-11", now); err == nil || !strings.Contains(err.Error(), "--from 2026-12-01T00:00:00Z is not before --to 2026-12-01T00:00:00Z") {
		t.Errorf("Range over a reversed pair: %v", err)
	}
	if _, _, err := Range("from", "NaN", "to", "", now); err == nil || !strings.HasPrefix(err.Error(), `from: cannot read time "NaN"`) {
		t.Errorf("Range with from=NaN: %v", err)
	}
}

// FuzzParse: whatever is typed, Parse returns an error or a time between
// 1970 and 9999, and a time it returns reads back the same from RFC 3339.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "now", "2026-10-15T15:33:00+09:00", "2026-10-15", "2026-10", "1792046000",
		"1792046000.5", "24h", "30d", "1h30m", "NaN", "1e300", "9223372036854775807", "12abc", "1_000", " 123"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, end bool) {
		edge := Start
		if end {
			edge = End
		}
		got, err := Parse(s, edge, now, now)
		if err != nil {
			return
		}
		if got.Before(earliest) || got.After(latest) {
			t.Fatalf("Parse(%q) = %v, outside 1970 to 9999", s, got)
		}
		back, err := Parse(got.Format(time.RFC3339Nano), edge, now, now)
		if err != nil || !back.Equal(got) {
			t.Fatalf("Parse(%q) = %v, which reads back as %v, %v", s, got, back, err)
		}
	})
}
