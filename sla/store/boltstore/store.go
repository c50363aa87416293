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
	dst = slices.Grow(dst, len(spec)+80)
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

func be64(v int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	return b[:]
}

func get64(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }

// timeKey is featureKey "\x00" be64(t).
func timeKey(fkey string, t int64) []byte {
	k := make([]byte, 0, len(fkey)+9)
	k = append(k, fkey...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, uint64(t))
}

// putInterval stores iv under the feature's key in bucket.
func putInterval(tx *bbolt.Tx, bucket []byte, fkey string, iv store.Interval) error {
	return tx.Bucket(bucket).Put(timeKey(fkey, iv.Start), be64(iv.End))
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

func putCounters(tx *bbolt.Tx, fkey string, c store.CounterRecord) error {
	v := make([]byte, 0, 64)
	for _, n := range []int64{c.Downtime, c.Degraded, c.Unmonitored, int64(c.CompactedOutages), c.At, c.DownAt,
		c.DownLead, c.DegradedLead} {
		v = binary.BigEndian.AppendUint64(v, uint64(n)) // be64 would allocate each
	}
	return tx.Bucket(bucketCounters).Put([]byte(fkey), v)
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
