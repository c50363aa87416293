package sla

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func TestReopenKeepsHistoryAndCounters(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock(t0)
	e := openTest(t, dir, clock)
	s := testSpec("f", "a")
	s.Labels = map[string]string{"datacenter": "pangyo"}
	mustConfigure(t, e, s, testSpec("g", "a"))
	observe := func(e *Engine, feature string, sec float64, ok bool) {
		clock.Set(at(sec))
		e.Observe("talk", feature, "a", Observation{Start: at(sec), Success: ok, Error: "503 Service Unavailable"})
	}
	observe(e, "f", 0, true)
	observe(e, "f", 10, false) // outage 10-20, closed
	observe(e, "f", 20, true)
	observe(e, "f", 30, false) // outage from 30, open
	observe(e, "g", 0, true)
	clock.Set(at(100))
	before := status(t, e, "f")
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if e.Ready() {
		t.Fatal("Ready after Close")
	}
	e.Observe("talk", "f", "a", Observation{Start: at(100), Success: true}) // no-op, no panic

	clock.Set(at(160)) // 60s not running
	e2 := openTest(t, dir, clock)
	if !e2.Ready() {
		t.Fatal("not Ready after Open")
	}
	after := status(t, e2, "f")
	if after.State != StateUnknown {
		t.Errorf("state after restart %s, want unknown until the first result", after.State)
	}
	if after.DowntimeSeconds != 80 || before.DowntimeSeconds != 80 {
		t.Errorf("downtime counter %v before, %v after restart; want 80 (10 + 70 until close)", before.DowntimeSeconds, after.DowntimeSeconds)
	}
	got := spans(e2.Outages(OutageQuery{Service: "talk", Feature: "f"}))
	if len(got) != 2 || got[0] != (outageSpan{10, 20}) || got[1] != (outageSpan{30, -1}) {
		t.Fatalf("outages after reopen %v", got)
	}
	if o := e2.Outages(OutageQuery{Feature: "f"})[0]; o.Cause.Error != "503 Service Unavailable" || o.UnmonitoredSeconds != 60 ||
		o.DowntimeSeconds != 70 || o.DurationSeconds != 130 {
		t.Errorf("open outage after reopen %+v", o)
	}
	// The outage goes on after the restart and closes on the first pass.
	observe(e2, "f", 170, true)
	got = spans(e2.Outages(OutageQuery{Feature: "f"}))
	if got[1] != (outageSpan{30, 170}) {
		t.Fatalf("outage after restart closed as %v, want 30-170", got[1])
	}
	r := e2.Report(t0, at(200))
	if f := r.Features[0]; f.DowntimeSeconds != 10+70+10 || f.UnmonitoredSeconds != 60 {
		t.Fatalf("report after restart: %+v", f)
	}
	if len(r.Features) != 2 || r.Features[1].UnmonitoredSeconds != 60 {
		t.Fatalf("feature g: %+v", r.Features)
	}
	if err := e2.Close(); err != nil {
		t.Fatal(err)
	}

	// The read-only view for `vigil report` sees the same history; time
	// after the last heartbeat is unmonitored.
	ro, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if ro.region != "kr-central-1" {
		t.Errorf("read-only region %q", ro.region)
	}
	rr := ro.Report(t0, at(200))
	if f := rr.Features[0]; f.DowntimeSeconds != 90 || f.UnmonitoredSeconds != 60+30 { // closed at 170
		t.Fatalf("read-only report: %+v", f)
	}
	if err := ro.Configure(nil); err == nil {
		t.Error("Configure on a read-only engine: want an error")
	}
}

func TestStoreLocked(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, dir, newFakeClock(t0))
	mustConfigure(t, e, testSpec("f", "a"))
	start := time.Now()
	_, err := Open(Options{Path: dir, noSync: true})
	if err == nil || !strings.Contains(err.Error(), "is locked (another vigil running?)") ||
		!strings.Contains(err.Error(), filepath.Join(dir, "vigil.db")) {
		t.Fatalf("second Open: %v", err)
	}
	_, err = OpenReadOnly(dir)
	if err == nil || !strings.Contains(err.Error(), "is locked by a running agent; use /api/v1/report") {
		t.Fatalf("OpenReadOnly while running: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("lock failures took %s, want about 1s each", d)
	}
}

func TestCorruptStore(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{{
		name: "garbage bytes",
		setup: func(t *testing.T, dir string) {
			garbage := []byte(strings.Repeat("not a bbolt file, just garbage! ", 512))
			if err := os.WriteFile(filepath.Join(dir, "vigil.db"), garbage, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		want: "invalid",
	}, {
		name: "bad record",
		setup: func(t *testing.T, dir string) {
			e, err := Open(Options{Path: dir, Clock: newFakeClock(t0), noSync: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Configure([]FeatureSpec{testSpec("f", "a")}); err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			db, err := bbolt.Open(filepath.Join(dir, storeFile), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bbolt.Tx) error {
				return tx.Bucket([]byte("features")).Put([]byte(featureKey("talk", "f")), []byte("{broken"))
			})
			if cerr := db.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
		},
		want: `bucket features key "talk\x00f"`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			file := filepath.Join(dir, "vigil.db")
			for _, open := range []func() (*Engine, error){
				func() (*Engine, error) { return Open(Options{Path: dir, noSync: true}) },
				func() (*Engine, error) { return OpenReadOnly(dir) },
			} {
				e, err := open()
				if err == nil {
					e.Close()
					t.Fatal("open of a corrupt store succeeded")
				}
				if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %q, want it to name %s and say %q", err, file, tc.want)
				}
			}
		})
	}
	if _, err := OpenReadOnly(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("OpenReadOnly of a missing store: want an error")
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock(t0)
	e, err := Open(Options{Path: dir, Clock: clock, Retention: 48 * time.Hour, noSync: true})
	if err != nil {
		t.Fatal(err)
	}
	mustConfigure(t, e, testSpec("f", "a"), testSpec("gone", "a"))
	for i, sec := range []float64{0, 10, 20, 30} { // outage 10-20 and 30-open
		clock.Set(at(sec))
		e.Observe("talk", "f", "a", Observation{Start: at(sec), Success: i%2 == 0})
	}
	clock.Set(at(40))
	mustConfigure(t, e, testSpec("f", "a")) // "gone" removed, no outages
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(72 * time.Hour))
	e, err = Open(Options{Path: dir, Clock: clock, Retention: 48 * time.Hour, noSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got := spans(e.Outages(OutageQuery{}))
	if len(got) != 1 || got[0] != (outageSpan{30, -1}) {
		t.Fatalf("after compaction outages %v, want only the open one", got)
	}
	e.mu.RLock()
	_, gone := e.features[featureKey("talk", "gone")]
	e.mu.RUnlock()
	if gone {
		t.Error("removed feature with no history left was kept")
	}
	if st := status(t, e, "f"); st.DowntimeSeconds != 10+10 {
		t.Errorf("downtime counter %v after compaction, want 20 (kept across compaction)", st.DowntimeSeconds)
	}
	var n int
	e.mu.RLock()
	f := e.features[featureKey("talk", "f")]
	e.mu.RUnlock()
	f.mu.Lock()
	n = int(f.counters.compactedOutages) + len(f.outages)
	f.mu.Unlock()
	if n != 2 {
		t.Errorf("outages_total %d after compaction, want 2", n)
	}
	// The store agrees with memory.
	h, err := e.store.Load()
	if err != nil {
		t.Fatal(err)
	}
	for key, list := range h.Outages {
		for _, o := range list {
			if o.End != openEnd {
				t.Errorf("closed outage %+v of %q still stored", o, key)
			}
		}
	}
}
