package export

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/expo/expotest"
	"github.com/vigil-monitoring/vigil/sla"
)

// fakeClock is a settable sla.Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// t0 is the start of the SLA timelines: a Sunday at midnight UTC.
var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

// openEngine opens an SLA engine on a temporary store, closed when the test ends.
func openEngine(t testing.TB, clock sla.Clock) *sla.Engine {
	t.Helper()
	e, err := sla.Open(sla.Options{Path: t.TempDir(), Region: "kr-central-1", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// featureSpec is talk/<feature> with one check "a" every hour (the
// timelines leave up to an hour between results, and a check with no run for
// 2 × interval + timeout counts as failing), thresholds 1, objective 99.9%
// over 30 days.
func featureSpec(service, feature string, labels map[string]string) sla.FeatureSpec {
	return sla.FeatureSpec{Service: service, Feature: feature, Title: "Feature " + feature, Labels: labels,
		Objective: 0.999, Window: 30 * 24 * time.Hour, FailureThreshold: 1, RecoveryThreshold: 1,
		Checks: []sla.CheckSpec{{Name: "a", Kind: "http", Interval: time.Hour, Timeout: 5 * time.Second}}}
}

func configure(t testing.TB, e *sla.Engine, specs ...sla.FeatureSpec) {
	t.Helper()
	if err := e.Configure(specs); err != nil {
		t.Fatalf("Configure: %v", err)
	}
}

// gatherValues maps "name{label=value,...}" (labels sorted) to the value.
func gatherValues(t *testing.T, g prometheus.Gatherer) (map[string]float64, []*dto.MetricFamily) {
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

func TestSLAFamilies(t *testing.T) {
	clock := &fakeClock{t: t0}
	e := openEngine(t, clock)
	f := featureSpec("talk", "f", map[string]string{"datacenter": "pangyo", "team-name": "messaging", "region": "kr", "9lives": "x"})
	g := featureSpec("talk", "g", map[string]string{"tier": "1"})
	configure(t, e, f, g)
	// The agent passes its region and labels as constant labels, as here.
	src := NewSLAMetrics(e, map[string]string{"region": "kr-central-1", "datacenter": "pangyo"}, []string{"datacenter"})
	reg := expo.New(nil, nil, src)

	clock.Set(at(0))
	e.Observe("talk", "f", "a", sla.Observation{Start: at(0), Success: true})
	e.Observe("talk", "g", "a", sla.Observation{Start: at(0), Success: true})
	clock.Set(at(1800))
	e.Observe("talk", "f", "a", sla.Observation{Start: at(1800), Error: "refused"})
	clock.Set(at(3600))

	got, _ := gatherValues(t, reg)
	lf := "datacenter=pangyo,feature=f,region=kr-central-1,service=talk"
	lg := "datacenter=pangyo,feature=g,region=kr-central-1,service=talk"
	want := map[string]float64{
		"vigil_feature_state{" + lf + ",state=down}":          1,
		"vigil_feature_state{" + lf + ",state=up}":            0,
		"vigil_feature_state{" + lg + ",state=up}":            1,
		"vigil_feature_up{" + lf + "}":                        0,
		"vigil_feature_flapping{" + lf + "}":                  0,
		"vigil_feature_flapping{" + lg + "}":                  0,
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
	perFeature := len(stateOrder) + 5 + len(sla.AvailabilityWindows()) + len(sla.BurnWindows()) + 7
	if n := len(got); n != 2*perFeature {
		t.Errorf("%d series, want %d", n, 2*perFeature)
	}
	// What a scrape writes is what client_golang would write, in both formats,
	// and passes client_golang's linter and promtool.
	text := expotest.CheckEquivalent(t, src)
	if problems, err := testutil.GatherAndLint(prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
		return slices.Collect(maps.Values(fams)), err
	})); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
	promtoolCheck(t, text)

	// After the outage closes, the gauges describe the last outage.
	clock.Set(at(3700))
	e.Observe("talk", "f", "a", sla.Observation{Start: at(3700), Success: true})
	clock.Set(at(4000))
	got, _ = gatherValues(t, reg)
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
}

// TestSLALabelsFollowReconfigure: label pairs are rendered once per
// configuration; a reload that renames, relabels, adds and removes features
// shows in the next scrape.
func TestSLALabelsFollowReconfigure(t *testing.T) {
	clock := &fakeClock{t: t0}
	e := openEngine(t, clock)
	configure(t, e, featureSpec("talk", "f", map[string]string{"tier": "1"}), featureSpec("talk", "g", nil))
	reg := expo.New(nil, nil, NewSLAMetrics(e, nil, nil))
	info := func() []string {
		got, _ := gatherValues(t, reg)
		var keys []string
		for k := range got {
			if strings.HasPrefix(k, "vigil_feature_info{") {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		return keys
	}
	if got, want := info(), []string{
		"vigil_feature_info{feature=f,service=talk,tier=1,title=Feature f}",
		"vigil_feature_info{feature=g,service=talk,tier=,title=Feature g}",
	}; !slices.Equal(got, want) {
		t.Fatalf("before reload:\n got %q\nwant %q", got, want)
	}
	renamed := featureSpec("talk", "f", map[string]string{"team": "messaging"})
	renamed.Title = "Messages"
	configure(t, e, renamed, featureSpec("daum", "mail", nil))
	if got, want := info(), []string{
		"vigil_feature_info{feature=f,service=talk,team=messaging,title=Messages}",
		"vigil_feature_info{feature=mail,service=daum,team=,title=Feature mail}",
	}; !slices.Equal(got, want) {
		t.Errorf("after reload:\n got %q\nwant %q", got, want)
	}
}

// TestScrapeRowsFreedByGC checks that a scrape's figures, 2 MB at 10,000
// features, are there for the next scrape to reuse but do not outlive a GC.
func TestScrapeRowsFreedByGC(t *testing.T) {
	e := openEngine(t, &fakeClock{t: t0})
	configure(t, e, featureSpec("talk", "f", nil))
	spare := func() bool {
		spareRows.Lock()
		defer spareRows.Unlock()
		return spareRows.figures.Value() != nil
	}
	NewSLAMetrics(e, nil, nil).WriteMetrics(expo.NewWriter(io.Discard, false))
	if !spare() {
		t.Fatal("no spare rows after a scrape")
	}
	runtime.GC()
	if spare() {
		t.Error("a scrape's rows outlived a GC")
	}
}

// playDown opens an engine with specs all up at t0, then each of down's
// features (service/feature) failing at the given second, and leaves the
// clock at now.
func playDown(t *testing.T, specs []sla.FeatureSpec, down map[string]float64, now float64) (*sla.Engine, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: t0}
	e := openEngine(t, clock)
	configure(t, e, specs...)
	for _, s := range specs {
		e.Observe(s.Service, s.Feature, "a", sla.Observation{Start: t0, Success: true})
	}
	for _, key := range slices.SortedFunc(maps.Keys(down), func(a, b string) int { return int(down[a] - down[b]) }) {
		clock.Set(at(down[key]))
		service, feature, _ := strings.Cut(key, "/")
		e.Observe(service, feature, "a", sla.Observation{Start: at(down[key]), Error: "connection refused"})
	}
	clock.Set(at(now))
	return e, clock
}

// kakao is a small landscape: four features in data center pangyo, two in gasan.
func kakao() []sla.FeatureSpec {
	pangyo, gasan := map[string]string{"datacenter": "pangyo"}, map[string]string{"datacenter": "gasan"}
	return []sla.FeatureSpec{
		featureSpec("talk", "message", pangyo), featureSpec("talk", "drawer", pangyo),
		featureSpec("talk", "channel", pangyo), featureSpec("daum", "mail", pangyo),
		featureSpec("pay", "payment", gasan), featureSpec("map", "roadview", gasan),
	}
}

func TestIncidentCollector(t *testing.T) {
	e, clock := playDown(t, kakao(), map[string]float64{"talk/message": 100, "talk/drawer": 130, "daum/mail": 200}, 1000)
	reg := prometheus.NewRegistry()
	// The agent wraps every series with the region and its labels, datacenter
	// included: the collector's label names must not collide.
	prometheus.WrapRegistererWith(prometheus.Labels{"region": "kr-central-1", "datacenter": "pangyo"}, reg).
		MustRegister(IncidentCollector(e))
	want := `# HELP vigil_incident_active 1 while an incident grouped by this label value has an open outage.
# TYPE vigil_incident_active gauge
vigil_incident_active{datacenter="pangyo",label="datacenter",region="kr-central-1",value="pangyo"} 1
# HELP vigil_incident_features_down Features with an open outage in the active incidents grouped by this label value.
# TYPE vigil_incident_features_down gauge
vigil_incident_features_down{datacenter="pangyo",label="datacenter",region="kr-central-1",value="pangyo"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}

	// The incident stays active until its last outage closes.
	for _, f := range []string{"message", "drawer"} {
		clock.Set(at(1100))
		e.Observe("talk", f, "a", sla.Observation{Start: at(1100), Success: true})
	}
	if got, _ := gatherValues(t, reg); got[`vigil_incident_features_down{datacenter=pangyo,label=datacenter,region=kr-central-1,value=pangyo}`] != 1 {
		t.Errorf("features down after partial recovery = %v, want 1", got)
	}
	clock.Set(at(1200))
	e.Observe("daum", "mail", "a", sla.Observation{Start: at(1200), Success: true})
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Errorf("series after recovery = %d (%v), want 0", n, err)
	}
}

func TestIncidentCollectorSumsSameValue(t *testing.T) {
	// Two pangyo incidents an hour apart, both still open: one series pair.
	specs := append(kakao(), featureSpec("talk", "extra", map[string]string{"datacenter": "pangyo"}))
	e, _ := playDown(t, specs, map[string]float64{
		"talk/message": 100, "talk/drawer": 130, "daum/mail": 3700, "talk/extra": 3710,
	}, 4000)
	if got := len(e.Incidents(sla.IncidentQuery{Active: true})); got != 2 {
		t.Fatalf("active incidents = %d, want 2", got)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(IncidentCollector(e))
	want := `# HELP vigil_incident_features_down Features with an open outage in the active incidents grouped by this label value.
# TYPE vigil_incident_features_down gauge
vigil_incident_features_down{label="datacenter",value="pangyo"} 4
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vigil_incident_features_down"); err != nil {
		t.Error(err)
	}
}

// TestStorageCollector: a store that keeps up shows no errors and no
// backlog (the sla tests fail writes and check StoreHealth's figures).
func TestStorageCollector(t *testing.T) {
	e := openEngine(t, &fakeClock{t: t0})
	want := `
# HELP vigil_storage_pending_writes Records of the SLA history waiting to be written to the store after a failed write; 0 when it keeps up.
# TYPE vigil_storage_pending_writes gauge
vigil_storage_pending_writes 0
# HELP vigil_storage_write_errors_total Writes to the SLA history store that failed; what they carried is kept in memory and written again.
# TYPE vigil_storage_write_errors_total counter
vigil_storage_write_errors_total 0
`
	if err := testutil.CollectAndCompare(StorageCollector(e), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestFeatureFlappingSeries writes vigil_feature_flapping from figures rows
// as the engine hands them out: 1 for a flapping feature, 0 for the others,
// and the family comes first, in name order, with every feature's series.
func TestFeatureFlappingSeries(t *testing.T) {
	e := openEngine(t, &fakeClock{t: t0})
	specs := []sla.FeatureSpec{featureSpec("talk", "f", nil), featureSpec("talk", "g", nil)}
	src := NewSLAMetrics(e, map[string]string{"region": "kr-central-1"}, nil)
	set := src.renderLabels(specs, 1, nil)
	rows := []sla.FeatureFigures{{Index: 0, Flapping: true}, {Index: 1}}
	for i := 1; i < len(featureFamilies); i++ {
		if featureFamilies[i-1].Name >= featureFamilies[i].Name {
			t.Errorf("families out of order: %s before %s", featureFamilies[i-1].Name, featureFamilies[i].Name)
		}
	}
	fam := &featureFamilies[0]
	if fam.Name != "vigil_feature_flapping" {
		t.Fatalf("first feature family %s, want vigil_feature_flapping", fam.Name)
	}
	var buf bytes.Buffer
	w := expo.NewWriter(&buf, false)
	w.Family(&fam.Family)
	for _, r := range rows {
		fam.write(w, &set.features[r.Index], &r)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `# HELP vigil_feature_flapping 1 while the feature is flapping: its state changed more than flap.changes times within flap.window, until stable for the window.
# TYPE vigil_feature_flapping gauge
vigil_feature_flapping{feature="f",region="kr-central-1",service="talk"} 1
vigil_feature_flapping{feature="g",region="kr-central-1",service="talk"} 0
`
	if got := buf.String(); got != want {
		t.Errorf("exposition:\n%s", diff(want, got))
	}
	promtoolCheck(t, buf.Bytes())

	// basic: the flapping feature's series alone.
	basic := src.renderLabels(specs, 2, &featureProfiles{by: FeatureProfiles{{"talk", "f"}: ProfileBasic, {"talk", "g"}: ProfileBasic}})
	buf.Reset()
	w = expo.NewWriter(&buf, false)
	w.Family(&fam.Family)
	for _, r := range rows {
		fam.write(w, &basic.features[r.Index], &r)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), strings.Replace(want, "vigil_feature_flapping{feature=\"g\",region=\"kr-central-1\",service=\"talk\"} 0\n", "", 1); got != want {
		t.Errorf("basic exposition:\n%s", diff(want, got))
	}
}

// TestVantageCollector: no canaries is an unimpaired vantage; an impaired
// one is 0 with its canaries counted.
func TestVantageCollector(t *testing.T) {
	e := openEngine(t, &fakeClock{t: t0})
	tests := []struct {
		name    string
		c       prometheus.Collector
		up, cfg float64
	}{
		{"engine without canaries", VantageCollector(e), 1, 0},
		{"two canaries up", vantageCollector{func() sla.VantageStatus {
			return sla.VantageStatus{Configured: true, Up: true, Canaries: make([]sla.CheckStatus, 2)}
		}}, 1, 2},
		{"impaired", vantageCollector{func() sla.VantageStatus {
			return sla.VantageStatus{Configured: true, Since: t0, Reason: "canary gw failing: connection refused",
				Canaries: make([]sla.CheckStatus, 3)}
		}}, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := fmt.Sprintf(`# HELP vigil_agent_canaries_configured Canaries (agent.canaries) that judge the agent's own network.
# TYPE vigil_agent_canaries_configured gauge
vigil_agent_canaries_configured %v
# HELP vigil_agent_vantage_up 1 while the agent's canaries meet their requirement or none is configured; 0 while its vantage is impaired (every feature's time is unmonitored).
# TYPE vigil_agent_vantage_up gauge
vigil_agent_vantage_up %v
`, tt.cfg, tt.up)
			if err := testutil.CollectAndCompare(tt.c, strings.NewReader(want)); err != nil {
				t.Error(err)
			}
			if problems, err := testutil.CollectAndLint(tt.c); err != nil || len(problems) > 0 {
				t.Errorf("lint: %v %v", err, problems)
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(tt.c)
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			for _, mf := range mfs {
				if _, err := expfmt.MetricFamilyToText(&text, mf); err != nil {
					t.Fatal(err)
				}
			}
			promtoolCheck(t, text.Bytes())
		})
	}
}
