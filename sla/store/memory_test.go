package store

import (
	"errors"
	"slices"
	"testing"
)

// TestMemoryKeepsWhatABoltStoreKeeps: records by the same keys (a rewrite
// replaces, a log appends), maintenance rewritten from a point on,
// compaction by the same rules, and Load hands out copies.
func TestMemoryKeepsWhatABoltStoreKeeps(t *testing.T) {
	m := NewMemory()
	write := func(b *Batch) {
		t.Helper()
		if err := m.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	write(&Batch{
		Features: []KeyedFeature{{"a", FeatureRecord{Spec: []byte(`{"x":1}`), Configured: true}}},
		Outages: []KeyedOutage{
			{"a", OutageRecord{ID: 1, Start: 10, End: 20, ChecksFailed: []string{"c"}}},
			{"a", OutageRecord{ID: 2, Start: 30, End: OpenEnd}},
		},
		Intervals: []KeyedInterval{{IntervalPresence, "a", Interval{0, OpenEnd}}, {IntervalDegraded, "a", Interval{5, 8}}},
		Transitions: []KeyedTransition{
			{"a", 30, TransitionRecord{From: "up", To: "down"}},
			{"a", 10, TransitionRecord{From: "unknown", To: "up"}},
		},
		Maintenance: []MaintenanceRewrite{{Key: "a", From: 0, Windows: []Interval{{100, 110}, {200, 210}}}},
		Gaps:        []Interval{{40, 45}},
		Region:      "kr", Heartbeat: 50,
	})
	write(&Batch{
		Outages:     []KeyedOutage{{"a", OutageRecord{ID: 2, Start: 30, End: 60}}}, // closes outage 2
		Maintenance: []MaintenanceRewrite{{Key: "a", From: 150, Windows: []Interval{{300, 310}}}},
		Clean:       true,
	})
	h, err := m.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Outages["a"]; len(got) != 2 || got[1].End != 60 || h.OutageSeq != 2 {
		t.Errorf("outages %+v (seq %d), want two, the second closed at 60, seq 2", got, h.OutageSeq)
	}
	if got, want := h.Intervals[IntervalMaintenance]["a"], []Interval{{100, 110}, {300, 310}}; !slices.Equal(got, want) {
		t.Errorf("maintenance %v, want %v", got, want)
	}
	if h.Region != "kr" || h.Heartbeat != 50 || !h.Clean {
		t.Errorf("marks region %q heartbeat %d clean %v", h.Region, h.Heartbeat, h.Clean)
	}
	h.Outages["a"][0].ChecksFailed[0] = "changed"
	if h2, _ := m.Load(); h2.Outages["a"][0].ChecksFailed[0] != "c" {
		t.Error("Load handed out the store's own slice")
	}
	var ats []int64
	_ = m.Transitions("a", func(at int64, _ TransitionRecord) error { ats = append(ats, at); return nil })
	if !slices.Equal(ats, []int64{10, 30}) {
		t.Errorf("transitions at %v, want oldest first [10 30]", ats)
	}
	if last, ok := m.LastTransition("a"); !ok || last.To != "down" {
		t.Errorf("last transition %+v %v, want to down", last, ok)
	}
	stop := errors.New("stop")
	if err := m.Transitions("a", func(int64, TransitionRecord) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Transitions returned %v, want fn's error", err)
	}

	// Compaction at cutoff 25: what ended before goes, open intervals stay;
	// a dropped feature goes entirely.
	write(&Batch{Features: []KeyedFeature{{"b", FeatureRecord{}}},
		Compactions: []Compaction{{Now: 1000, Cutoff: 25, Dropped: []string{"b"},
			Counters: map[string]CounterRecord{"a": {CompactedOutages: 1}}}}})
	h, _ = m.Load()
	if got := h.Outages["a"]; len(got) != 1 || got[0].ID != 2 {
		t.Errorf("outages after compaction %+v, want only outage 2", got)
	}
	if len(h.Intervals[IntervalDegraded]["a"]) != 0 || len(h.Intervals[IntervalPresence]["a"]) != 1 {
		t.Errorf("intervals after compaction %+v", h.Intervals)
	}
	if _, ok := h.Features["b"]; ok || h.Compacted != 1000 || h.Counters["a"].CompactedOutages != 1 {
		t.Errorf("after compaction: feature b kept %v, compacted %d, counters %+v", ok, h.Compacted, h.Counters["a"])
	}
	if last, _ := m.LastTransition("a"); last.To != "down" {
		t.Errorf("transition at 30 compacted at cutoff 25: %+v", last)
	}
	if len(h.Gaps) != 1 {
		t.Errorf("gaps %v, want [40 45] kept (ends after the cutoff)", h.Gaps)
	}
}
