package sla

import (
	"fmt"
	"maps"
	"slices"

	"github.com/vigil-monitoring/vigil/sla/store"
)

// load installs the history read from the store and returns the last
// heartbeat (0 if none). A history that contradicts itself is damage: a
// history silently missing parts would report wrong numbers.
func (e *Engine) load(h *store.History) (heartbeat int64, err error) {
	e.lastCompact = h.Compacted
	sets := labelSets{}
	for _, key := range slices.Sorted(maps.Keys(h.Features)) {
		if err := e.loadFeature(key, h.Features[key], sets); err != nil {
			return 0, err
		}
	}
	for key, rec := range h.Machines {
		f := e.feature(key)
		f.machine, f.machineSince = State(rec.State), rec.Since
	}
	for key, rec := range h.Counters {
		e.feature(key).counters = countersOf(rec)
	}
	maxID := h.OutageSeq
	for key, list := range h.Outages {
		f := e.feature(key)
		for _, r := range list {
			o := outageOf(r)
			maxID = max(maxID, o.ID)
			f.outages = append(f.outages, o)
			if o.End == openEnd {
				f.open = o
			}
		}
	}
	e.outageIDs.Store(maxID)
	for kind, lists := range h.Intervals {
		for key, list := range lists {
			f := e.feature(key)
			dst := [...]*[]interval{store.IntervalDegraded: &f.degraded, store.IntervalMaintenance: &f.maint, store.IntervalPresence: &f.presence}[kind]
			for _, iv := range list {
				*dst = append(*dst, intervalOf(iv))
			}
		}
	}
	for _, g := range h.Gaps {
		e.gaps = append(e.gaps, intervalOf(g))
	}
	if err := e.settleLoaded(); err != nil {
		return 0, err
	}
	return h.Heartbeat, nil
}

// loadFeature installs feature key's record.
func (e *Engine) loadFeature(key string, rec store.FeatureRecord, sets labelSets) error {
	spec, err := decodeSpec(rec.Spec)
	if err != nil {
		return store.Damaged(fmt.Errorf("feature %q spec: %w", key, err))
	}
	spec.Labels = sets.own(spec.Labels)
	f := e.feature(key)
	f.spec, f.configured = spec, rec.Configured
	f.maintFrom, f.maintUntil = rec.MaintFrom, rec.MaintUntil
	if f.schedule, err = parseMaintenance(spec.Maintenance); err != nil {
		return store.Damaged(fmt.Errorf("feature %s/%s: %w", spec.Service, spec.Feature, err))
	}
	f.checks = make([]checkState, len(spec.Checks))
	for i, cs := range spec.Checks {
		f.checks[i].setRule(cs, spec.FailureThreshold, spec.RecoveryThreshold)
	}
	return nil
}

// settleLoaded checks and settles what a crash may have left between
// records; call after loading them.
func (e *Engine) settleLoaded() error {
	for _, f := range e.features {
		// An open outage is the newest; anything else means a damaged store,
		// which the machine state below would contradict.
		if f.open != nil && f.outages[len(f.outages)-1] != f.open {
			return store.Damaged(fmt.Errorf("feature %s: open outage is not the newest", f.spec.Service+"/"+f.spec.Feature))
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
		f.startAfresh() // streaks start over; an open outage's checks are failing since its start
	}
	e.rebuildLists()
	return nil
}

// compactMemory drops from memory what ended before the retention horizon:
// outages, degraded spells, maintenance windows, presence spans and gaps,
// and features left with nothing. Counters keep their totals. Call with
// beatMu held (or before the engine is shared), never with writeMu.
//
// What it returns is the store's part: decided in memory first, so that the
// store part runs without holding any feature lock.
func (e *Engine) compactMemory(now int64) *store.Compaction {
	c := &store.Compaction{Now: now, Cutoff: now - int64(e.retention), Counters: map[string]store.CounterRecord{}}
	old := func(iv interval) bool { return c.IsOld(iv.end) }
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, f := range e.all {
		f.mu.Lock()
		n := 0
		for len(f.outages) > n && c.IsOld(f.outages[n].End) {
			n++
		}
		f.outages = slices.Clone(f.outages[n:])
		f.counters.compactedOutages += uint64(n)
		f.degraded = dropWhile(f.degraded, old)
		f.maint = dropWhile(f.maint, old)
		f.presence = dropWhile(f.presence, old)
		gone := !f.configured && len(f.presence) == 0 && len(f.outages) == 0
		if n > 0 {
			c.Counters[f.key] = f.counters.record()
		}
		f.mu.Unlock()
		if gone {
			c.Dropped = append(c.Dropped, f.key)
			delete(e.features, f.key)
		}
	}
	e.gaps = dropWhile(e.gaps, old)
	if len(c.Dropped) > 0 {
		e.rebuildLists()
	}
	e.lastCompact = now
	return c
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
