package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

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

// scriptedMonth plays November 2026 for two features and returns the report
// for it, made on 1 December 00:00 UTC:
//   - talk/message: outage 3 Nov 02:00-03:00 (1h); outage 15 Nov 09:50-10:30
//     with maintenance 10:00-10:15 (25m down); agent stopped 20 Nov 00:00-02:00.
//   - kakaomap/map: degraded 10 Nov 12:00-12:10 (slow), never down.
func scriptedMonth(t *testing.T) *sla.Report {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	// The script gives results days apart and means each to hold until the
	// next: an interval of 45 days keeps the heartbeat from finding them
	// stale (a silence counts failed runs since issue 16).
	check := []sla.CheckSpec{{Name: "", Kind: "http", Interval: 45 * 24 * time.Hour, Timeout: 5 * time.Second}}
	spec := func(service, serviceTitle, feature, title, checkName string, objective float64) sla.FeatureSpec {
		c := append([]sla.CheckSpec(nil), check...)
		c[0].Name = checkName
		return sla.FeatureSpec{Service: service, ServiceTitle: serviceTitle, Feature: feature, Title: title, Objective: objective,
			Window: 30 * 24 * time.Hour, FailureThreshold: 1, RecoveryThreshold: 1, Checks: c}
	}
	open := func() *sla.Engine {
		e, err := sla.Open(sla.Options{Path: dir, Region: "kr-central-1", Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		message := spec("talk", "KakaoTalk", "message", "Messages: send | receive", "nats", 0.999)
		message.Maintenance = []sla.Maintenance{{Start: time.Date(2026, 11, 15, 10, 0, 0, 0, time.UTC), Duration: 15 * time.Minute}}
		mapSpec := spec("kakaomap", "Kakao Map", "map", "Road view", "api", 0.99)
		mapSpec.Latency = 800 * time.Millisecond
		if err := e.Configure([]sla.FeatureSpec{message, mapSpec}); err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := open()
	day := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, time.UTC) }
	obs := func(service, feature, check string, when time.Time, ok bool, dur time.Duration, errText string) {
		clock.Set(when.Add(dur))
		e.Observe(service, feature, check, sla.Observation{Start: when, Duration: dur, Success: ok, Error: errText})
	}
	obs("talk", "message", "nats", day(3, 1, 59), true, 0, "")
	obs("talk", "message", "nats", day(3, 2, 0), false, 0, "nats: no responders available for request")
	obs("talk", "message", "nats", day(3, 3, 0), true, 0, "")
	obs("kakaomap", "map", "api", day(10, 12, 0), true, 1200*time.Millisecond, "")
	obs("kakaomap", "map", "api", day(10, 12, 10), true, 100*time.Millisecond, "")
	obs("talk", "message", "nats", day(15, 9, 50), false, 0, "deliver: 3 of 3 messages lost")
	obs("talk", "message", "nats", day(15, 10, 30), true, 0, "")
	clock.Set(day(20, 0, 0))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	clock.Set(day(20, 2, 0))
	e = open()
	clock.Set(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	return e.Report(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
}

func TestReportFormats(t *testing.T) {
	r := scriptedMonth(t)
	var md, csvOut, jsonOut bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteCSV(&csvOut, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&jsonOut, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.md", md.Bytes())
	golden(t, "report.csv", csvOut.Bytes())
	rows, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "region" || rows[2][2] != "message" || rows[2][7] != "5100" {
		t.Errorf("CSV rows %v (%v)", rows, err)
	}
	var back sla.Report
	if err := json.Unmarshal(jsonOut.Bytes(), &back); err != nil || len(back.Features) != 2 ||
		back.Features[1].DowntimeSeconds != 5100 || back.Region != "kr-central-1" {
		t.Errorf("JSON round trip %+v (%v)", back, err)
	}
	if !bytes.HasPrefix(jsonOut.Bytes(), []byte("{\n  \"region\"")) {
		t.Errorf("JSON not indented by two spaces: %.40q", jsonOut.Bytes())
	}
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}

// TestMarkdownSaysNoData: a feature not monitored in the range shows "no
// data", not the 100% its empty denominator gives.
func TestMarkdownSaysNoData(t *testing.T) {
	r := &sla.Report{Region: "kr-central-1", From: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		Features: []sla.ReportFeature{{Service: "talk", Feature: "send", Objective: 0.999, Availability: 1, NoData: true, Configured: true,
			UnmonitoredSeconds: 30 * 86400}}}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	want := "| send | 99.900% | no data | - | 0s | 0s | 0s | 720h0m0s | 0 |"
	if !bytes.Contains(b.Bytes(), []byte(want)) {
		t.Errorf("markdown lacks %q:\n%s", want, b.String())
	}
}
