package boltstore

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-monitoring/vigil/sla/store"
)

// TestFeatureRecordEncoding: the hand-written feature record is byte for
// byte what json.Marshal of featureRecord writes, and reads back.
func TestFeatureRecordEncoding(t *testing.T) {
	tests := []store.FeatureRecord{
		{Spec: []byte(`{"Service":"talk","Feature":"send","Labels":{"team":"a\"b"},"Maintenance":null}`), Configured: true,
			MaintFrom: 1_780_000_000_000_000_000, MaintUntil: 1_780_604_800_000_000_000},
		{Spec: []byte(`{}`), MaintFrom: -1},
		{}, // no spec: null, as json.Marshal writes a nil RawMessage
	}
	for _, rec := range tests {
		want, err := json.Marshal(featureRecord{Spec: rec.Spec, Configured: rec.Configured, MaintFrom: rec.MaintFrom, MaintUntil: rec.MaintUntil})
		if err != nil {
			t.Fatal(err)
		}
		got := appendFeatureRecord(nil, rec)
		if string(got) != string(want) {
			t.Errorf("appendFeatureRecord:\n got %s\nwant %s", got, want)
		}
		var back featureRecord
		if err := json.Unmarshal(got, &back); err != nil || back.Configured != rec.Configured || back.MaintFrom != rec.MaintFrom ||
			back.MaintUntil != rec.MaintUntil {
			t.Errorf("read back %s: %+v, %v", got, back, err)
		}
	}
}

// TestArenaKeepsEachTransactionsRecords: the puts of one transaction come
// from a buffer the next transaction writes over (and a large batch grows
// past it mid-transaction); every record reads back as written, the first
// transaction's too.
func TestArenaKeepsEachTransactionsRecords(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "vigil.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := func(txn, n int) *store.Batch {
		b := &store.Batch{}
		for i := range n {
			key := fmt.Sprintf("svc\x00f%05d", i)
			spec := fmt.Sprintf(`{"txn":%d,"feature":%d,"pad":%q}`, txn, i, strings.Repeat("x", (i*7+txn)%300))
			b.Features = append(b.Features, store.KeyedFeature{Key: key, Record: store.FeatureRecord{Spec: []byte(spec), Configured: txn%2 == 0, MaintFrom: int64(-i)}})
			b.Counters = append(b.Counters, store.KeyedCounters{Key: key, Record: store.CounterRecord{Downtime: int64(txn*100_000 + i), DownLead: -1}})
			b.Intervals = append(b.Intervals, store.KeyedInterval{Kind: store.IntervalPresence, Key: key, Interval: store.Interval{Start: int64(txn), End: int64(txn*100_000 + i)}})
		}
		return b
	}
	// 400 features of ~300 bytes outgrow the arena's first 64 KB buffer;
	// the second transaction writes fewer, over the first's buffer.
	first, second := batch(1, 400), batch(2, 150)
	for _, b := range []*store.Batch{first, second} {
		if err := s.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range first.Features {
		want := first
		if i < len(second.Features) {
			want = second // the second transaction rewrote these keys
		}
		if got := h.Features[w.Key]; string(got.Spec) != string(want.Features[i].Record.Spec) || got.MaintFrom != int64(-i) {
			t.Errorf("feature %q: spec %s maint_from %d, want %s %d", w.Key, got.Spec, got.MaintFrom, want.Features[i].Record.Spec, -i)
		}
		if got := h.Counters[w.Key]; got != want.Counters[i].Record {
			t.Errorf("counters %q: %+v, want %+v", w.Key, got, want.Counters[i].Record)
		}
	}
	if got := h.Intervals[store.IntervalPresence]["svc\x00f00399"]; len(got) != 1 || got[0] != (store.Interval{Start: 1, End: 100_399}) {
		t.Errorf("presence of the last feature of the first transaction: %v", got)
	}
	if got := h.Intervals[store.IntervalPresence]["svc\x00f00000"]; len(got) != 2 || got[1] != (store.Interval{Start: 2, End: 200_000}) {
		t.Errorf("presence of the first feature, written by both: %v", got)
	}
}
