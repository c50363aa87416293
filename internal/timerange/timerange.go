// Package timerange reads the times and time ranges that people type: the
// `from`, `to`, `since` and `until` of the JSON API and the `--from` and `--to`
// of `vigil report`, with one syntax and one meaning for both.
package timerange

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Edge says which end of a range a time is: a date or a month given as an End
// means the end of that day or month, so `2026-11` to `2026-11` is the month.
type Edge int

const (
	// Start is the first instant of a day or month.
	Start Edge = iota
	// End is the instant after a day or month: the range's exclusive end.
	End
)

// The readable span: times before the Unix epoch or after year 9999 are
// mistakes (an overflow, a unit slip), not history anyone recorded.
var (
	earliest = time.Unix(0, 0).UTC()
	latest   = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// unixSeconds is a plain count of seconds since the epoch, with an optional
// fraction: no sign, exponent, separators, spaces or words.
var unixSeconds = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,9})?$`)

const syntax = "use RFC 3339 (2026-10-15T15:33:00+09:00), a date (2026-10-15), a month (2026-10), Unix seconds, now, or a duration ago (24h, 30d)"

// Parse reads s: RFC 3339, a date (2026-10-15, UTC), a month (2026-10, UTC),
// Unix seconds, "now", or a duration back from now ("24h", "30d", "1h30m").
// A date or month read as an End is the end of that day or month. "" gives def.
// Anything else, including spaces around the value, is an error naming it.
func Parse(s string, edge Edge, def, now time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	t, err := parse(s, edge, now)
	if err != nil {
		return time.Time{}, err
	}
	if t.Before(earliest) || t.After(latest) {
		return time.Time{}, fmt.Errorf("time %q is %s, outside 1970 to 9999", s, t.UTC().Format(time.RFC3339))
	}
	return t, nil
}

func parse(s string, edge Edge, now time.Time) (time.Time, error) {
	if s == "now" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if edge == End {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if t, err := time.Parse("2006-01", s); err == nil {
		if edge == End {
			t = t.AddDate(0, 1, 0)
		}
		return t, nil
	}
	if unixSeconds.MatchString(s) {
		return unix(s)
	}
	if d, err := model.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-time.Duration(d)), nil
	}
	return time.Time{}, fmt.Errorf("cannot read time %q: %s", s, syntax)
}

// unix reads seconds[.fraction] exactly, without going through a float.
func unix(s string) (time.Time, error) {
	whole, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot read time %q: %w", s, err)
	}
	var nanos int64
	if frac != "" {
		for len(frac) < 9 {
			frac += "0"
		}
		if nanos, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, fmt.Errorf("cannot read time %q: %w", s, err)
		}
	}
	return time.Unix(secs, nanos), nil
}

// DefaultSpan is how far back a range reaches when only its end is given.
const DefaultSpan = 30 * 24 * time.Hour

// Range reads a from-to pair: to defaults to now, from to DefaultSpan before
// to; a date or month as to means its end. The names (e.g. "from", "--from")
// prefix the errors, and from must come before to.
func Range(fromName, from, toName, to string, now time.Time) (start, end time.Time, err error) {
	if end, err = Parse(to, End, now, now); err != nil {
		return start, end, fmt.Errorf("%s: %w", toName, err)
	}
	if start, err = Parse(from, Start, end.Add(-DefaultSpan), now); err != nil {
		return start, end, fmt.Errorf("%s: %w", fromName, err)
	}
	if !start.Before(end) {
		return start, end, errors.New(fromName + " " + start.UTC().Format(time.RFC3339) + " is not before " + toName + " " + end.UTC().Format(time.RFC3339))
	}
	return start, end, nil
}
