package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strconv"

	"go.etcd.io/bbolt"

	"github.com/vigil-monitoring/vigil/sla/store"
)

// The store is one bbolt file. Interval-like records are keyed
// featureKey "\x00" start(8 bytes, big endian), so a feature's records sit
// together in time order; the value is the end (8 bytes, 0 = open) or JSON.
var (
	bucketMeta        = []byte("meta")        // heartbeat, format, last compaction
	bucketFeatures    = []byte("features")    // featureKey -> featureRecord JSON
	bucketMachine     = []byte("machine")     // featureKey -> MachineRecord JSON
	bucketCounters    = []byte("counters")    // featureKey -> 8 × 8 bytes (older stores: 5 or 6)
	bucketOutages     = []byte("outages")     // featureKey\0start -> OutageRecord JSON
	bucketTransitions = []byte("transitions") // featureKey\0at\0seq -> TransitionRecord JSON
	bucketDegraded    = []byte("degraded")    // featureKey\0start -> end
	bucketMaint       = []byte("maintenance") // featureKey\0start -> end
	bucketPresence    = []byte("presence")    // featureKey\0start -> end
	bucketGaps        = []byte("gaps")        // start -> end: the agent was not running
	// bucketOutbox holds records waiting to be published, keyed by be64 of
	// the bucket's NextSequence; its Sequence is the last number handed out
	// and survives acknowledgement. Stores written before it existed lack
	// it: Open adds it, and it is not in allBuckets, which Load requires.
	bucketOutbox = []byte("outbox") // be64(seq) -> record

	allBuckets = [][]byte{bucketMeta, bucketFeatures, bucketMachine, bucketCounters, bucketOutages, bucketTransitions,
		bucketDegraded, bucketMaint, bucketPresence, bucketGaps}

	keyHeartbeat = []byte("heartbeat")
	keyFormat    = []byte("format")
	keyCompacted = []byte("compacted")
	keyRegion    = []byte("region")
	keyClean     = []byte("clean") // present after Close, gone while running
)

// storeFormat is bumped when the layout changes incompatibly.
const storeFormat = "vigil-sla-1"

// featureRecord is store.FeatureRecord as the file keeps it: JSON with the
// spec (the engine's JSON) inline.
type featureRecord struct {
	Spec       json.RawMessage `json:"spec"`
	Configured bool            `json:"configured"`
	MaintFrom  int64           `json:"maint_from"`
	MaintUntil int64           `json:"maint_until"`
}

// appendFeatureRecord appends rec as featureRecord's JSON, as json.Marshal
// writes it, without its reflection and its compacting copy of the spec:
// the engine's spec JSON is compact already, and a first configuration
// writes one record per feature.
func appendFeatureRecord(dst []byte, rec store.FeatureRecord) []byte {
	spec := rec.Spec
	if len(spec) == 0 {
		spec = []byte("null")
	}
	dst = slices.Grow(dst, len(spec)+recordFrame)
	dst = append(dst, `{"spec":`...)
	dst = append(dst, spec...)
	dst = append(dst, `,"configured":`...)
	dst = strconv.AppendBool(dst, rec.Configured)
	dst = append(dst, `,"maint_from":`...)
	dst = strconv.AppendInt(dst, rec.MaintFrom, 10)
	dst = append(dst, `,"maint_until":`...)
	dst = strconv.AppendInt(dst, rec.MaintUntil, 10)
	return append(dst, '}')
}

// recordFrame bounds a feature record's bytes around its spec: the keys, a
// bool and two int64s of at most 20 characters.
const recordFrame = len(`{"spec":,"configured":false,"maint_from":,"maint_until":}`) + 2*20

// arena holds the keys and values of one transaction's puts. bbolt keeps
// the slices it is given until the transaction ends, so the next
// transaction writes over the same buffer: a first configuration writes a
// record, a presence and counters for each of thousands of features a
// transaction, and made anew they were 33 MB of the garbage of a
// 50,000-feature start. A nil arena allocates each.
type arena struct{ buf []byte }

// Buffers beyond maxArena are not kept for the next transaction.
const (
	minArena = 64 << 10
	maxArena = 16 << 20
)

// reset makes the buffer free for a new transaction.
func (a *arena) reset() {
	if cap(a.buf) > maxArena {
		a.buf = nil
	}
	a.buf = a.buf[:0]
}

// take returns n bytes for one key or value.
func (a *arena) take(n int) []byte {
	if a == nil {
		return make([]byte, n)
	}
	if cap(a.buf)-len(a.buf) < n {
		// The full buffer stays with the slices taken from it.
		a.buf = make([]byte, 0, max(2*cap(a.buf), n, minArena))
	}
	l := len(a.buf)
	a.buf = a.buf[:l+n]
	return a.buf[l : l+n : l+n]
}

// trim gives back the end of the last n bytes taken, keeping used of them
// (none if what was written there outgrew them and moved).
func (a *arena) trim(n, used int) {
	if a != nil && used <= n {
		a.buf = a.buf[:len(a.buf)-(n-used)]
	}
}

// key copies s into the arena.
func (a *arena) key(s string) []byte {
	k := a.take(len(s))
	copy(k, s)
	return k
}

// featureRecord is appendFeatureRecord into the arena.
func (a *arena) featureRecord(rec store.FeatureRecord) []byte {
	n := max(len(rec.Spec), len("null")) + recordFrame
	out := appendFeatureRecord(a.take(n)[:0], rec)
	a.trim(n, len(out))
	return out
}

func be64(v int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	return b[:]
}

func get64(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }

// timeKey is featureKey "\x00" be64(t).
func timeKey(fkey string, t int64) []byte { return (*arena)(nil).timeKey(fkey, t) }

// timeKey is timeKey in the arena.
func (a *arena) timeKey(fkey string, t int64) []byte {
	k := a.take(len(fkey) + 9)[:0]
	k = append(k, fkey...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, uint64(t))
}

// putInterval stores iv under the feature's key in bucket; a holds the key
// and value.
func putInterval(tx *bbolt.Tx, a *arena, bucket []byte, fkey string, iv store.Interval) error {
	v := a.take(8)
	binary.BigEndian.PutUint64(v, uint64(iv.End))
	return tx.Bucket(bucket).Put(a.timeKey(fkey, iv.Start), v)
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func putOutage(tx *bbolt.Tx, fkey string, o *store.OutageRecord) error {
	b := tx.Bucket(bucketOutages)
	if o.ID == 0 {
		id, err := b.NextSequence()
		if err != nil {
			return err
		}
		o.ID = id
	}
	if o.ID > b.Sequence() { // IDs are handed out in memory (groupCommit.outageIDs)
		if err := b.SetSequence(o.ID); err != nil {
			return err
		}
	}
	return putJSON(b, timeKey(fkey, o.Start), o)
}

func putTransition(tx *bbolt.Tx, fkey string, at int64, rec store.TransitionRecord) error {
	b := tx.Bucket(bucketTransitions)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return putJSON(b, append(timeKey(fkey, at), be64(int64(seq))...), rec)
}

func putCounters(tx *bbolt.Tx, a *arena, fkey string, c store.CounterRecord) error {
	v := a.take(64)[:0]
	for _, n := range []int64{c.Downtime, c.Degraded, c.Unmonitored, int64(c.CompactedOutages), c.At, c.DownAt,
		c.DownLead, c.DegradedLead} {
		v = binary.BigEndian.AppendUint64(v, uint64(n)) // be64 would allocate each
	}
	return tx.Bucket(bucketCounters).Put(a.key(fkey), v)
}

// deleteFrom deletes the feature's keys in b with a time at or after t.
func deleteFrom(b *bbolt.Bucket, fkey string, t int64) error {
	return deleteKeys(b, append([]byte(fkey), 0), timeKey(fkey, t), nil)
}

// deleteKeys deletes the keys in b that have prefix, are at or after seek and
// for which keep (if set) says false. Keys are gathered first because a bbolt
// cursor skips entries when deleting while iterating.
func deleteKeys(b *bbolt.Bucket, prefix, seek []byte, keep func(k, v []byte) bool) error {
	var doomed [][]byte
	c := b.Cursor()
	k, v := c.First()
	if seek != nil {
		k, v = c.Seek(seek)
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if keep == nil || !keep(k, v) {
			doomed = append(doomed, append([]byte(nil), k...))
		}
	}
	for _, k := range doomed {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
