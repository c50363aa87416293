package sla

import (
	"bytes"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/expo/expotest"
)

// gathered maps "name{label=value,...}" (labels sorted, region included) to
// the sample value.
func gather(t *testing.T, g prometheus.Gatherer) (map[string]float64, []*dto.MetricFamily) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out, mfs
}

func TestCollector(t *testing.T) {
	clock := newFakeClock(t0)
	// The agent passes its region and labels as constant labels, as here.
	e, err := Open(Options{Path: t.TempDir(), Region: "kr-central-1", Clock: clock, ReservedLabels: []string{"datacenter"}, noSync: true,
		ConstLabels: map[string]string{"region": "kr-central-1", "datacenter": "pangyo"}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f := testSpec("f", "a")
	f.Labels = map[string]string{"datacenter": "pangyo", "team-name": "messaging", "region": "kr", "9lives": "x"}
	g := testSpec("g", "a")
	g.Labels = map[string]string{"tier": "1"}
	mustConfigure(t, e, f, g)
	reg := expo.New(nil, nil, e)

	clock.Set(at(0))
	e.Observe("talk", "f", "a", Observation{Start: at(0), Success: true})
	e.Observe("talk", "g", "a", Observation{Start: at(0), Success: true})
	clock.Set(at(1800))
	e.Observe("talk", "f", "a", Observation{Start: at(1800), Error: "refused"})
	clock.Set(at(3600))

	got, _ := gather(t, reg)
	lf := "datacenter=pangyo,feature=f,region=kr-central-1,service=talk"
	lg := "datacenter=pangyo,feature=g,region=kr-central-1,service=talk"
	want := map[string]float64{
		"vigil_feature_state{" + lf + ",state=down}":          1,
		"vigil_feature_state{" + lf + ",state=up}":            0,
		"vigil_feature_state{" + lg + ",state=up}":            1,
		"vigil_feature_up{" + lf + "}":                        0,
		"vigil_feature_up{" + lg + "}":                        1,
		"vigil_sla_objective_ratio{" + lf + "}":               0.999,
		"vigil_sla_availability_ratio{" + lf + ",window=1h}":  0.5,
		"vigil_sla_availability_ratio{" + lf + ",window=24h}": 0.5, // only the hour configured counts
		"vigil_sla_availability_ratio{" + lf + ",window=slo}": 0.5,
		"vigil_sla_availability_ratio{" + lg + ",window=30d}": 1,
		"vigil_sla_error_budget_remaining_ratio{" + lf + "}":  1 - 1800/(0.001*3600),
		"vigil_sla_burn_rate{" + lf + ",window=5m}":           1000,
		"vigil_sla_burn_rate{" + lf + ",window=1h}":           500,
		"vigil_sla_burn_rate{" + lg + ",window=1h}":           0,
		"vigil_sla_downtime_seconds_total{" + lf + "}":        1800,
		"vigil_sla_degraded_seconds_total{" + lf + "}":        0,
		"vigil_sla_unmonitored_seconds_total{" + lf + "}":     0,
		"vigil_outages_total{" + lf + "}":                     1,
		"vigil_outages_total{" + lg + "}":                     0,
		"vigil_outage_active{" + lf + "}":                     1,
		"vigil_outage_start_timestamp_seconds{" + lf + "}":    float64(at(1800).Unix()),
		"vigil_outage_last_duration_seconds{" + lf + "}":      1800,
		"vigil_outage_start_timestamp_seconds{" + lg + "}":    0,
		"vigil_feature_info{_9lives=x,datacenter=pangyo,feature=f,label_datacenter=pangyo,label_region=kr,region=kr-central-1,service=talk,team_name=messaging,tier=,title=Feature f}": 1,
		"vigil_feature_info{_9lives=,datacenter=pangyo,feature=g,label_datacenter=,label_region=,region=kr-central-1,service=talk,team_name=,tier=1,title=Feature g}":                  1,
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing %s", k)
			continue
		}
		if math.Abs(g-v) > 1e-9 {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
	const perFeature = len(stateOrder) + 4 + len(availabilityWindows) + 1 + len(burnWindows) + 7
	if n := len(got); n != 2*perFeature {
		t.Errorf("%d series, want %d", n, 2*perFeature)
	}
	// What a scrape writes is what client_golang would write, in both formats,
	// and passes client_golang's linter.
	text := expotest.CheckEquivalent(t, e)
	if problems, err := testutil.GatherAndLint(prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
		return slices.Collect(maps.Values(fams)), err
	})); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}

	// After the outage closes, the gauges describe the last outage.
	clock.Set(at(3700))
	e.Observe("talk", "f", "a", Observation{Start: at(3700), Success: true})
	clock.Set(at(4000))
	got, mfs := gather(t, reg)
	for k, v := range map[string]float64{
		"vigil_outage_active{" + lf + "}":                0,
		"vigil_outage_last_duration_seconds{" + lf + "}": 1900,
		"vigil_sla_downtime_seconds_total{" + lf + "}":   1900,
		"vigil_feature_state{" + lf + ",state=up}":       1,
	} {
		if got[k] != v {
			t.Errorf("after recovery %s = %v, want %v", k, got[k], v)
		}
	}
	promtoolCheck(t, mfs)
}

// promtoolCheck runs `promtool check metrics` on the exposition text.
func promtoolCheck(t *testing.T, mfs []*dto.MetricFamily) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not installed")
		}
		t.Skip("SKIPPING promtool check: promtool not installed (apt-get install prometheus)")
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestBurnRateAlertPairs checks when the SRE workbook's multiwindow alerts
// would first fire for a full outage of a 99.9% feature monitored for days.
func TestBurnRateAlertPairs(t *testing.T) {
	clock := newFakeClock(t0)
	e := openTest(t, t.TempDir(), clock)
	mustConfigure(t, e, testSpec("f", "a"))
	outageAt := t0.Add(4 * 24 * time.Hour)
	clock.Set(outageAt.Add(-10 * time.Second))
	e.Observe("talk", "f", "a", Observation{Start: outageAt.Add(-10 * time.Second), Success: true})
	clock.Set(outageAt)
	e.Observe("talk", "f", "a", Observation{Start: outageAt, Error: "down"})

	// With the whole window eligible, burn(w) after x seconds of outage is
	// min(x, w) / w / 0.001, so a pair fires once the longer window holds:
	// 1h > 14.4 at x > 51.84s; 6h > 6 at x > 129.6s; 1d > 3 at x > 259.2s;
	// 3d > 1 at x > 259.2s (the short windows hold sooner).
	pairs := []struct {
		name        string
		long, short int // indexes into burnWindows
		threshold   float64
		firstSecond int
	}{
		{"1h&5m>14.4", 2, 0, 14.4, 52},
		{"6h&30m>6", 4, 1, 6, 130},
		{"1d&2h>3", 5, 3, 3, 260},
		{"3d&6h>1", 6, 4, 1, 260},
	}
	first := make([]int, len(pairs))
	f := e.features[featureKey("talk", "f")]
	var l ledger
	for x := 0; x <= 300; x++ {
		now := outageAt.Add(time.Duration(x) * time.Second).UnixNano()
		f.mu.Lock()
		n := f.numbers(now, e.gaps, &l)
		f.mu.Unlock()
		for i, p := range pairs {
			if first[i] == 0 && n.burn[p.long] > p.threshold && n.burn[p.short] > p.threshold {
				first[i] = x
			}
		}
	}
	for i, p := range pairs {
		if first[i] != p.firstSecond {
			t.Errorf("%s first holds %ds into the outage, want %ds", p.name, first[i], p.firstSecond)
		}
	}
}

// TestScrapeRowsFreedByGC checks that a scrape's figures, 2 MB at 10,000
// features, are there for the next scrape to reuse but do not outlive a GC.
func TestScrapeRowsFreedByGC(t *testing.T) {
	e := openTest(t, t.TempDir(), newFakeClock(t0))
	mustConfigure(t, e, testSpec("f", "a"))
	spare := func() bool {
		spareRows.Lock()
		defer spareRows.Unlock()
		return spareRows.rows.Value() != nil
	}
	e.WriteMetrics(expo.NewWriter(io.Discard, false))
	if !spare() {
		t.Fatal("no spare rows after a scrape")
	}
	runtime.GC()
	if spare() {
		t.Error("a scrape's rows outlived a GC")
	}
}
