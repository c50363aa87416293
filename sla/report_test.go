package sla

import (
	"encoding/json"
	"testing"
	"time"
)

// scriptedMonth plays November 2026 for two features of talk and returns the
// engine at 1 December 00:00 UTC:
//   - message: outage 3 Nov 02:00-03:00 (1h); outage 15 Nov 09:50-10:30 with
//     maintenance 10:00-10:15 (25m down); agent stopped 20 Nov 00:00-02:00.
//   - map: degraded 10 Nov 12:00-12:10 (slow), never down.
func scriptedMonth(t *testing.T) *Engine {
	dir := t.TempDir()
	clock := newFakeClock(t0)
	open := func() *Engine {
		e, err := Open(Options{Path: dir, Region: "kr-central-1", Clock: clock, noSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		message := testSpec("message", "nats")
		message.Title = "Messages: send | receive"
		message.Maintenance = []Maintenance{{Start: time.Date(2026, 11, 15, 10, 0, 0, 0, time.UTC), Duration: 15 * time.Minute}}
		mapSpec := testSpec("map", "api")
		mapSpec.Service, mapSpec.ServiceTitle, mapSpec.Title, mapSpec.Objective = "kakaomap", "Kakao Map", "Road view", 0.99
		mapSpec.Latency = 800 * time.Millisecond
		mustConfigure(t, e, message, mapSpec)
		return e
	}
	e := open()
	day := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, time.UTC) }
	obs := func(service, feature, check string, when time.Time, ok bool, dur time.Duration, errText string) {
		clock.Set(when.Add(dur))
		e.Observe(service, feature, check, Observation{Start: when, Duration: dur, Success: ok, Error: errText})
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
	return e
}

func TestReportScriptedMonth(t *testing.T) {
	e := scriptedMonth(t)
	from, to := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	r := e.Report(from, to)
	if len(r.Features) != 2 {
		t.Fatalf("%d features, want 2", len(r.Features))
	}
	mapF, message := r.Features[0], r.Features[1]
	month := 30 * 24 * 3600.0
	wantMessage := ReportFeature{Service: "talk", Feature: "message", Objective: 0.999,
		Availability: 1 - 5100/(month-900-7200), Met: false, DowntimeSeconds: 3600 + 1500, MaintenanceSeconds: 900,
		UnmonitoredSeconds: 7200}
	wantMap := ReportFeature{Service: "kakaomap", Feature: "map", Objective: 0.99, Availability: 1, Met: true,
		DegradedSeconds: 600, UnmonitoredSeconds: 7200}
	for _, c := range []struct{ got, want ReportFeature }{{message, wantMessage}, {mapF, wantMap}} {
		g, w := c.got, c.want
		if g.Service != w.Service || g.Feature != w.Feature || g.Objective != w.Objective || g.Availability != w.Availability ||
			g.Met != w.Met || g.DowntimeSeconds != w.DowntimeSeconds || g.DegradedSeconds != w.DegradedSeconds ||
			g.MaintenanceSeconds != w.MaintenanceSeconds || g.UnmonitoredSeconds != w.UnmonitoredSeconds {
			t.Errorf("report line\n got %+v\nwant %+v", g, w)
		}
	}
	if n := len(message.Outages); n != 2 || message.Outages[1].DowntimeSeconds != 1500 || message.Outages[1].MaintenanceSeconds != 900 {
		t.Fatalf("message outages %+v", message.Outages)
	}

	// JSON: the contract's field names, RFC 3339 times, null for no end.
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var shape map[string]any
	if err := json.Unmarshal(data, &shape); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"region", "from", "to", "generated_at", "features"} {
		if _, ok := shape[k]; !ok {
			t.Errorf("report JSON lacks %q", k)
		}
	}
	if shape["from"] != "2026-11-01T00:00:00Z" || shape["to"] != "2026-12-01T00:00:00Z" {
		t.Errorf("from/to %v %v", shape["from"], shape["to"])
	}
	feature := shape["features"].([]any)[1].(map[string]any)
	for _, k := range []string{"service", "feature", "title", "objective", "availability", "met", "downtime_seconds",
		"degraded_seconds", "maintenance_seconds", "unmonitored_seconds", "outages"} {
		if _, ok := feature[k]; !ok {
			t.Errorf("report feature JSON lacks %q", k)
		}
	}
	outage := feature["outages"].([]any)[0].(map[string]any)
	for k, v := range map[string]any{"start": "2026-11-03T02:00:00Z", "end": "2026-11-03T03:00:00Z", "duration_seconds": 3600.0,
		"region": "kr-central-1", "service": "talk", "feature": "message"} {
		if outage[k] != v {
			t.Errorf("outage JSON %s = %v, want %v", k, outage[k], v)
		}
	}
	if c := outage["cause"].(map[string]any); c["check"] != "nats" || c["error"] != "nats: no responders available for request" {
		t.Errorf("outage cause %v", c)
	}
}

// TestReportOfARangeWithoutDataListsEveryFeature: a report of a month before
// any data (issue 15: it listed no feature at all) lists every configured
// feature, all of the range unmonitored, marked no_data and not met.
func TestReportOfARangeWithoutDataListsEveryFeature(t *testing.T) {
	e := scriptedMonth(t)
	from, to := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	r := e.Report(from, to)
	if len(r.Features) != 2 {
		t.Fatalf("report of September lists %d features, want the 2 configured", len(r.Features))
	}
	for _, f := range r.Features {
		if !f.NoData || f.Met || f.UnmonitoredSeconds != to.Sub(from).Seconds() || f.DowntimeSeconds != 0 || len(f.Outages) != 0 {
			t.Errorf("%s/%s: no_data %v met %v unmonitored %gs downtime %gs outages %d; want no data, not met, all %gs unmonitored",
				f.Service, f.Feature, f.NoData, f.Met, f.UnmonitoredSeconds, f.DowntimeSeconds, len(f.Outages), to.Sub(from).Seconds())
		}
	}
	if november := e.Report(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)); november.Features[0].NoData {
		t.Error("November, which has data, reads no_data")
	}
}
