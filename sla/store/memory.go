package store

import (
	"cmp"
	"maps"
	"slices"
	"sync"
)

// Memory is a Store in memory, for tests of the engine that do not test
// persistence: fast, no files. It keeps what a bbolt store would keep, by
// the same keys, so that an engine closed and started again on the same
// Memory finds its history as after a restart. Its writes never fail.
type Memory struct {
	mu          sync.Mutex
	history     History
	transitions map[string][]memTransition
	seq         uint64
	outbox      []OutboxEntry // in sequence order
	outboxSeq   uint64        // the last sequence number handed out
}

type memTransition struct {
	at, seq int64
	rec     TransitionRecord
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	s := &Memory{transitions: map[string][]memTransition{}}
	h := &s.history
	h.Features, h.Machines, h.Counters = map[string]FeatureRecord{}, map[string]MachineRecord{}, map[string]CounterRecord{}
	h.Outages = map[string][]OutageRecord{}
	for kind := range h.Intervals {
		h.Intervals[kind] = map[string][]Interval{}
	}
	return s
}

// Load returns a copy of everything written.
func (s *Memory) Load() (*History, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.history
	h.Features, h.Machines, h.Counters = maps.Clone(h.Features), maps.Clone(h.Machines), maps.Clone(h.Counters)
	h.Outages = map[string][]OutageRecord{}
	for key, list := range s.history.Outages {
		h.Outages[key] = cloneOutages(list)
	}
	for kind, lists := range s.history.Intervals {
		h.Intervals[kind] = map[string][]Interval{}
		for key, list := range lists {
			h.Intervals[kind][key] = slices.Clone(list)
		}
	}
	h.Gaps = slices.Clone(h.Gaps)
	return &h, nil
}

func cloneOutages(list []OutageRecord) []OutageRecord {
	out := slices.Clone(list)
	for i := range out {
		out[i].ChecksFailed = slices.Clone(out[i].ChecksFailed)
	}
	return out
}

// Write applies b in Batch's order.
func (s *Memory) Write(b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := &s.history
	for _, w := range b.Features {
		rec := w.Record
		rec.Spec = slices.Clone(rec.Spec)
		h.Features[w.Key] = rec
	}
	for _, w := range b.Machines {
		h.Machines[w.Key] = w.Record
	}
	for _, w := range b.Counters {
		h.Counters[w.Key] = w.Record
	}
	for _, w := range b.Outages {
		s.putOutage(w)
	}
	for _, w := range b.Intervals {
		h.Intervals[w.Kind][w.Key] = putByStart(h.Intervals[w.Kind][w.Key], w.Interval)
	}
	for _, w := range b.Transitions {
		s.seq++
		list := append(s.transitions[w.Key], memTransition{w.At, int64(s.seq), w.Record})
		slices.SortStableFunc(list, func(a, b memTransition) int { return cmp.Compare(a.at, b.at) })
		s.transitions[w.Key] = list
	}
	for _, w := range b.Maintenance {
		list := slices.DeleteFunc(h.Intervals[IntervalMaintenance][w.Key], func(iv Interval) bool { return iv.Start >= w.From })
		for _, iv := range w.Windows {
			list = putByStart(list, iv)
		}
		h.Intervals[IntervalMaintenance][w.Key] = list
	}
	for _, g := range b.Gaps {
		h.Gaps = putByStart(h.Gaps, g)
	}
	for i := range b.Compactions {
		s.compact(&b.Compactions[i])
	}
	s.mark(b)
	for _, data := range b.Outbox {
		s.outboxSeq++
		s.outbox = append(s.outbox, OutboxEntry{Seq: s.outboxSeq, Data: slices.Clone(data)})
	}
	return nil
}

// OutboxAfter returns up to max entries above seq, in order.
func (s *Memory) OutboxAfter(seq uint64, max int) ([]OutboxEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.outbox, seq+1, func(e OutboxEntry, seq uint64) int { return cmp.Compare(e.Seq, seq) })
	list := s.outbox[i:]
	if max > 0 && len(list) > max {
		list = list[:max]
	}
	out := make([]OutboxEntry, len(list))
	for k, e := range list {
		out[k] = OutboxEntry{Seq: e.Seq, Data: slices.Clone(e.Data)}
	}
	return out, nil
}

// OutboxLast is the last sequence number handed out.
func (s *Memory) OutboxLast() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outboxSeq, nil
}

// AckOutbox deletes the entries up to upTo.
func (s *Memory) AckOutbox(upTo uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.outbox, upTo+1, func(e OutboxEntry, seq uint64) int { return cmp.Compare(e.Seq, seq) })
	s.outbox = slices.Delete(s.outbox, 0, i)
	return nil
}

func (s *Memory) putOutage(w KeyedOutage) {
	h := &s.history
	o := w.Record
	o.ChecksFailed = slices.Clone(o.ChecksFailed)
	if o.ID == 0 {
		o.ID = h.OutageSeq + 1
	}
	h.OutageSeq = max(h.OutageSeq, o.ID)
	list := h.Outages[w.Key]
	i, found := slices.BinarySearchFunc(list, o.Start, func(x OutageRecord, start int64) int { return cmp.Compare(x.Start, start) })
	if found {
		list[i] = o
	} else {
		list = slices.Insert(list, i, o)
	}
	h.Outages[w.Key] = list
}

// putByStart stores iv in list, sorted by start, replacing one that starts
// at the same time.
func putByStart(list []Interval, iv Interval) []Interval {
	i, found := slices.BinarySearchFunc(list, iv.Start, func(x Interval, start int64) int { return cmp.Compare(x.Start, start) })
	if found {
		list[i] = iv
		return list
	}
	return slices.Insert(list, i, iv)
}

// compact removes what c removes from a bbolt store.
func (s *Memory) compact(c *Compaction) {
	h := &s.history
	maps.Copy(h.Counters, c.Counters)
	for key, list := range h.Outages {
		h.Outages[key] = slices.DeleteFunc(list, func(o OutageRecord) bool { return c.IsOld(o.End) })
	}
	oldInterval := func(iv Interval) bool { return c.IsOld(iv.End) }
	for _, lists := range h.Intervals {
		for key, list := range lists {
			lists[key] = slices.DeleteFunc(list, oldInterval)
		}
	}
	h.Gaps = slices.DeleteFunc(h.Gaps, oldInterval)
	for key, list := range s.transitions {
		s.transitions[key] = slices.DeleteFunc(list, func(t memTransition) bool { return t.at < c.Cutoff })
	}
	for _, key := range c.Dropped {
		delete(h.Features, key)
		delete(h.Machines, key)
		delete(h.Counters, key)
		delete(h.Outages, key)
		for _, lists := range h.Intervals {
			delete(lists, key)
		}
		delete(s.transitions, key)
	}
	h.Compacted = c.Now
}

// mark writes b's region, clean mark and heartbeat.
func (s *Memory) mark(b *Batch) {
	h := &s.history
	if b.Region != "" {
		h.Region = b.Region
	}
	if b.Unclean {
		h.Clean = false
	}
	if b.Clean {
		h.Clean = true
	}
	if b.Heartbeat != 0 {
		h.Heartbeat = b.Heartbeat
	}
}

// Transitions calls fn with feature key's transitions, oldest first.
func (s *Memory) Transitions(key string, fn func(at int64, r TransitionRecord) error) error {
	s.mu.Lock()
	list := slices.Clone(s.transitions[key])
	s.mu.Unlock()
	for _, t := range list {
		if err := fn(t.at, t.rec); err != nil {
			return err
		}
	}
	return nil
}

// LastTransition returns feature key's newest transition, if any.
func (s *Memory) LastTransition(key string) (TransitionRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.transitions[key]
	if len(list) == 0 {
		return TransitionRecord{}, false
	}
	return list[len(list)-1].rec, true
}

// Close does nothing: the history stays for the next engine.
func (s *Memory) Close() error { return nil }
