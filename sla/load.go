package sla

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"
)

// load reads the whole history from the store into memory and returns the
// last heartbeat (0 if none). Any record it cannot read is an error naming
// the bucket and key: a history silently missing parts would report wrong
// numbers.
func (e *Engine) load(tx *bbolt.Tx) (heartbeat int64, err error) {
	meta := tx.Bucket(bucketMeta)
	if f := meta.Get(keyFormat); f != nil && string(f) != storeFormat {
		return 0, fmt.Errorf("store format %q, this vigil reads %q", f, storeFormat)
	}
	if hb := meta.Get(keyHeartbeat); len(hb) == 8 {
		heartbeat = get64(hb)
	}
	if c := meta.Get(keyCompacted); len(c) == 8 {
		e.lastCompact = get64(c)
	}
	bad := func(bucket []byte, key []byte, err error) error {
		return damaged(fmt.Errorf("bucket %s key %q: %w", bucket, key, err))
	}

	sets := labelSets{}
	err = tx.Bucket(bucketFeatures).ForEach(func(k, v []byte) error {
		var rec featureRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return bad(bucketFeatures, k, err)
		}
		spec, err := rec.Spec.spec()
		if err != nil {
			return bad(bucketFeatures, k, err)
		}
		spec.Labels = sets.own(spec.Labels)
		f := e.feature(string(k))
		f.spec, f.configured = spec, rec.Configured
		f.maintFrom, f.maintUntil = rec.MaintFrom, rec.MaintUntil
		if f.schedule, err = parseMaintenance(spec.Maintenance); err != nil {
			return bad(bucketFeatures, k, err)
		}
		f.checks = make([]checkState, len(spec.Checks))
		for i, cs := range spec.Checks {
			f.checks[i] = checkState{staleAfter: int64(2*cs.Interval + cs.Timeout)}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	err = tx.Bucket(bucketMachine).ForEach(func(k, v []byte) error {
		var rec machineRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return bad(bucketMachine, k, err)
		}
		f := e.feature(string(k))
		f.machine, f.machineSince = rec.State, rec.Since
		return nil
	})
	if err != nil {
		return 0, err
	}
	err = tx.Bucket(bucketCounters).ForEach(func(k, v []byte) error {
		if len(v) != 40 && len(v) != 48 && len(v) != 64 {
			return bad(bucketCounters, k, fmt.Errorf("value of %d bytes, want 64", len(v)))
		}
		f := e.feature(string(k))
		f.counters = counters{downtime: get64(v), degraded: get64(v[8:]), unmonitored: get64(v[16:]),
			compactedOutages: uint64(get64(v[24:])), at: get64(v[32:])}
		f.counters.downAt = f.counters.at
		if len(v) >= 48 {
			f.counters.downAt = get64(v[40:])
		}
		if len(v) == 64 {
			f.counters.downLead, f.counters.degradedLead = get64(v[48:]), get64(v[56:])
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	err = tx.Bucket(bucketOutages).ForEach(func(k, v []byte) error {
		fkey, _, ok := splitTimeKey(k)
		if !ok {
			return bad(bucketOutages, k, fmt.Errorf("malformed key"))
		}
		o := &outageRec{}
		if err := json.Unmarshal(v, o); err != nil {
			return bad(bucketOutages, k, err)
		}
		f := e.feature(fkey)
		e.commits.outageIDs.Store(max(e.commits.outageIDs.Load(), o.ID))
		f.outages = append(f.outages, o)
		if o.End == openEnd {
			f.open = o
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	e.commits.outageIDs.Store(max(e.commits.outageIDs.Load(), tx.Bucket(bucketOutages).Sequence()))
	intervals := []struct {
		bucket []byte
		list   func(f *feature) *[]interval
	}{
		{bucketDegraded, func(f *feature) *[]interval { return &f.degraded }},
		{bucketMaint, func(f *feature) *[]interval { return &f.maint }},
		{bucketPresence, func(f *feature) *[]interval { return &f.presence }},
	}
	for _, b := range intervals {
		err = tx.Bucket(b.bucket).ForEach(func(k, v []byte) error {
			fkey, start, ok := splitTimeKey(k)
			if !ok || len(v) != 8 {
				return bad(b.bucket, k, fmt.Errorf("malformed record"))
			}
			list := b.list(e.feature(fkey))
			*list = append(*list, interval{start, get64(v)})
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	err = tx.Bucket(bucketGaps).ForEach(func(k, v []byte) error {
		if len(k) != 8 || len(v) != 8 {
			return bad(bucketGaps, k, fmt.Errorf("malformed record"))
		}
		e.gaps = append(e.gaps, interval{get64(k), get64(v)})
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, f := range e.features {
		// An open outage is the newest; anything else means a damaged store,
		// which the machine state below would contradict.
		if f.open != nil && f.outages[len(f.outages)-1] != f.open {
			return 0, damaged(fmt.Errorf("feature %s: open outage is not the newest", f.spec.Service+"/"+f.spec.Feature))
		}
		if f.open != nil && f.machine != StateDown && f.machine != StateRecovering {
			f.machine = StateDown // the outage record was written, its transition was lost
		}
		if f.open == nil && (f.machine == StateDown || f.machine == StateRecovering) {
			f.machine = StateUp
		}
		if f.configured && len(f.presence) == 0 {
			// Configure writes both in one transaction; only damage parts
			// them. Unconfigured, the next Configure opens a span again.
			// (A configured feature's last span may be closed: an agent
			// fault cut it, and resume opens it again.)
			f.configured = false
		}
		f.maint = slices.Clip(f.maint)
		f.lastEval = max(f.lastEval, f.machineSince)
	}
	e.rebuildLists()
	e.refreshMetricLabels()
	return heartbeat, nil
}

// splitTimeKey splits featureKey "\x00" be64(t).
func splitTimeKey(k []byte) (string, int64, bool) {
	if len(k) < 10 || k[len(k)-9] != 0 || bytes.IndexByte(k[:len(k)-9], 0) < 0 {
		return "", 0, false
	}
	return string(k[:len(k)-9]), get64(k[len(k)-8:]), true
}

// compaction is what one compaction removes, decided in memory first so
// that the store part runs without holding any feature lock.
type compaction struct {
	now, cutoff int64
	dropped     []string // features gone entirely
	counters    map[string]counters
}

// compactMemory drops from memory what ended before the retention horizon:
// outages, degraded spells, maintenance windows, presence spans and gaps,
// and features left with nothing. Counters keep their totals. Call with
// beatMu held (or before the engine is shared), never with writeMu.
func (e *Engine) compactMemory(now int64) *compaction {
	c := &compaction{now: now, cutoff: now - int64(e.retention), counters: map[string]counters{}}
	old := func(iv interval) bool { return iv.end != openEnd && iv.end < c.cutoff }
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, f := range e.all {
		f.mu.Lock()
		n := 0
		for len(f.outages) > n && f.outages[n].End != openEnd && f.outages[n].End < c.cutoff {
			n++
		}
		f.outages = slices.Clone(f.outages[n:])
		f.counters.compactedOutages += uint64(n)
		f.degraded = dropWhile(f.degraded, old)
		f.maint = dropWhile(f.maint, old)
		f.presence = dropWhile(f.presence, old)
		gone := !f.configured && len(f.presence) == 0 && len(f.outages) == 0
		if n > 0 {
			c.counters[f.key] = f.counters
		}
		f.mu.Unlock()
		if gone {
			c.dropped = append(c.dropped, f.key)
			delete(e.features, f.key)
		}
	}
	e.gaps = dropWhile(e.gaps, old)
	if len(c.dropped) > 0 {
		e.rebuildLists()
	}
	e.lastCompact = now
	return c
}

// apply removes from the store what compactMemory removed from memory, by
// the same rules, plus transitions older than the horizon.
func (c *compaction) apply(tx *bbolt.Tx) error {
	old := func(end int64) bool { return end != openEnd && end < c.cutoff }
	for key, cnt := range c.counters {
		if err := putCounters(tx, key, cnt); err != nil {
			return err
		}
	}
	keepOutage := func(_, v []byte) bool {
		var o outageRec
		return json.Unmarshal(v, &o) != nil || !old(o.End)
	}
	keepInterval := func(_, v []byte) bool { return len(v) != 8 || !old(get64(v)) }
	keepTransition := func(k, _ []byte) bool { return len(k) < 16 || get64(k[len(k)-16:]) >= c.cutoff }
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
	for _, key := range c.dropped {
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
	return tx.Bucket(bucketMeta).Put(keyCompacted, be64(c.now))
}

// dropWhile removes the leading intervals for which old is true.
func dropWhile(list []interval, old func(interval) bool) []interval {
	n := 0
	for n < len(list) && old(list[n]) {
		n++
	}
	if n == 0 {
		return list
	}
	return slices.Clone(list[n:])
}
