// Package boltstore is the SLA history in one bbolt file, the store the
// agent uses: the file layout, a group commit that lets concurrent writes
// share one fsync, the reading of the whole history at start, and the
// checks that make a damaged or foreign file fail loudly instead of starting
// an empty history.
package boltstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/vigil-monitoring/vigil/sla/store"
)

// Store is the SLA history in one bbolt file (store.go has the layout),
// written through a group commit (commit.go). It implements store.Store.
type Store struct {
	db       *bbolt.DB
	readOnly bool
	commits  groupCommit
}

var _ store.Store = (*Store)(nil)

// Options configure Open.
type Options struct {
	// ReadOnly opens the file for reading only (`vigil report`); it must
	// exist.
	ReadOnly bool
	// Timeout bounds the wait for the file's lock; 0 means one second.
	Timeout time.Duration
	// NoSync skips fsync: tests and benchmarks only, never the agent.
	NoSync bool
	// InitialMap is the address space a writable store maps from the start
	// (bbolt's InitialMmapSize); 0: bbolt's default, 32 KB doubling as the
	// file grows. A write that outgrows the map remaps, and bbolt first
	// copies every node the transaction touched onto the heap: a first
	// configuration of 10,000 features remapped nine times and copied 22
	// MB, 14% of the agent's start. Mapped and not yet written, the space
	// costs no memory; past 16 MB bbolt grows the file 16 MB ahead of its
	// pages (sparse).
	InitialMap int
}

// Open opens file, creating it unless read-only; a writable store gets its
// buckets and format mark if new. It checks first what bbolt would not (an
// empty file, pages that do not hold together); errors are explained by
// OpenError.
func Open(file string, opts Options) (*Store, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	readOnly := opts.ReadOnly
	bopts := bbolt.Options{Timeout: opts.Timeout, ReadOnly: readOnly, NoSync: opts.NoSync}
	if !readOnly {
		bopts.InitialMmapSize = opts.InitialMap
	}
	db, err := openStore(file, bopts)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, readOnly: readOnly}
	s.commits.db = db
	if readOnly {
		return s, nil
	}
	err = guard(func() error {
		return db.Update(func(tx *bbolt.Tx) error {
			for _, name := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return fmt.Errorf("create bucket %s: %w", name, err)
				}
			}
			if err := createOutbox(tx); err != nil {
				return err
			}
			meta := tx.Bucket(bucketMeta)
			if meta.Get(keyFormat) == nil {
				return meta.Put(keyFormat, []byte(storeFormat))
			}
			return nil
		})
	})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// Write commits b with whatever other writes are pending (groupCommit).
func (s *Store) Write(b *store.Batch) error {
	return s.commits.write(func(tx *bbolt.Tx) error { return apply(tx, b, &s.commits.arena) })
}

// FailWrites makes every later write fail with err after its records ran,
// as a full disk fails a commit; nil ends it. For tests of the engine's
// write-failure path.
func (s *Store) FailWrites(err error) {
	if err == nil {
		s.commits.failWrites.Store(nil)
		return
	}
	s.commits.failWrites.Store(&err)
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Load reads every bucket; a record it cannot read is a damageError naming
// the bucket and key.
func (s *Store) Load() (h *store.History, err error) {
	err = guard(func() error {
		return s.db.View(func(tx *bbolt.Tx) error {
			for _, name := range allBuckets {
				if tx.Bucket(name) == nil {
					return fmt.Errorf("bucket %s missing: not a vigil store", name)
				}
			}
			h, err = loadHistory(tx)
			return err
		})
	})
	return h, err
}

// loadHistory reads the history from tx.
func loadHistory(tx *bbolt.Tx) (*store.History, error) {
	h := &store.History{Features: map[string]store.FeatureRecord{}, Machines: map[string]store.MachineRecord{},
		Counters: map[string]store.CounterRecord{}, Outages: map[string][]store.OutageRecord{}}
	meta := tx.Bucket(bucketMeta)
	if f := meta.Get(keyFormat); f != nil && string(f) != storeFormat {
		return nil, fmt.Errorf("store format %q, this vigil reads %q", f, storeFormat)
	}
	if hb := meta.Get(keyHeartbeat); len(hb) == 8 {
		h.Heartbeat = get64(hb)
	}
	if c := meta.Get(keyCompacted); len(c) == 8 {
		h.Compacted = get64(c)
	}
	h.Region, h.Clean = string(meta.Get(keyRegion)), meta.Get(keyClean) != nil
	for _, read := range []func(*bbolt.Tx, *store.History) error{loadFeatures, loadMachines, loadCounters, loadOutages, loadIntervals} {
		if err := read(tx, h); err != nil {
			return nil, err
		}
	}
	h.OutageSeq = tx.Bucket(bucketOutages).Sequence()
	return h, nil
}

func badRecord(bucket []byte, key []byte, err error) error {
	return store.Damaged(fmt.Errorf("bucket %s key %q: %w", bucket, key, err))
}

func loadFeatures(tx *bbolt.Tx, h *store.History) error {
	return tx.Bucket(bucketFeatures).ForEach(func(k, v []byte) error {
		var rec featureRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return badRecord(bucketFeatures, k, err)
		}
		h.Features[string(k)] = store.FeatureRecord{Spec: rec.Spec, Configured: rec.Configured, MaintFrom: rec.MaintFrom, MaintUntil: rec.MaintUntil}
		return nil
	})
}

func loadMachines(tx *bbolt.Tx, h *store.History) error {
	return tx.Bucket(bucketMachine).ForEach(func(k, v []byte) error {
		var rec store.MachineRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return badRecord(bucketMachine, k, err)
		}
		h.Machines[string(k)] = rec
		return nil
	})
}

func loadCounters(tx *bbolt.Tx, h *store.History) error {
	return tx.Bucket(bucketCounters).ForEach(func(k, v []byte) error {
		if len(v) != 40 && len(v) != 48 && len(v) != 64 {
			return badRecord(bucketCounters, k, fmt.Errorf("value of %d bytes, want 64", len(v)))
		}
		c := store.CounterRecord{Downtime: get64(v), Degraded: get64(v[8:]), Unmonitored: get64(v[16:]),
			CompactedOutages: uint64(get64(v[24:])), At: get64(v[32:])}
		c.DownAt = c.At
		if len(v) >= 48 {
			c.DownAt = get64(v[40:])
		}
		if len(v) == 64 {
			c.DownLead, c.DegradedLead = get64(v[48:]), get64(v[56:])
		}
		h.Counters[string(k)] = c
		return nil
	})
}

func loadOutages(tx *bbolt.Tx, h *store.History) error {
	return tx.Bucket(bucketOutages).ForEach(func(k, v []byte) error {
		fkey, _, ok := splitTimeKey(k)
		if !ok {
			return badRecord(bucketOutages, k, fmt.Errorf("malformed key"))
		}
		var o store.OutageRecord
		if err := json.Unmarshal(v, &o); err != nil {
			return badRecord(bucketOutages, k, err)
		}
		h.Outages[fkey] = append(h.Outages[fkey], o)
		return nil
	})
}

// intervalBuckets are the buckets of the IntervalKinds, by kind.
var intervalBuckets = [...][]byte{store.IntervalDegraded: bucketDegraded, store.IntervalMaintenance: bucketMaint, store.IntervalPresence: bucketPresence}

func loadIntervals(tx *bbolt.Tx, h *store.History) error {
	for kind, bucket := range intervalBuckets {
		lists := map[string][]store.Interval{}
		err := tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			fkey, start, ok := splitTimeKey(k)
			if !ok || len(v) != 8 {
				return badRecord(bucket, k, fmt.Errorf("malformed record"))
			}
			lists[fkey] = append(lists[fkey], store.Interval{Start: start, End: get64(v)})
			return nil
		})
		if err != nil {
			return err
		}
		h.Intervals[kind] = lists
	}
	return tx.Bucket(bucketGaps).ForEach(func(k, v []byte) error {
		if len(k) != 8 || len(v) != 8 {
			return badRecord(bucketGaps, k, fmt.Errorf("malformed record"))
		}
		h.Gaps = append(h.Gaps, store.Interval{Start: get64(k), End: get64(v)})
		return nil
	})
}

// apply writes b in tx, in Batch's order; the transaction's arena holds the
// keys and values of its features, intervals and counters.
func apply(tx *bbolt.Tx, b *store.Batch, a *arena) error {
	if len(b.Features) > 1 {
		// Many features come from Configure, in key order: pack the pages
		// (bbolt's default half fills them), since the store is mmapped and
		// its pages count in the agent's resident memory. 10,000 features:
		// 10.3 -> 5 MB of records.
		for _, name := range [][]byte{bucketFeatures, bucketPresence, bucketCounters} {
			tx.Bucket(name).FillPercent = 0.9
		}
	}
	for _, w := range b.Features {
		if err := tx.Bucket(bucketFeatures).Put(a.key(w.Key), a.featureRecord(w.Record)); err != nil {
			return err
		}
	}
	for _, w := range b.Machines {
		if err := putJSON(tx.Bucket(bucketMachine), []byte(w.Key), w.Record); err != nil {
			return err
		}
	}
	for _, w := range b.Counters {
		if err := putCounters(tx, a, w.Key, w.Record); err != nil {
			return err
		}
	}
	for i := range b.Outages {
		if err := putOutage(tx, b.Outages[i].Key, &b.Outages[i].Record); err != nil {
			return err
		}
	}
	for _, w := range b.Intervals {
		if err := putInterval(tx, a, intervalBuckets[w.Kind], w.Key, w.Interval); err != nil {
			return err
		}
	}
	for _, w := range b.Transitions {
		if err := putTransition(tx, w.Key, w.At, w.Record); err != nil {
			return err
		}
	}
	for _, w := range b.Maintenance {
		if err := putMaintenance(tx, w); err != nil {
			return err
		}
	}
	for _, g := range b.Gaps {
		if err := tx.Bucket(bucketGaps).Put(be64(g.Start), be64(g.End)); err != nil {
			return err
		}
	}
	for i := range b.Compactions {
		if err := applyCompaction(tx, &b.Compactions[i]); err != nil {
			return err
		}
	}
	if err := putOutbox(tx, b.Outbox); err != nil {
		return err
	}
	return applyMarks(tx.Bucket(bucketMeta), b)
}

// createOutbox adds the outbox bucket to a store that lacks it (new, or
// written before the outbox). Its numbers start at the time in
// microseconds, not at 1: an agent whose store was wiped or replaced
// (a new disk, a pod without a volume) keeps its agent id, and numbers
// from 1 again would collide with its earlier records' message ids, which
// the stream and consumers drop as duplicates.
func createOutbox(tx *bbolt.Tx) error {
	if tx.Bucket(bucketOutbox) != nil {
		return nil
	}
	b, err := tx.CreateBucket(bucketOutbox)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketOutbox, err)
	}
	return b.SetSequence(uint64(time.Now().UnixMicro()))
}

// putOutbox appends records to the outbox, each under the next sequence
// number. A transaction that fails rolls the sequence back with it.
func putOutbox(tx *bbolt.Tx, records [][]byte) error {
	if len(records) == 0 {
		return nil
	}
	b := tx.Bucket(bucketOutbox)
	// Keys only grow: full pages, not bbolt's half-full splits (about
	// 2.2 bytes on disk per record byte otherwise, measured).
	b.FillPercent = 1.0
	for _, data := range records {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(be64(int64(seq)), data); err != nil {
			return err
		}
	}
	return nil
}

// OutboxAfter reads up to max entries above seq, in order.
func (s *Store) OutboxAfter(seq uint64, max int) ([]store.OutboxEntry, error) {
	var out []store.OutboxEntry
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(be64(int64(seq + 1))); k != nil && (max <= 0 || len(out) < max); k, v = c.Next() {
			if len(k) != 8 {
				return badRecord(bucketOutbox, k, fmt.Errorf("malformed key"))
			}
			out = append(out, store.OutboxEntry{Seq: uint64(get64(k)), Data: bytes.Clone(v)})
		}
		return nil
	})
	return out, err
}

// OutboxLast is the outbox bucket's sequence: the last number handed out.
func (s *Store) OutboxLast() (uint64, error) {
	var last uint64
	err := s.db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketOutbox); b != nil {
			last = b.Sequence()
		}
		return nil
	})
	return last, err
}

// AckOutbox deletes the entries up to upTo, in a commit shared with the
// engine's writes.
func (s *Store) AckOutbox(upTo uint64) error {
	return s.commits.write(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		var doomed [][]byte
		c := b.Cursor()
		for k, _ := c.First(); len(k) == 8 && uint64(get64(k)) <= upTo; k, _ = c.Next() {
			doomed = append(doomed, bytes.Clone(k))
		}
		for _, k := range doomed {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

func applyMarks(meta *bbolt.Bucket, b *store.Batch) error {
	if b.Region != "" {
		if err := meta.Put(keyRegion, []byte(b.Region)); err != nil {
			return err
		}
	}
	if b.Unclean {
		if err := meta.Delete(keyClean); err != nil {
			return err
		}
	}
	if b.Clean {
		if err := meta.Put(keyClean, []byte{1}); err != nil {
			return err
		}
	}
	if b.Heartbeat != 0 {
		return meta.Put(keyHeartbeat, be64(b.Heartbeat))
	}
	return nil
}

// putMaintenance rewrites a feature's maintenance windows from w.From on.
func putMaintenance(tx *bbolt.Tx, w store.MaintenanceRewrite) error {
	if err := deleteFrom(tx.Bucket(bucketMaint), w.Key, w.From); err != nil {
		return err
	}
	for _, iv := range w.Windows {
		if err := putInterval(tx, nil, bucketMaint, w.Key, iv); err != nil {
			return err
		}
	}
	return nil
}

// applyCompaction removes from the store what the engine compacted from
// memory, by the same rules, plus transitions older than the horizon.
func applyCompaction(tx *bbolt.Tx, c *store.Compaction) error {
	for _, key := range slices.Sorted(maps.Keys(c.Counters)) {
		if err := putCounters(tx, nil, key, c.Counters[key]); err != nil {
			return err
		}
	}
	keepOutage := func(_, v []byte) bool {
		var o store.OutageRecord
		return json.Unmarshal(v, &o) != nil || !c.IsOld(o.End)
	}
	keepInterval := func(_, v []byte) bool { return len(v) != 8 || !c.IsOld(get64(v)) }
	keepTransition := func(k, _ []byte) bool { return len(k) < 16 || get64(k[len(k)-16:]) >= c.Cutoff }
	for _, r := range []struct {
		bucket []byte
		keep   func(k, v []byte) bool
	}{
		{bucketOutages, keepOutage}, {bucketDegraded, keepInterval}, {bucketMaint, keepInterval},
		{bucketPresence, keepInterval}, {bucketGaps, keepInterval}, {bucketTransitions, keepTransition},
	} {
		if err := deleteKeys(tx.Bucket(r.bucket), nil, nil, r.keep); err != nil {
			return err
		}
	}
	for _, key := range c.Dropped {
		prefix := append([]byte(key), 0)
		for _, b := range [][]byte{bucketFeatures, bucketMachine, bucketCounters} {
			if err := tx.Bucket(b).Delete([]byte(key)); err != nil {
				return err
			}
		}
		for _, b := range [][]byte{bucketOutages, bucketDegraded, bucketMaint, bucketPresence, bucketTransitions} {
			if err := deleteKeys(tx.Bucket(b), prefix, prefix, nil); err != nil {
				return err
			}
		}
	}
	return tx.Bucket(bucketMeta).Put(keyCompacted, be64(c.Now))
}

// Transitions reads feature key's transitions in key (time, then sequence)
// order.
func (s *Store) Transitions(key string, fn func(at int64, r store.TransitionRecord) error) error {
	prefix := []byte(key + "\x00")
	return s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketTransitions)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(k) < len(prefix)+8 {
				continue
			}
			var rec store.TransitionRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("transition %q: %w", k, err)
			}
			if err := fn(get64(k[len(prefix):len(prefix)+8]), rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// LastTransition seeks past feature key's last transition and steps back.
func (s *Store) LastTransition(key string) (store.TransitionRecord, bool) {
	var rec store.TransitionRecord
	found := false
	_ = s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketTransitions)
		if b == nil {
			return nil
		}
		prefix := append([]byte(key), 0)
		c := b.Cursor()
		// Keys are prefix + be64(at) + be64(seq): seek past the last one.
		var k, v []byte
		if k, _ = c.Seek(append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 17)...)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+16 {
			return nil
		}
		found = json.Unmarshal(v, &rec) == nil
		return nil
	})
	return rec, found
}

// splitTimeKey splits featureKey "\x00" be64(t).
func splitTimeKey(k []byte) (string, int64, bool) {
	if len(k) < 10 || k[len(k)-9] != 0 || bytes.IndexByte(k[:len(k)-9], 0) < 0 {
		return "", 0, false
	}
	return string(k[:len(k)-9]), get64(k[len(k)-8:]), true
}
