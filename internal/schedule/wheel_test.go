package schedule

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-monitoring/vigil/probes"
)

func TestNextSlotSkipsWhatAStallMissed(t *testing.T) {
	base := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	iv := 10 * time.Second
	tests := []struct {
		name     string
		now, out time.Duration // after base
	}{
		{"on time", 1 * time.Millisecond, 10 * time.Second},
		{"late within the interval", 9 * time.Second, 10 * time.Second},
		{"late by the next slot", 12 * time.Second, 20 * time.Second},
		{"stalled for three slots", 31 * time.Second, 40 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nextSlot(base, iv, base.Add(tt.now))
			if want := base.Add(tt.out); !got.Equal(want) {
				t.Fatalf("nextSlot at +%s = +%s, want +%s", tt.now, got.Sub(base), tt.out)
			}
		})
	}
}

// TestCheckAppliedMidTurnRunsInItsFirstSlot: a turn already sleeping (the
// queue was empty when it began) is woken for a check applied later, whose
// first slot comes before the next turn; and checks keep their slots across
// turns.
func TestCheckAppliedMidTurnRunsInItsFirstSlot(t *testing.T) {
	synctest.Test(t, checkAppliedMidTurnRunsInItsFirstSlot)
}

func checkAppliedMidTurnRunsInItsFirstSlot(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	time.Sleep(300 * time.Millisecond) // the first turn is asleep with nothing queued
	const interval = 700 * time.Millisecond
	c := newCollector()
	ids := []string{"s/f/a", "s/f/b", "s/f/c", "s/f/d"}
	specs := make([]Spec, len(ids))
	for i, id := range ids {
		specs[i] = Spec{ID: id, Interval: interval, Timeout: 100 * time.Millisecond, Fingerprint: "1",
			Build: func() (probes.Prober, error) { return okProber(), nil }, OnResult: c.onResult(id)}
	}
	applied := time.Now()
	if _, err := s.Apply(specs); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		c.waitFor(t, id, 4, 5*time.Second) // four slots span at least two turns
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		first := firstStart(id, interval, Grid(Rate(specs)), applied)
		for k, r := range c.results[id][:4] {
			slot := first.Add(time.Duration(k) * interval)
			if late := r.Start.Sub(slot); late != 0 {
				t.Errorf("%s run %d started %s after slot %s, want on it", id, k, late, slot.Format(time.StampMicro))
			}
		}
	}
}

// TestArmedSlotsShareABucketAndARemovedCheckSkipsItsSlot: checks whose slots
// fall on one time share one bucket (one timer); a check removed after its
// slot was armed does not run in it, while the others on that bucket do; and
// a fired bucket is not left behind.
func TestArmedSlotsShareABucketAndARemovedCheckSkipsItsSlot(t *testing.T) {
	synctest.Test(t, armedSlotsShareABucket)
}

func armedSlotsShareABucket(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	const interval = 10 * time.Second
	c := newCollector()
	spec := func(id string) Spec {
		return Spec{ID: id, Interval: interval, Timeout: time.Second, Fingerprint: "1",
			Build: func() (probes.Prober, error) { return okProber(), nil }, OnResult: c.onResult(id)}
	}
	// Three ids on one slot time: the first found whose offsets match.
	var ids []string
	var first time.Time
	applied := time.Now()
	for i := 0; len(ids) < 3 && i < 100000; i++ {
		id := fmt.Sprintf("s/f%d/c", i)
		at := firstStart(id, interval, Grid(Rate([]Spec{{Interval: interval}, {Interval: interval}, {Interval: interval}})), applied)
		if len(ids) == 0 || at.Equal(first) {
			ids, first = append(ids, id), at
		}
	}
	if len(ids) < 3 {
		t.Fatal("no three ids share a slot time")
	}
	specs := []Spec{spec(ids[0]), spec(ids[1]), spec(ids[2])}
	if _, err := s.Apply(specs); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(first) - 500*time.Millisecond) // the slot is armed
	s.mu.Lock()
	b := s.entries[ids[0]].bucket
	shared := b != nil && s.entries[ids[1]].bucket == b && s.entries[ids[2]].bucket == b
	buckets := len(s.buckets)
	s.mu.Unlock()
	if !shared || buckets != 1 {
		t.Fatalf("armed half a second before their slot: shared bucket %v, %d buckets; want one bucket for the three", shared, buckets)
	}
	if _, err := s.Apply(specs[1:]); err != nil { // remove ids[0]
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	synctest.Wait()
	if n := c.count(ids[0]); n != 0 {
		t.Errorf("removed check ran %d times in its armed slot, want 0", n)
	}
	for _, id := range ids[1:] {
		if n := c.count(id); n != 1 {
			t.Errorf("%s ran %d times in its slot, want 1", id, n)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, left := s.buckets[first.UnixNano()]; left {
		t.Error("the fired bucket is still listed")
	}
}
