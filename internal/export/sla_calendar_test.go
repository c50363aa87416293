package export

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/sla"
)

// TestCalendarSeries: a feature with a calendar-month window in Asia/Seoul
// has window="calendar" availability and burn series (and its budget is of
// the current period) that start afresh at midnight of the 1st there; a
// rolling feature has none.
func TestCalendarSeries(t *testing.T) {
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Skipf("no Asia/Seoul in zoneinfo: %v", err)
	}
	start := time.Date(2026, 10, 31, 15, 0, 0, 0, time.UTC) // 2026-11-01 00:00 KST
	clock := &fakeClock{t: start}
	e := openEngine(t, clock)
	cal := featureSpec("talk", "cal", nil)
	cal.Calendar = sla.Calendar{Period: sla.CalendarMonth, Location: seoul}
	roll := featureSpec("talk", "roll", nil)
	configure(t, e, cal, roll)
	reg := expo.New(nil, nil, NewSLAMetrics(e, map[string]string{"region": "kr-central-1"}, nil))

	down := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC) // 23:00 KST, the last hour of November there
	for _, f := range []string{"cal", "roll"} {
		e.Observe("talk", f, "a", sla.Observation{Start: start, Success: true})
	}
	clock.Set(down)
	for _, f := range []string{"cal", "roll"} {
		e.Observe("talk", f, "a", sla.Observation{Start: down.Add(-time.Minute), Success: true})
		e.Observe("talk", f, "a", sla.Observation{Start: down, Error: "refused"})
	}
	clock.Set(down.Add(30 * time.Minute))
	for _, f := range []string{"cal", "roll"} {
		e.Observe("talk", f, "a", sla.Observation{Start: down.Add(30 * time.Minute), Success: true})
	}

	lc := "feature=cal,region=kr-central-1,service=talk"
	lr := "feature=roll,region=kr-central-1,service=talk"
	const nov = 30 * 86400.0
	steps := []struct {
		name string
		now  time.Time
		want map[string]float64
	}{
		{"one second before the boundary", down.Add(time.Hour - time.Second), map[string]float64{
			"vigil_sla_availability_ratio{" + lc + ",window=calendar}": 1 - 1800/(nov-1),
			"vigil_sla_availability_ratio{" + lc + ",window=slo}":      1 - 1800/(nov-1),
			"vigil_sla_burn_rate{" + lc + ",window=calendar}":          1800 / (nov - 1) / 0.001,
			"vigil_sla_error_budget_remaining_ratio{" + lc + "}":       1 - 1800/(0.001*nov),
			"vigil_sla_error_budget_remaining_ratio{" + lr + "}":       1 - 1800/(0.001*(nov-1)),
		}},
		{"midnight of 1 December in Seoul", down.Add(time.Hour), map[string]float64{
			"vigil_sla_availability_ratio{" + lc + ",window=calendar}": 1,
			"vigil_sla_availability_ratio{" + lc + ",window=slo}":      1,
			"vigil_sla_availability_ratio{" + lc + ",window=30d}":      1 - 1800/nov,
			"vigil_sla_burn_rate{" + lc + ",window=calendar}":          0,
			"vigil_sla_error_budget_remaining_ratio{" + lc + "}":       1,
			"vigil_sla_error_budget_remaining_ratio{" + lr + "}":       1 - 1800/(0.001*nov),
		}},
	}
	for _, s := range steps {
		clock.Set(s.now)
		got, _ := gatherValues(t, reg)
		for k, want := range s.want {
			if v, ok := got[k]; !ok || math.Abs(v-want) > 1e-9 {
				t.Errorf("%s: %s = %v (present %v), want %v", s.name, k, v, ok, want)
			}
		}
		for k := range got {
			if strings.Contains(k, "feature=roll") && strings.Contains(k, "window=calendar") {
				t.Errorf("%s: rolling feature has %s", s.name, k)
			}
		}
	}
}
