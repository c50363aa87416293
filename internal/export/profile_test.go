package export

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/expo/expotest"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/sla"
)

func TestParseProfile(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Profile
		err  string
	}{
		{"", ProfileStandard, ""},
		{"basic", ProfileBasic, ""},
		{"standard", ProfileStandard, ""},
		{"full", ProfileFull, ""},
		{"Basic", 0, `metrics profile "Basic": want basic, standard or full`},
	} {
		got, err := ParseProfile(tt.in)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) {
			t.Errorf("ParseProfile(%q) = %v, %v; want %v, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
	for _, name := range ProfileNames {
		if p, _ := ParseProfile(name); p.String() != name {
			t.Errorf("ParseProfile(%q).String() = %q", name, p.String())
		}
	}
}

// oneCheckFeature renders a one-check HTTP feature (talk/send, check "a")
// in profile p after results, checks and features alike, with the agent's
// own families left out: the series a feature costs.
func oneCheckFeature(t *testing.T, p Profile, results ...*probes.Result) []byte {
	t.Helper()
	clock := &fakeClock{t: t0}
	e := openEngine(t, clock)
	configure(t, e, featureSpec("talk", "send", map[string]string{"tier": "1"}))
	labels := map[string]string{"region": "kr-central-1"}
	m := NewMetrics(prometheus.NewRegistry(), labels)
	s := NewSLAMetrics(e, labels, nil)
	s.SetProfiles(FeatureProfiles{{"talk", "send"}: p})
	cm := m.Check("talk", "send", "a", "http")
	cm.SetSchedule(10*time.Second, 5*time.Second)
	cm.SetProfile(p)
	for _, r := range results {
		cm.Observe(r)
		clock.Set(r.Start)
		e.Observe("talk", "send", "a", sla.Observation{Start: r.Start, Duration: r.Duration, Success: r.Success})
	}
	clock.Set(t0.Add(time.Hour))
	expotest.CheckEquivalent(t, m)
	expotest.CheckEquivalent(t, s)
	var buf bytes.Buffer
	w := expo.NewWriter(&buf, false)
	m.WriteMetrics(w)
	s.WriteMetrics(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func seriesCount(text []byte) int {
	n := 0
	for line := range strings.SplitSeq(string(text), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}

// The worst cases of a one-check feature: every result a check can have, and
// a TLS certificate.
var (
	plainRuns = []*probes.Result{
		{Start: t0.Add(time.Minute), Duration: 40 * time.Millisecond, Success: true, HTTP: &probes.HTTPInfo{StatusCode: 200, Version: "HTTP/1.1"},
			Phases: []probes.Phase{{Name: "connect", Duration: time.Millisecond}, {Name: "processing", Duration: 30 * time.Millisecond}}},
		{Start: t0.Add(2 * time.Minute), Duration: 5 * time.Second, TimedOut: true, Err: errors.New("timeout"), HTTP: &probes.HTTPInfo{}},
		{Start: t0.Add(3 * time.Minute), Duration: time.Millisecond, Err: errors.New("refused"), HTTP: &probes.HTTPInfo{}},
		{Start: t0.Add(4 * time.Minute), Duration: 40 * time.Millisecond, Success: true, HTTP: &probes.HTTPInfo{StatusCode: 200, Version: "HTTP/1.1"}},
	}
	tlsRuns = []*probes.Result{
		{Start: t0.Add(time.Minute), Duration: 40 * time.Millisecond, Success: true,
			HTTP: &probes.HTTPInfo{StatusCode: 200, Version: "HTTP/2.0", SSL: true, CertExpiry: t0.Add(90 * 24 * time.Hour)},
			TLS:  &probes.TLSInfo{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", CertExpiry: t0.Add(90 * 24 * time.Hour)}},
		{Start: t0.Add(2 * time.Minute), Duration: 5 * time.Second, TimedOut: true, Err: errors.New("timeout"), HTTP: &probes.HTTPInfo{}},
	}
	// tlsEveryResult is the worst case of all: a TLS check that has passed,
	// failed and timed out.
	tlsEveryResult = append(slices.Clone(tlsRuns),
		&probes.Result{Start: t0.Add(3 * time.Minute), Duration: time.Millisecond, Err: errors.New("refused"), HTTP: &probes.HTTPInfo{}})
)

// TestBasicSeriesPerFeature: a one-check HTTP feature costs at most 25 series
// in basic, SLA included, TLS and every result included; standard and full cost more, in that order. The
// series are pinned in testdata/feature.<profile>.txt.
func TestBasicSeriesPerFeature(t *testing.T) {
	for _, tt := range []struct {
		name    string
		runs    []*probes.Result
		basic   int // exactly, so that a new basic series is a decision
		healthy bool
	}{
		{"plain, every result", plainRuns, 24, false},
		{"plain, healthy", plainRuns[:1], 22, true},
		{"tls, passed and timed out", tlsRuns, 24, false},
		{"tls, every result", tlsEveryResult, 25, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			counts := map[Profile]int{}
			for _, p := range []Profile{ProfileBasic, ProfileStandard, ProfileFull} {
				counts[p] = seriesCount(oneCheckFeature(t, p, tt.runs...))
			}
			t.Logf("series per one-check feature: basic %d, standard %d, full %d", counts[ProfileBasic], counts[ProfileStandard], counts[ProfileFull])
			if counts[ProfileBasic] != tt.basic {
				t.Errorf("basic: %d series, want %d", counts[ProfileBasic], tt.basic)
			}
			if !(counts[ProfileBasic] < counts[ProfileStandard] && counts[ProfileStandard] < counts[ProfileFull]) {
				t.Errorf("profiles do not nest: %v", counts)
			}
		})
	}
	for _, p := range []Profile{ProfileBasic, ProfileStandard, ProfileFull} {
		got := oneCheckFeature(t, p, plainRuns...)
		golden := filepath.Join("testdata", "feature."+p.String()+".txt")
		checkGolden(t, golden, got)
		promtoolCheck(t, got)
	}
}

// TestProfilesNest: every family basic has is in standard, and every family
// standard has is in full, per kind.
func TestProfilesNest(t *testing.T) {
	for name, p := range familyProfiles {
		found := false
		for _, f := range checkFamilies {
			found = found || f.Name == name
		}
		for _, f := range featureFamilies {
			found = found || f.Name == name
		}
		if !found {
			t.Errorf("familyProfiles names %s (%s), which is no family", name, p)
		}
	}
}

// TestFeatureProfileChangeShows: a new profile for a feature shows in the next
// scrape without a reconfiguration of the engine.
func TestFeatureProfileChangeShows(t *testing.T) {
	e := openEngine(t, &fakeClock{t: t0})
	configure(t, e, featureSpec("talk", "send", nil))
	s := NewSLAMetrics(e, nil, nil)
	scrape := func() string {
		var buf bytes.Buffer
		w := expo.NewWriter(&buf, false)
		s.WriteMetrics(w)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	if got := scrape(); !strings.Contains(got, "vigil_sla_objective_ratio{") {
		t.Fatalf("standard by default: no objective series:\n%s", got)
	}
	s.SetProfiles(FeatureProfiles{{"talk", "send"}: ProfileBasic})
	if got := scrape(); strings.Contains(got, "vigil_sla_objective_ratio{") || strings.Count(got, "vigil_feature_state{") != 1 {
		t.Errorf("basic after SetProfiles: objective present or not one state series:\n%s", got)
	}
	// A feature not in the map has the profile given for the others.
	s.SetProfilesOver(ProfileFull, FeatureProfiles{{"talk", "other"}: ProfileBasic})
	if got := scrape(); !strings.Contains(got, "vigil_sla_objective_ratio{") || strings.Count(got, "vigil_feature_state{") != 6 {
		t.Errorf("full for the features not listed: objective missing or not the 6 one-hot states:\n%s", got)
	}
	s.SetProfilesOver(ProfileBasic, nil)
	if got := scrape(); strings.Contains(got, "vigil_sla_objective_ratio{") || strings.Count(got, "vigil_feature_state{") != 1 {
		t.Errorf("basic for every feature: objective present or not one state series:\n%s", got)
	}
}
