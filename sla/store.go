package sla

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// The store is one bbolt file. Interval-like records are keyed
// featureKey "\x00" start(8 bytes, big endian), so a feature's records sit
// together in time order; the value is the end (8 bytes, 0 = open) or JSON.
var (
	bucketMeta        = []byte("meta")        // heartbeat, format, last compaction
	bucketFeatures    = []byte("features")    // featureKey -> featureRecord JSON
	bucketMachine     = []byte("machine")     // featureKey -> machineRecord JSON
	bucketCounters    = []byte("counters")    // featureKey -> 8 × 8 bytes (older stores: 5 or 6)
	bucketOutages     = []byte("outages")     // featureKey\0start -> outageRec JSON
	bucketTransitions = []byte("transitions") // featureKey\0at\0seq -> transitionRecord JSON
	bucketDegraded    = []byte("degraded")    // featureKey\0start -> end
	bucketMaint       = []byte("maintenance") // featureKey\0start -> end
	bucketPresence    = []byte("presence")    // featureKey\0start -> end
	bucketGaps        = []byte("gaps")        // start -> end: the agent was not running

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

// featureRecord is what Configure and the heartbeat keep of a feature.
// The state machine's part lives apart (machineRecord) because only the
// evaluation path writes it: each record has one writer, so writes never
// race with a stale copy.
type featureRecord struct {
	Spec       specRecord `json:"spec"`
	Configured bool       `json:"configured"`
	MaintFrom  int64      `json:"maint_from"`
	MaintUntil int64      `json:"maint_until"`
}

// machineRecord is the state machine's durable part. Streak counters are not
// kept: after a restart a pending failure streak starts over and a
// recovering feature is down again (recovery starts over).
type machineRecord struct {
	State State `json:"state"`
	Since int64 `json:"since"`
}

// specRecord is a FeatureSpec in a form JSON can carry (time zones by name).
type specRecord struct {
	FeatureSpec
	Maintenance []maintRecord `json:"Maintenance"`
}

type maintRecord struct {
	Start    time.Time     `json:"start,omitzero"`
	Cron     string        `json:"cron,omitempty"`
	Location string        `json:"location,omitempty"`
	Duration time.Duration `json:"duration"`
}

type transitionRecord struct {
	From   State  `json:"from"`
	To     State  `json:"to"`
	Reason string `json:"reason,omitempty"`
}

func toSpecRecord(s FeatureSpec) specRecord {
	r := specRecord{FeatureSpec: s}
	r.FeatureSpec.Maintenance = nil
	for _, m := range s.Maintenance {
		r.Maintenance = append(r.Maintenance, maintRecord{Start: m.Start, Cron: m.Cron, Location: locationName(m.Location), Duration: m.Duration})
	}
	return r
}

func (r specRecord) spec() (FeatureSpec, error) {
	s := r.FeatureSpec
	s.Maintenance = nil
	for _, m := range r.Maintenance {
		mm := Maintenance{Start: m.Start, Cron: m.Cron, Duration: m.Duration}
		if m.Location != "" {
			loc, err := time.LoadLocation(m.Location)
			if err != nil {
				return s, fmt.Errorf("maintenance time zone %q: %w", m.Location, err)
			}
			mm.Location = loc
		}
		s.Maintenance = append(s.Maintenance, mm)
	}
	return s, nil
}

func featureKey(service, feature string) string { return service + "\x00" + feature }

// splitKey returns service and feature of a featureKey.
func splitKey(key string) (string, string) {
	i := bytes.IndexByte([]byte(key), 0)
	if i < 0 {
		return key, ""
	}
	return key[:i], key[i+1:]
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
	return append(k, be64(t)...)
}

// putInterval stores iv under the feature's key in bucket.
func putInterval(tx *bbolt.Tx, bucket []byte, fkey string, iv interval) error {
	return tx.Bucket(bucket).Put(timeKey(fkey, iv.start), be64(iv.end))
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func putOutage(tx *bbolt.Tx, fkey string, o *outageRec) error {
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

func putTransition(tx *bbolt.Tx, fkey string, at int64, rec transitionRecord) error {
	b := tx.Bucket(bucketTransitions)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return putJSON(b, append(timeKey(fkey, at), be64(int64(seq))...), rec)
}

func putCounters(tx *bbolt.Tx, fkey string, c counters) error {
	v := make([]byte, 0, 64)
	for _, n := range []int64{c.downtime, c.degraded, c.unmonitored, int64(c.compactedOutages), c.at, c.downAt,
		c.downLead, c.degradedLead} {
		v = append(v, be64(n)...)
	}
	return tx.Bucket(bucketCounters).Put([]byte(fkey), v)
}

func putHeartbeat(tx *bbolt.Tx, now int64) error {
	return tx.Bucket(bucketMeta).Put(keyHeartbeat, be64(now))
}

// maintWrite is a feature's maintenance windows to rewrite from a point on.
type maintWrite struct {
	fkey    string
	from    int64
	windows []interval
}

// takeMaint returns the windows marked dirty and clears the mark; call with
// f.mu held.
func (f *feature) takeMaint() *maintWrite {
	if f.maintDirty == 0 {
		return nil
	}
	w := &maintWrite{fkey: f.key, from: f.maintDirty}
	for _, iv := range f.maint {
		if iv.start >= f.maintDirty {
			w.windows = append(w.windows, iv)
		}
	}
	f.maintDirty = 0
	return w
}

func (w *maintWrite) put(tx *bbolt.Tx) error {
	if err := deleteFrom(tx.Bucket(bucketMaint), w.fkey, w.from); err != nil {
		return err
	}
	for _, iv := range w.windows {
		if err := putInterval(tx, bucketMaint, w.fkey, iv); err != nil {
			return err
		}
	}
	return nil
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

// record is the feature's featureRecord; call with f.mu held.
func (f *feature) record() featureRecord {
	return featureRecord{Spec: toSpecRecord(f.spec), Configured: f.configured, MaintFrom: f.maintFrom, MaintUntil: f.maintUntil}
}

func putMachine(tx *bbolt.Tx, fkey string, state State, since int64) error {
	return putJSON(tx.Bucket(bucketMachine), []byte(fkey), machineRecord{State: state, Since: since})
}

// storeError wraps a store failure with the file it concerns.
func storeError(file, what string, err error) error {
	return fmt.Errorf("sla store %s: %s: %w", file, what, err)
}
