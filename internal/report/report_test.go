package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/internal/testenv"
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

var seoul = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		panic(err)
	}
	return loc
}()

// kst is a time of November 2026 in Seoul.
func kst(day, hour, minute int) time.Time { return time.Date(2026, 11, day, hour, minute, 0, 0, seoul) }

// contractYAML gives the talk service a contract: 99.5 % of weekday office
// hours in Seoul, 3 November a holiday, credit tiers. Kakao Map has none.
const contractYAML = `agent: {region: kr-central-1}
services:
  - name: talk
    sla:
      objective: 99.5
      timezone: Asia/Seoul
      covered_hours: ["Mon-Fri 09:00-18:00"]
      excluded_dates: ["2026-11-03"]
      credits: [{below: 99.5, credit: 10}, {below: 99.0, credit: 25}]
    features:
      - {name: message, checks: [{name: nats, http: {url: "http://127.0.0.1:1/"}}]}
      - {name: channel, checks: [{name: api, http: {url: "http://127.0.0.1:1/"}}]}
  - name: kakaomap
    features:
      - {name: map, checks: [{name: api, http: {url: "http://127.0.0.1:1/"}}]}
`

// scriptedMonth plays November 2026 (Asia/Seoul) through the real engine on
// an injected clock and returns the document for the month, made on
// 1 December 00:00 KST. 1 November 2026 is a Sunday. All times KST:
//   - talk/message (SLO 99.9 %; contract 99.5 % Mon-Fri 09:00-18:00, 3 Nov a
//     holiday): outages Mon 2 Nov 10:00-10:30 (in covered hours), Tue 3 Nov
//     14:00-14:30 (the holiday), Wed 4 Nov 17:30-19:00 (30m of it covered),
//     Sat 7 Nov 03:00-05:00 (a weekend night), Mon 16 Nov 09:50-10:40 with
//     maintenance 10:00-10:30 (20m down, covered).
//   - the agent crashes Thu 19 Nov 16:00 and starts at 20:00 (2h of the
//     gap covered).
//   - kakaomap/map (99.0 %, no contract): slow Tue 10 Nov 12:00-12:10.
//   - talk/channel is configured on Sat 21 Nov 00:00: a third of the month
//     monitored, too little for a figure.
//
// stretch lengthens the first outage, to change one record.
func scriptedMonth(t *testing.T, stretch time.Duration) *Document {
	t.Helper()
	cfg, err := config.Parse("vigil.yml", []byte(contractYAML))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	clock := &fakeClock{t: kst(1, 0, 0)}
	spec := func(service, serviceTitle, feature, title, check string, objective float64) sla.FeatureSpec {
		// An interval of 45 days keeps the heartbeat from finding the
		// script's results, days apart, stale.
		return sla.FeatureSpec{Service: service, ServiceTitle: serviceTitle, Feature: feature, Title: title, Objective: objective,
			Window: 30 * 24 * time.Hour, FailureThreshold: 1, RecoveryThreshold: 1,
			Checks: []sla.CheckSpec{{Name: check, Kind: "http", Interval: 45 * 24 * time.Hour, Timeout: 5 * time.Second}}}
	}
	message := spec("talk", "카카오톡", "message", "Messages: send | receive", "nats", 0.999)
	message.Maintenance = []sla.Maintenance{{Start: kst(16, 10, 0), Duration: 30 * time.Minute}}
	mapSpec := spec("kakaomap", "Kakao Map", "map", "Road view <b>", "api", 0.99)
	mapSpec.Latency = 800 * time.Millisecond
	channel := spec("talk", "카카오톡", "channel", "Talk Channel", "api", 0.999)
	var e *sla.Engine
	open := func(specs ...sla.FeatureSpec) {
		var err error
		// The script beats itself: no heartbeat on a ticker of real time.
		if e, err = sla.Open(sla.Options{Path: dir, Region: "kr-central-1", Clock: clock, ScheduledHeartbeat: true}); err != nil {
			t.Fatal(err)
		}
		opened := e
		t.Cleanup(func() { _ = opened.Close() })
		if err := e.Configure(specs); err != nil {
			t.Fatal(err)
		}
	}
	open(message, mapSpec)
	obs := func(service, feature, check string, when time.Time, ok bool, dur time.Duration, errText string) {
		clock.Set(when.Add(dur))
		e.Observe(service, feature, check, sla.Observation{Start: when, Duration: dur, Success: ok, Error: errText})
	}
	outage := func(from, to time.Time, errText string) {
		obs("talk", "message", "nats", from, false, 0, errText)
		obs("talk", "message", "nats", to, true, 0, "")
	}
	obs("talk", "message", "nats", kst(1, 0, 0), true, 0, "")
	obs("kakaomap", "map", "api", kst(1, 0, 0), true, 0, "")
	outage(kst(2, 10, 0), kst(2, 10, 30).Add(stretch), "nats: no responders available for request")
	outage(kst(3, 14, 0), kst(3, 14, 30), "deliver: 3 of 3 messages lost")
	outage(kst(4, 17, 30), kst(4, 19, 0), "connect: connection refused")
	outage(kst(7, 3, 0), kst(7, 5, 0), "tls: certificate expired")
	obs("kakaomap", "map", "api", kst(10, 12, 0), true, 1200*time.Millisecond, "")
	obs("kakaomap", "map", "api", kst(10, 12, 10), true, 100*time.Millisecond, "")
	outage(kst(16, 9, 50), kst(16, 10, 40), "deliver: timeout")
	// The agent crashes at 16:00 right after a heartbeat: the next start
	// opens the store as the crash left it (a copy of the file, never
	// closed), four hours later.
	clock.Set(kst(19, 16, 0))
	if err := e.Heartbeat(); err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(filepath.Join(dir, "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vigil.db"), db, 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Set(kst(19, 20, 0))
	open(message, mapSpec)
	clock.Set(kst(21, 0, 0))
	if err := e.Configure([]sla.FeatureSpec{channel, message, mapSpec}); err != nil {
		t.Fatal(err)
	}
	clock.Set(time.Date(2026, 12, 1, 0, 0, 0, 0, seoul))
	r := e.Report(kst(1, 0, 0), time.Date(2026, 12, 1, 0, 0, 0, 0, seoul))
	return Build(r, e, Options{Contracts: cfg.Contracts()})
}

// The hand computation, in seconds. The month is 720h = 2,592,000 s;
// covered: 21 weekdays less the holiday, 20 × 9h = 648,000 s.
const (
	monthSeconds = 2592000
	// talk/message: down 30m + 30m + 1h30m + 2h + (50m − 30m maintenance).
	messageDown        = 1800 + 1800 + 5400 + 7200 + 1200 // 17,400
	messageUnmonitored = 4 * 3600                         // 14,400
	messageMaintenance = 1800
	messageEligible    = monthSeconds - messageUnmonitored - messageMaintenance // 2,575,800
	// Contract: covered 648,000 s, of which 7,200 unmonitored (19 Nov
	// 16:00-18:00) and 1,800 maintenance; down in covered hours: 30m (2 Nov)
	// + 30m (4 Nov 17:30-18:00) + 20m (16 Nov).
	coveredSeconds   = 648000
	coveredMonitored = coveredSeconds - 7200   // 640,800
	coveredEligible  = coveredMonitored - 1800 // 639,000
	coveredDown      = 1800 + 1800 + 1200      // 4,800
	channelMonitored = 10 * 24 * 3600          // 864,000: 21 Nov to 1 Dec
	channelCovered   = 6 * 9 * 3600            // 194,400: 23-27 and 30 Nov
	mapDegraded      = 600
)

func TestScriptedMonthFigures(t *testing.T) {
	d := scriptedMonth(t, 0)
	if len(d.Features) != 3 {
		t.Fatalf("features %d, want 3", len(d.Features))
	}
	mp, channel, msg := d.Features[0], d.Features[1], d.Features[2]
	if mp.Feature != "map" || channel.Feature != "channel" || msg.Feature != "message" {
		t.Fatalf("feature order %s %s %s", mp.Feature, channel.Feature, msg.Feature)
	}
	eq := func(name string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	eq("message downtime", msg.DowntimeSeconds, messageDown)
	eq("message unmonitored", msg.UnmonitoredSeconds, messageUnmonitored)
	eq("message maintenance", msg.MaintenanceSeconds, messageMaintenance)
	eq("message availability", msg.Availability, 1-float64(messageDown)/messageEligible)
	near := func(name string, got, want float64) { // ratios computed in nanoseconds against seconds
		t.Helper()
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("message budget", msg.ErrorBudgetRemaining, 1-float64(messageDown)/((1-0.999)*messageEligible))
	eq("message coverage", msg.Coverage.MonitoredSeconds, monthSeconds-messageUnmonitored)
	eq("message range", msg.Coverage.Seconds, monthSeconds)
	c := msg.Contract
	if c == nil {
		t.Fatal("talk/message has no contract figures")
	}
	eq("covered", c.Coverage.Seconds, coveredSeconds)
	eq("covered monitored", c.Coverage.MonitoredSeconds, coveredMonitored)
	eq("covered maintenance", c.MaintenanceSeconds, 1800)
	eq("covered eligible", c.EligibleSeconds, coveredEligible)
	eq("covered downtime", c.DowntimeSeconds, coveredDown)
	eq("contract availability", c.Availability, 1-float64(coveredDown)/coveredEligible) // 99.249 %
	eq("contract objective", c.Objective, 0.995)
	near("contract budget", c.ErrorBudgetRemaining, 1-float64(coveredDown)/((1-0.995)*coveredEligible))
	if c.Met || c.InsufficientData || c.Credit == nil || c.Credit.Credit != 10 || c.Credit.Below != 99.5 {
		t.Errorf("99.249%% against 99.5%%: met %v, insufficient %v, credit %+v; want not met, 10%%", c.Met, c.InsufficientData, c.Credit)
	}
	wantOutages := []struct {
		start   time.Time
		covered string
		seconds float64
	}{
		{kst(2, 10, 0), "yes", 1800}, {kst(3, 14, 0), "no", 0}, {kst(4, 17, 30), "partly", 1800},
		{kst(7, 3, 0), "no", 0}, {kst(16, 9, 50), "yes", 1200},
	}
	if len(msg.Outages) != len(wantOutages) {
		t.Fatalf("message outages %d, want %d", len(msg.Outages), len(wantOutages))
	}
	for i, w := range wantOutages {
		o := msg.Outages[i]
		if !o.Start.Equal(w.start) || o.InCoveredHours != w.covered || o.CoveredDowntimeSeconds != w.seconds {
			t.Errorf("outage %d: %s %s %v, want %s %s %v", i, o.Start, o.InCoveredHours, o.CoveredDowntimeSeconds, w.start, w.covered, w.seconds)
		}
	}
	eq("map degraded", mp.DegradedSeconds, mapDegraded)
	if mp.Contract != nil || !mp.Met || mp.InsufficientData {
		t.Errorf("kakaomap/map: contract %v, met %v, insufficient %v", mp.Contract, mp.Met, mp.InsufficientData)
	}
	eq("channel coverage", channel.Coverage.MonitoredSeconds, channelMonitored)
	eq("channel covered monitored", channel.Contract.Coverage.MonitoredSeconds, channelCovered)
	if !channel.InsufficientData || channel.Met || !channel.Contract.InsufficientData || channel.Contract.Credit != nil {
		t.Errorf("talk/channel, a third monitored: insufficient %v/%v, met %v, credit %v", channel.InsufficientData,
			channel.Contract.InsufficientData, channel.Met, channel.Contract.Credit)
	}
	if !d.GeneratedAt.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, seoul)) {
		t.Errorf("generated at %s, want the range end", d.GeneratedAt)
	}
}

// render writes d in every format.
func render(t *testing.T, d *Document) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range Formats {
		var b bytes.Buffer
		var err error
		if f == "pdf" {
			// The golden bytes may not depend on the fonts a machine has.
			err = WritePDF(&b, d, PDFOptions{Latin: true})
		} else {
			err = Write(&b, f, d)
		}
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = b.Bytes()
	}
	return out
}

// The figures as every format a person reads shows them.
var shown = []string{
	"99.324%",                        // message availability: 1 − 17,400 / 2,575,800
	"-575.518%",                      // message budget: 1 − 17,400 / (0.001 × 2,575,800)
	"99.249%",                        // contract availability: 1 − 4,800 / 639,000
	"10% (below 99.5%)",              // credit owed
	"-50.235%",                       // contract budget: 1 − 4,800 / (0.005 × 639,000)
	"4h50m0s",                        // message downtime
	"4h0m0s",                         // unmonitored
	"1h20m0s",                        // contract downtime
	"2577600 of 2592000 s (99.444%)", // message coverage
	"640800 of 648000 s (98.889%)",   // contract coverage
	"864000 of 2592000 s (33.333%)",  // channel coverage
	"insufficient data",
	"partly (30m0s)",
	"Mon-Fri 09:00-18:00 Asia/Seoul; except 2026-11-03",
	"2026-11-02T01:00:00Z", // first outage, in UTC
}

func TestScriptedMonthFormats(t *testing.T) {
	d := scriptedMonth(t, 0)
	got := render(t, d)
	golden(t, "report.md", got["markdown"])
	golden(t, "report.csv", got["csv"])
	golden(t, "report.html", got["html"])
	golden(t, "report.json", got["json"])
	for _, f := range []string{"markdown", "html"} {
		for _, s := range append(shown, d.Digest) {
			if !bytes.Contains(got[f], []byte(strings.ReplaceAll(s, "&", "&amp;"))) {
				t.Errorf("%s lacks %q", f, s)
			}
		}
	}
	if bytes.Contains(got["html"], []byte("<b>")) || !bytes.Contains(got["html"], []byte("Road view &lt;b&gt;")) {
		t.Error("HTML does not escape a title")
	}
	for _, bad := range []string{"<script", "<link", "src=", "http://", "https://"} {
		if bytes.Contains(got["html"], []byte(bad)) {
			t.Errorf("HTML is not self-contained: has %q", bad)
		}
	}
	rows, err := csv.NewReader(bytes.NewReader(got["csv"])).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("CSV rows %d (%v)", len(rows), err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	msg := rows[3]
	for k, want := range map[string]string{"feature": "message", "downtime_seconds": "17400", "unmonitored_seconds": "14400",
		"monitored_seconds": "2577600", "contract_covered_seconds": "648000", "contract_monitored_seconds": "640800",
		"contract_eligible_seconds": "639000", "contract_downtime_seconds": "4800", "contract_credit_percent": "10",
		"contract_met": "false", "digest": d.Digest} {
		if msg[col[k]] != want {
			t.Errorf("CSV %s = %q, want %q", k, msg[col[k]], want)
		}
	}
	if rows[2][col["insufficient_data"]] != "true" || rows[1][col["contract_objective"]] != "" {
		t.Errorf("CSV channel insufficient %q, map contract objective %q", rows[2][col["insufficient_data"]], rows[1][col["contract_objective"]])
	}
	var back struct {
		Digest   string `json:"digest"`
		Features []struct {
			DowntimeSeconds float64 `json:"downtime_seconds"`
			Coverage        Coverage
			Contract        *ContractFigures `json:"contract"`
			Outages         []Outage         `json:"outages"`
		} `json:"features"`
	}
	if err := json.Unmarshal(got["json"], &back); err != nil {
		t.Fatal(err)
	}
	if bm := back.Features[2]; back.Digest != d.Digest || bm.DowntimeSeconds != messageDown || bm.Contract.DowntimeSeconds != coveredDown ||
		bm.Contract.EligibleSeconds != coveredEligible || bm.Contract.Credit.Credit != 10 || bm.Outages[2].InCoveredHours != "partly" {
		t.Errorf("JSON round trip: %+v", back.Features[2])
	}
	// The digest is the SHA-256 of the canonical records.
	var canon bytes.Buffer
	if err := d.WriteCanonical(&canon); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(canon.Bytes())
	if "sha256:"+hex.EncodeToString(sum[:]) != d.Digest {
		t.Error("digest is not the SHA-256 of WriteCanonical")
	}
	golden(t, "records.txt", canon.Bytes())
}

// TestScriptedMonthPDF reads the PDF back with poppler's pdftotext and finds
// every figure the other formats show.
func TestScriptedMonthPDF(t *testing.T) {
	pdftotext := testenv.NeedTool(t, "pdftotext", "poppler-utils")
	d := scriptedMonth(t, 0)
	for _, tc := range []struct {
		name  string
		opts  PDFOptions
		title string
	}{
		{"latin", PDFOptions{Latin: true}, "kakaotok (talk)"},
		{"korean", PDFOptions{}, "카카오톡 (talk)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.opts.Latin && !exists(KoreanFonts[0]) {
				testenv.Need(t, "Debian fonts-nanum (%s) for Korean text in PDFs", KoreanFonts[0])
			}
			var a, b bytes.Buffer
			if err := WritePDF(&a, d, tc.opts); err != nil {
				t.Fatal(err)
			}
			if err := WritePDF(&b, d, tc.opts); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Error("two PDFs of the same document differ")
			}
			path := filepath.Join(t.TempDir(), "report.pdf")
			if err := os.WriteFile(path, a.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(pdftotext, "-layout", path, "-").CombinedOutput()
			if err != nil {
				t.Fatalf("pdftotext: %v\n%s", err, out)
			}
			// Cells wrap: compare with the layout's runs of spaces and line
			// breaks taken out.
			text := strings.Join(strings.Fields(string(out)), "")
			for _, s := range append(shown, tc.title, d.Digest) {
				if !strings.Contains(text, strings.Join(strings.Fields(s), "")) {
					t.Errorf("PDF text lacks %q:\n%s", s, out)
				}
			}
		})
	}
}

// TestSameDataSameBytes replays the month twice into two stores: every
// format gives the same bytes. TestDigestFollowsRecords: one outage a second
// longer changes the digest.
func TestSameDataSameBytes(t *testing.T) {
	a, b := render(t, scriptedMonth(t, 0)), render(t, scriptedMonth(t, 0))
	for _, f := range Formats {
		if !bytes.Equal(a[f], b[f]) {
			t.Errorf("%s differs between two runs on the same data", f)
		}
	}
}

func TestDigestFollowsRecords(t *testing.T) {
	d0, d1 := scriptedMonth(t, 0), scriptedMonth(t, time.Second)
	if d0.Digest == d1.Digest {
		t.Errorf("one outage a second longer left the digest %s", d0.Digest)
	}
	if d1.Features[2].DowntimeSeconds != messageDown+1 {
		t.Errorf("stretched downtime %v", d1.Features[2].DowntimeSeconds)
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
	if err := WriteMarkdown(&b, Build(r, noSpans{}, Options{})); err != nil {
		t.Fatal(err)
	}
	want := "| send | 99.900% | no data | - | - | 0 of 2592000 s (0.000%) | 0s | 0s | 0s | 720h0m0s | 0 |"
	if !bytes.Contains(b.Bytes(), []byte(want)) {
		t.Errorf("markdown lacks %q:\n%s", want, b.String())
	}
}

type noSpans struct{}

func (noSpans) Spans(string, string, time.Time, time.Time) (sla.Spans, bool) {
	return sla.Spans{}, false
}
