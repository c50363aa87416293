package global

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vigil-monitoring/vigil/sla"
)

// sizingWorkload is a generated agent for sizing the record: features
// with one HTTP check each, checked every interval; outagesPerHour of
// them (spread over the hour) fail for outageLength once an hour; the
// heartbeat every 10 s.
type sizingWorkload struct {
	features       int
	outagesPerHour int
	interval       time.Duration
	outageLength   time.Duration
	hours          int
	outbox         bool
}

// sizingHour is what one simulated hour added to the outbox.
type sizingHour struct {
	records int
	bytes   int // the messages as published (with "seq")
	byType  map[string]int
}

// simulate runs w through an engine on a bbolt store in dir under an
// injected clock; the outbox is never acknowledged (NATS down), so it
// holds every record. It returns each hour's figures.
func simulate(t testing.TB, w sizingWorkload, dir string) []sizingHour {
	t.Helper()
	c := &clock{t: t0}
	e, err := sla.Open(sla.Options{Path: dir, Region: "kr-central-1", Agent: testAgent, Clock: c,
		ScheduledHeartbeat: true, Outbox: w.outbox})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	specs := make([]sla.FeatureSpec, w.features)
	for i := range specs {
		specs[i] = sla.FeatureSpec{Service: fmt.Sprintf("svc%03d", i/100), Feature: fmt.Sprintf("feature-%05d", i),
			Objective: 0.999, Window: 30 * 24 * time.Hour, FailureThreshold: 3, RecoveryThreshold: 2,
			Checks: []sla.CheckSpec{{Name: "api", Kind: "http", Interval: w.interval, Timeout: 5 * time.Second}}}
	}
	if err := e.Configure(specs); err != nil {
		t.Fatal(err)
	}
	refs := make([]*sla.CheckRef, w.features)
	for i, s := range specs {
		refs[i] = e.Check(s.Service, s.Feature, "api")
	}
	// Feature k < outagesPerHour fails from k × (hour / outagesPerHour)
	// into each hour, for outageLength.
	spacing := time.Hour / time.Duration(max(w.outagesPerHour, 1))
	var hours []sizingHour
	var seen uint64
	for h := range w.hours {
		hourStart := c.Now()
		for step := time.Duration(0); step < time.Hour; step += w.interval {
			for i, ref := range refs {
				o := sla.Observation{Start: hourStart.Add(step), Duration: 20 * time.Millisecond, Success: true}
				if i < w.outagesPerHour {
					if at := step - time.Duration(i)*spacing; at >= 0 && at < w.outageLength {
						o.Success, o.Error = false, "HTTP 503 Service Unavailable"
					}
				}
				ref.Observe(o)
			}
			c.Add(w.interval)
			if err := e.Heartbeat(); err != nil {
				t.Fatalf("hour %d: heartbeat: %v", h, err)
			}
		}
		hr := sizingHour{byType: map[string]int{}}
		if w.outbox {
			entries, err := e.OutboxAfter(seen, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, en := range entries {
				msg, head, err := sla.OutboxMessage(en)
				if err != nil {
					t.Fatal(err)
				}
				hr.records++
				hr.bytes += len(msg)
				hr.byType[head.Type]++
				seen = en.Seq
			}
		}
		hours = append(hours, hr)
	}
	return hours
}

func (h sizingHour) types() string {
	var s []string
	for typ, n := range h.byType {
		s = append(s, typ+"="+strconv.Itoa(n))
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

// TestOutboxRecordRate pins what the record costs: per hour, one
// heartbeat per 10 s whatever the number of features, and per outage its
// three transitions (up to down, down to recovering, recovering to up:
// recovery_threshold 2) and the outage opened and closed; results that
// change nothing publish nothing. The first hour adds each feature's first
// transition and monitored span.
func TestOutboxRecordRate(t *testing.T) {
	w := sizingWorkload{features: 200, outagesPerHour: 2, interval: 10 * time.Second, outageLength: 3 * time.Minute, hours: 2, outbox: true}
	hours := simulate(t, w, t.TempDir())
	for i, h := range hours {
		t.Logf("hour %d: %d records, %d bytes: %s", i+1, h.records, h.bytes, h.types())
	}
	steady := hours[1]
	want := map[string]int{sla.RecordHeartbeat: 360, sla.RecordTransition: 3 * w.outagesPerHour, sla.RecordOutage: 2 * w.outagesPerHour}
	for typ, n := range want {
		if steady.byType[typ] != n {
			t.Errorf("hour 2: %d %s records, want %d", steady.byType[typ], typ, n)
		}
	}
	if total := 360 + 5*w.outagesPerHour; steady.records != total {
		t.Errorf("hour 2: %d records (%s), want %d", steady.records, steady.types(), total)
	}
	if first := hours[0]; first.byType[sla.RecordPresence] != w.features || first.byType[sla.RecordTransition] < w.features {
		t.Errorf("hour 1: %s; want a presence record and a first transition per feature (%d)", first.types(), w.features)
	}
}

// outboxOnDisk is the space the outbox bucket of the closed store in dir
// takes (pages allocated to it) and its number of entries.
func outboxOnDisk(t testing.TB, dir string) (bytes, entries int) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "vigil.db"), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("outbox"))
		if b == nil {
			return errors.New("no outbox bucket")
		}
		st := b.Stats()
		bytes, entries = st.BranchAlloc+st.LeafAlloc, st.KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bytes, entries
}

// TestOutboxSizing measures the record of 10,000 features (1% with one
// 3-minute outage an hour, checks every 10 s, heartbeat every 10 s) over
// two simulated hours with NATS down: records and bytes per second in
// the second hour, and the space the outbox takes in the store. It takes
// 20-40 s, so it runs only when asked:
//
//	VIGIL_SIZING=1 go test -run TestOutboxSizing -v -count=1 ./internal/global/
func TestOutboxSizing(t *testing.T) {
	if os.Getenv("VIGIL_SIZING") == "" {
		t.Skip("VIGIL_SIZING not set: the sizing run takes 20-40 s")
	}
	features, _ := strconv.Atoi(os.Getenv("VIGIL_SIZING_FEATURES"))
	if features <= 0 {
		features = 10000
	}
	w := sizingWorkload{features: features, outagesPerHour: features / 100, interval: 10 * time.Second,
		outageLength: 3 * time.Minute, hours: 2, outbox: true}
	dir := t.TempDir()
	began := time.Now()
	hours := simulate(t, w, dir)
	took := time.Since(began)
	for i, h := range hours {
		t.Logf("hour %d: %d records (%s), %d bytes", i+1, h.records, h.types(), h.bytes)
	}
	diskBytes, diskEntries := outboxOnDisk(t, dir)
	// Close adds the final heartbeat.
	if all := hours[0].records + hours[1].records + 1; diskEntries != all {
		t.Errorf("the outbox holds %d entries, want every record of the run and the final heartbeat (%d)", diskEntries, all)
	}
	diskPerByte := float64(diskBytes) / float64(hours[0].bytes+hours[1].bytes)
	steady, per10k := hours[1], 10000/float64(features)
	recPerSec := float64(steady.records) / 3600 * per10k
	bytesPerSec := float64(steady.bytes) / 3600 * per10k
	t.Logf("per 10,000 features in steady state: %.3f records/s, %.1f bytes/s (%.0f bytes a message), %.2f MB a day of messages; "+
		"the outbox bucket takes %.2f bytes on disk per message byte (%d bytes for %d records): %.2f MB a day while NATS is down; simulated %d hours in %s",
		recPerSec, bytesPerSec, float64(steady.bytes)/float64(steady.records), bytesPerSec*86400/1e6,
		diskPerByte, diskBytes, diskEntries, bytesPerSec*86400*diskPerByte/1e6, w.hours, took.Round(time.Second))
}
