package sla

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/sla/store"
	"github.com/vigil-monitoring/vigil/sla/store/boltstore"
)

// outboxLines reads the whole outbox as messages (OutboxMessage), one line
// each: type, service/feature and the record's own fields, times in seconds
// after t0.
func outboxLines(t *testing.T, st store.Store) []string {
	t.Helper()
	entries, err := st.OutboxAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i, e := range entries {
		msg, h, err := OutboxMessage(e)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Seq                   uint64
			Agent, Region         string
			From, To, Reason      string
			ID                    uint64
			Start                 time.Time
			End                   *time.Time
			Cause                 Cause
			Features              int
			VantageUp             bool `json:"vantage_up"`
			Final                 bool
			ChecksFailed          []string `json:"checks_failed"`
			Service, Feature, Typ string
			Since                 time.Time
			Windows               []struct{ Start, End time.Time }
		}
		if err := json.Unmarshal(msg, &r); err != nil {
			t.Fatalf("message %s: %v", msg, err)
		}
		if r.Seq != e.Seq || h.Seq != e.Seq || e.Seq != entries[0].Seq+uint64(i) {
			t.Errorf("entry %d: seq %d in message, %d in header, %d in outbox", i, r.Seq, h.Seq, e.Seq)
		}
		if r.Agent != "kr-central-1-0" || r.Region != "kr-central-1" || h.V != 1 {
			t.Errorf("entry %d: agent %q region %q v %d", i, r.Agent, r.Region, h.V)
		}
		sec := func(t time.Time) string { return fmt.Sprint(t.Sub(t0).Seconds()) }
		end := "null"
		if r.End != nil {
			end = sec(*r.End)
		}
		line := fmt.Sprintf("@%s %s %s/%s", sec(h.At), h.Type, h.Service, h.Feature)
		switch h.Type {
		case RecordTransition:
			line += fmt.Sprintf(" %s->%s %q", r.From, r.To, r.Reason)
		case RecordOutage:
			line += fmt.Sprintf(" id=%d %s..%s cause=%s:%s failed=%v", r.ID, sec(r.Start), end, r.Cause.Check, r.Cause.Error, r.ChecksFailed)
		case RecordDegraded, RecordPresence, RecordGap:
			line += fmt.Sprintf(" %s..%s", sec(r.Start), end)
		case RecordMaintenance:
			line += " since=" + sec(r.Since)
			for _, w := range r.Windows {
				line += fmt.Sprintf(" [%s..%s)", sec(w.Start), sec(w.End))
			}
		case RecordHeartbeat:
			line += fmt.Sprintf(" features=%d vantage_up=%t final=%t", r.Features, r.VantageUp, r.Final)
		}
		lines = append(lines, line)
	}
	return lines
}

// TestOutboxRecords: with the outbox on, every write that records something
// of the timeline carries its record, in write order, with the schema of
// outbox.go; a restart after a crash adds the gap. A passing result that
// changes nothing adds nothing.
func TestOutboxRecords(t *testing.T) {
	clock := newFakeClock(t0)
	mem := store.NewMemory()
	opts := Options{Region: "kr-central-1", Agent: "kr-central-1-0", Clock: clock, ScheduledHeartbeat: true, Outbox: true}
	e, err := New(mem, opts)
	if err != nil {
		t.Fatal(err)
	}
	mustConfigure(t, e, testSpec("send", "api"))
	e.Observe("talk", "send", "api", Observation{Start: at(1), Success: true})
	e.Observe("talk", "send", "api", Observation{Start: at(5), Success: true}) // changes nothing
	clock.Set(at(10))
	e.Observe("talk", "send", "api", Observation{Start: at(10), Error: "connection refused"})
	clock.Set(at(15))
	if err := e.Heartbeat(); err != nil {
		t.Fatal(err)
	}
	clock.Set(at(20))
	e.Observe("talk", "send", "api", Observation{Start: at(20), Success: true})
	// Crash: the engine is never closed; another starts on its store.
	clock.Set(at(30))
	e2, err := New(mem, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	got := strings.Join(outboxLines(t, mem), "\n")
	want := strings.Join([]string{
		"@0 heartbeat / features=0 vantage_up=true final=false",
		"@0 presence talk/send 0..null",
		`@1 transition talk/send unknown->up ""`,
		`@10 transition talk/send up->down "check api failing: connection refused"`,
		"@10 outage talk/send id=1 10..null cause=api:connection refused failed=[api]",
		"@15 heartbeat / features=1 vantage_up=true final=false",
		`@20 transition talk/send down->up ""`,
		"@20 outage talk/send id=1 10..20 cause=api:connection refused failed=[api]",
		"@30 gap / 15..30",
		"@30 heartbeat / features=1 vantage_up=true final=false", // as stored: configured until the config says otherwise
	}, "\n")
	if got != want {
		t.Errorf("outbox:\n%s\nwant:\n%s", got, want)
	}
}

// TestOutboxOff: without Options.Outbox nothing reaches the outbox.
func TestOutboxOff(t *testing.T) {
	clock := newFakeClock(t0)
	mem := store.NewMemory()
	e, err := New(mem, Options{Region: "kr-central-1", Clock: clock, ScheduledHeartbeat: true})
	if err != nil {
		t.Fatal(err)
	}
	mustConfigure(t, e, testSpec("send", "api"))
	e.Observe("talk", "send", "api", Observation{Start: at(1), Error: "refused"})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := mem.OutboxAfter(0, 0); len(entries) != 0 {
		t.Errorf("outbox has %d entries with the outbox off", len(entries))
	}
}

// BenchmarkObserveOutbox is BenchmarkObserve with the outbox on: a passing
// result that changes nothing writes no record, so it costs the same and
// allocates nothing.
func BenchmarkObserveOutbox(b *testing.B) {
	clock := newFakeClock(t0)
	e, err := Open(Options{Path: b.TempDir(), Region: "kr-central-1", Clock: clock, noSync: true, Outbox: true})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	mustConfigure(b, e, staleSpec(testSpec("f", "a", "b", "c")))
	refs := []*CheckRef{e.Check("talk", "f", "a"), e.Check("talk", "f", "b"), e.Check("talk", "f", "c")}
	for i, r := range refs {
		r.Observe(Observation{Start: at(float64(i)), Duration: time.Millisecond, Success: true})
	}
	before, _ := e.OutboxLast()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		refs[i%3].Observe(Observation{Start: t0.Add(time.Duration(i) * time.Millisecond), Duration: time.Millisecond, Success: true})
	}
	if after, _ := e.OutboxLast(); after != before {
		b.Fatalf("passing results wrote %d outbox records", after-before)
	}
}

// TestOutboxPassingResultAllocatesNothing: with the outbox on, a passing
// result that changes nothing takes no allocation.
func TestOutboxPassingResultAllocatesNothing(t *testing.T) {
	clock := newFakeClock(t0)
	e, err := New(store.NewMemory(), Options{Region: "kr-central-1", Clock: clock, ScheduledHeartbeat: true, Outbox: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	mustConfigure(t, e, testSpec("f", "a"))
	ref := e.Check("talk", "f", "a")
	ref.Observe(Observation{Start: at(0), Success: true})
	i := 0
	if n := testing.AllocsPerRun(100, func() {
		i++
		ref.Observe(Observation{Start: at(float64(i)), Success: true})
	}); n != 0 {
		t.Errorf("a passing result allocates %g times with the outbox on", n)
	}
}

// TestOutboxAfterFailedWrite: a write the store refused took its records
// with it; the heartbeat that writes the feature again carries them, so
// the outbox misses nothing the history has.
func TestOutboxAfterFailedWrite(t *testing.T) {
	clock := newFakeClock(t0)
	e, err := Open(Options{Path: t.TempDir(), Region: "kr-central-1", Agent: "kr-central-1-0", Clock: clock,
		ScheduledHeartbeat: true, Outbox: true, noSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	bolt := e.store.(outboxStore).Store.(*boltstore.Store)
	mustConfigure(t, e, testSpec("send", "api"))
	e.Observe("talk", "send", "api", Observation{Start: at(1), Success: true})
	bolt.FailWrites(errors.New("disk full"))
	clock.Set(at(10))
	e.Observe("talk", "send", "api", Observation{Start: at(10), Error: "connection refused"})
	if !e.StoreHealth().Failing() {
		t.Fatal("the write did not fail")
	}
	bolt.FailWrites(nil)
	clock.Set(at(15))
	if err := e.Heartbeat(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range outboxLines(t, e.store) {
		if strings.Contains(l, "up->down") || strings.Contains(l, " outage ") {
			lines = append(lines, l)
		}
	}
	want := []string{
		`@10 transition talk/send up->down "check api failing: connection refused"`,
		"@15 outage talk/send id=1 10..null cause=api:connection refused failed=[api]",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("records of the failed write, written again:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestOutboxMaintenance: a feature's maintenance windows are published when
// they are planned (at Configure, up to the planning horizon) and again
// when the schedule changes, each record saying what the windows are from
// its since on.
func TestOutboxMaintenance(t *testing.T) {
	clock := newFakeClock(t0)
	mem := store.NewMemory()
	e, err := New(mem, Options{Region: "kr-central-1", Agent: "kr-central-1-0", Clock: clock, Outbox: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	spec := testSpec("send", "api")
	spec.Maintenance = []Maintenance{{Start: at(100), Duration: time.Minute}}
	mustConfigure(t, e, spec)
	clock.Set(at(130))
	spec.Maintenance = nil // the window is called off half way
	mustConfigure(t, e, spec)
	var got []string
	for _, l := range outboxLines(t, mem) {
		if strings.Contains(l, " maintenance ") {
			got = append(got, l)
		}
	}
	want := []string{
		"@0 maintenance talk/send since=100 [100..160)",
		"@130 maintenance talk/send since=100 [100..130)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("maintenance records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
