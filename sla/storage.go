package sla

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/sla/store"
)

// What the engine keeps goes through store.Store as plain records: this file
// converts between them and the engine's own types.

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
	i := strings.IndexByte(key, 0)
	if i < 0 {
		return key, ""
	}
	return key[:i], key[i+1:]
}

// takeMaint returns the windows marked dirty and clears the mark; call with
// f.mu held.
func (f *feature) takeMaint() *store.MaintenanceRewrite {
	if f.maintDirty == 0 {
		return nil
	}
	w := &store.MaintenanceRewrite{Key: f.key, From: f.maintDirty}
	for _, iv := range f.maint {
		if iv.start >= f.maintDirty {
			w.Windows = append(w.Windows, iv.record())
		}
	}
	f.maintDirty = 0
	return w
}

// record is the feature's store.FeatureRecord; call with f.mu held.
func (f *feature) record() store.FeatureRecord { return f.recordWith(encodeSpec(f.spec)) }

// recordWith is record with the spec's JSON already encoded.
func (f *feature) recordWith(spec []byte) store.FeatureRecord {
	return store.FeatureRecord{Spec: spec, Configured: f.configured, MaintFrom: f.maintFrom, MaintUntil: f.maintUntil}
}

// storeError wraps a store failure with the file it concerns.
func storeError(file, what string, err error) error {
	return fmt.Errorf("sla store %s: %s: %w", file, what, err)
}

// encodeSpec is the JSON a FeatureRecord carries of s: json.Marshal's of
// toSpecRecord(s), written by hand (specjson.go).
func encodeSpec(s FeatureSpec) []byte {
	// Written on the stack and copied: the copy is the exact size (a
	// spec's JSON is hard to size up front), and a spec of a few checks
	// costs no other allocation.
	var buf [1024]byte
	return bytes.Clone(appendSpecJSON(buf[:0], s))
}

// decodeSpec reads what encodeSpec wrote.
func decodeSpec(data []byte) (FeatureSpec, error) {
	var r specRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return FeatureSpec{}, err
	}
	return r.spec()
}

func (c counters) record() store.CounterRecord {
	return store.CounterRecord{Downtime: c.downtime, Degraded: c.degraded, Unmonitored: c.unmonitored,
		CompactedOutages: c.compactedOutages, At: c.at, DownAt: c.downAt, DownLead: c.downLead, DegradedLead: c.degradedLead}
}

func countersOf(r store.CounterRecord) counters {
	return counters{downtime: r.Downtime, degraded: r.Degraded, unmonitored: r.Unmonitored,
		compactedOutages: r.CompactedOutages, at: r.At, downAt: r.DownAt, downLead: r.DownLead, degradedLead: r.DegradedLead}
}

func (iv interval) record() store.Interval { return store.Interval{Start: iv.start, End: iv.end} }

func intervalOf(r store.Interval) interval { return interval{r.Start, r.End} }

func (o *outageRec) record() store.OutageRecord {
	return store.OutageRecord{ID: o.ID, Start: o.Start, End: o.End, Cause: store.Cause(o.Cause), ChecksFailed: o.ChecksFailed}
}

func outageOf(r store.OutageRecord) *outageRec {
	return &outageRec{ID: r.ID, Start: r.Start, End: r.End, Cause: Cause(r.Cause), ChecksFailed: r.ChecksFailed}
}

func (t transitionWrite) record(key string) store.KeyedTransition {
	return store.KeyedTransition{Key: key, At: t.at,
		Record: store.TransitionRecord{From: string(t.rec.From), To: string(t.rec.To), Reason: t.rec.Reason}}
}

// putInterval adds iv of kind for feature key to b.
func putInterval(b *store.Batch, kind store.IntervalKind, key string, iv interval) {
	b.Intervals = append(b.Intervals, store.KeyedInterval{Kind: kind, Key: key, Interval: iv.record()})
}

// putMachine adds feature key's machine state to b.
func putMachine(b *store.Batch, key string, state State, since int64) {
	b.Machines = append(b.Machines, store.KeyedMachine{Key: key, Record: store.MachineRecord{State: string(state), Since: since}})
}

// putCounters adds feature key's counters to b.
func putCounters(b *store.Batch, key string, c counters) {
	b.Counters = append(b.Counters, store.KeyedCounters{Key: key, Record: c.record()})
}

// putFeature adds feature key's record to b.
func putFeature(b *store.Batch, key string, rec store.FeatureRecord) {
	b.Features = append(b.Features, store.KeyedFeature{Key: key, Record: rec})
}

// putOutage adds a copy of o for feature key to b.
func putOutage(b *store.Batch, key string, o *outageRec) {
	b.Outages = append(b.Outages, store.KeyedOutage{Key: key, Record: o.record()})
}

// ErrStoreDamaged is matched (errors.Is) by the error of Open or
// OpenReadOnly when the store file's content, not the system, is at fault.
var ErrStoreDamaged = store.ErrDamaged
