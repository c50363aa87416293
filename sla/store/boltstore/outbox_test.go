package boltstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vigil-monitoring/vigil/sla/store"
)

// outboxSeqs returns the sequence numbers (less base) and data of the
// entries above base+seq.
func outboxSeqs(t *testing.T, s store.Store, seq uint64, max int) ([]uint64, []string) {
	t.Helper()
	entries, err := s.OutboxAfter(base+seq, max)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	var data []string
	for _, e := range entries {
		seqs = append(seqs, e.Seq-base)
		data = append(data, string(e.Data))
	}
	return seqs, data
}

func writeOutbox(t *testing.T, s store.Store, records ...string) {
	t.Helper()
	b := &store.Batch{Heartbeat: 1}
	for _, r := range records {
		b.Outbox = append(b.Outbox, []byte(r))
	}
	if err := s.Write(b); err != nil {
		t.Fatal(err)
	}
}

// base is the sequence number before the first of the store under test.
var base uint64

// TestOutbox: both stores hand out increasing sequence numbers in write
// order, page through them, delete what is acknowledged, and never reuse a
// number, also after a reopen (the same Memory, the same bolt file).
func TestOutbox(t *testing.T) {
	file := filepath.Join(t.TempDir(), "vigil.db")
	mem := store.NewMemory()
	for _, tc := range []struct {
		name   string
		reopen func(t *testing.T, old store.Store) store.Store
	}{
		{"memory", func(*testing.T, store.Store) store.Store { return mem }},
		{"bolt", func(t *testing.T, old store.Store) store.Store {
			if old != nil {
				if err := old.Close(); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Open(file, Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.reopen(t, nil)
			base, _ = s.OutboxLast()
			writeOutbox(t, s, "a", "b", "c")
			writeOutbox(t, s)
			writeOutbox(t, s, "d", "e")
			seqs, data := outboxSeqs(t, s, 0, 0)
			if !slices.Equal(seqs, []uint64{1, 2, 3, 4, 5}) || !slices.Equal(data, []string{"a", "b", "c", "d", "e"}) {
				t.Fatalf("outbox = %v %v, want 1..5 a..e", seqs, data)
			}
			if seqs, _ := outboxSeqs(t, s, 2, 2); !slices.Equal(seqs, []uint64{3, 4}) {
				t.Errorf("OutboxAfter(2, 2) = %v, want [3 4]", seqs)
			}
			if err := s.AckOutbox(base + 3); err != nil {
				t.Fatal(err)
			}
			s = tc.reopen(t, s)
			if seqs, data := outboxSeqs(t, s, 0, 10); !slices.Equal(seqs, []uint64{4, 5}) || data[0] != "d" {
				t.Errorf("after ack 3 and reopen: %v %v, want [4 5] [d e]", seqs, data)
			}
			if err := s.AckOutbox(base + 5); err != nil {
				t.Fatal(err)
			}
			s = tc.reopen(t, s)
			if seqs, _ := outboxSeqs(t, s, 0, 10); len(seqs) != 0 {
				t.Errorf("after ack 5: %v, want empty", seqs)
			}
			writeOutbox(t, s, "f")
			s = tc.reopen(t, s)
			if seqs, data := outboxSeqs(t, s, 0, 10); !slices.Equal(seqs, []uint64{6}) || data[0] != "f" {
				t.Errorf("after an empty outbox: %v %v, want [6] [f]: a number is never reused", seqs, data)
			}
			if last, err := s.OutboxLast(); err != nil || last != base+6 {
				t.Errorf("OutboxLast = %d, %v; want %d", last, err, base+6)
			}
		})
	}
}

// TestOutboxFailedWrite: a write that fails leaves no outbox entry and uses
// no sequence number (the outbox is exactly as durable as the history).
func TestOutboxFailedWrite(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "vigil.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base, _ = s.OutboxLast()
	writeOutbox(t, s, "a")
	s.FailWrites(errors.New("disk full"))
	if err := s.Write(&store.Batch{Outbox: [][]byte{[]byte("lost")}, Gaps: []store.Interval{{Start: 1, End: 2}}}); err == nil {
		t.Fatal("write succeeded with FailWrites")
	}
	s.FailWrites(nil)
	writeOutbox(t, s, "b")
	seqs, data := outboxSeqs(t, s, 0, 0)
	if got := fmt.Sprint(seqs, data); got != "[1 2] [a b]" {
		t.Errorf("outbox = %s, want [1 2] [a b]", got)
	}
	h, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Gaps) != 0 {
		t.Errorf("gaps = %v: the failed write's history was kept", h.Gaps)
	}
}

// TestOutboxNumbersAfterWipe: a store created afresh (a wiped data
// directory, a new disk) numbers its records above those of the store
// before it, so the agent's message ids never repeat.
func TestOutboxNumbersAfterWipe(t *testing.T) {
	var lasts []uint64
	for range 2 {
		file := filepath.Join(t.TempDir(), "vigil.db")
		s, err := Open(file, Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		writeOutbox(t, s, "a", "b")
		last, err := s.OutboxLast()
		if err != nil {
			t.Fatal(err)
		}
		lasts = append(lasts, last)
		_ = s.Close() // creating the next file takes far more than the microsecond the numbers count
	}
	if lasts[1] <= lasts[0] || lasts[0] < 1_000_000 {
		t.Errorf("last numbers of a store and of its wiped successor: %v; want increasing, from the time", lasts)
	}
}
