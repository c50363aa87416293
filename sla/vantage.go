package sla

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// vantage is the agent's own network as its canaries see it (DESIGN.md "SLA
// semantics", vantage canaries). The canaries are the checks of a feature of
// their own, f, never stored: each confirms its state as any check does, and
// `canary_require` combines them. While the requirement fails the vantage
// is impaired, from the moment it was lost given the backdated edges, to the
// moment it was regained.
//
// Locks: f.mu guards the canaries and the state; applyMu orders the effects
// on features (taken while f.mu is held, then f.mu is let go); features read
// only the atomics, so a feature's lock is never held while waiting for f.mu.
type vantage struct {
	e *Engine
	f *feature

	applyMu sync.Mutex
	// good is how far the canaries have shown the network good: an outage
	// starting later is held until they do (math.MaxInt64: no canaries).
	good atomic.Int64
	// hold is how far figures may be final while an impairment, or the end
	// of one, may still be confirmed with a backdated edge.
	hold atomic.Int64
	// impairedAt is where the current impairment began, 0 if none.
	impairedAt atomic.Int64
	why        atomic.Pointer[string]

	// Guarded by f.mu.
	impaired bool
	since    int64

	heldMu sync.Mutex
	heldBy map[*feature]struct{} // features with held outages
}

func newVantage(e *Engine) *vantage {
	v := &vantage{e: e, heldBy: map[*feature]struct{}{}}
	v.f = &feature{key: "\x00vantage", machine: StateUnknown, maintUntil: never, configured: true}
	v.f.spec.Service, v.f.spec.Feature = "_agent", "vantage"
	v.good.Store(math.MaxInt64)
	v.hold.Store(math.MaxInt64)
	return v
}

// ConfigureVantage sets the agent's canaries (VantageSpec). Call it before
// Configure on every load and reload; an empty list turns the vantage off.
func (e *Engine) ConfigureVantage(spec VantageSpec) error {
	fs := FeatureSpec{Service: "_agent", Feature: "vantage", Require: spec.Require, Checks: spec.Canaries,
		FailureThreshold: spec.FailureThreshold, RecoveryThreshold: spec.RecoveryThreshold}
	if len(spec.Canaries) > 0 {
		if err := validateSpec(fs); err != nil {
			return fmt.Errorf("agent.canaries: %w", err)
		}
	}
	v := e.vantage
	vf := v.f
	vf.mu.Lock()
	vf.setChecks(fs)
	restore := v.impaired && len(spec.Canaries) == 0
	if restore {
		v.impaired = false
		v.since = e.nowNanos()
	}
	v.publish()
	v.applyMu.Lock()
	vf.mu.Unlock()
	defer v.applyMu.Unlock()
	if restore {
		v.restoreAll(e.nowNanos())
	}
	return nil
}

// setChecks installs the canaries' spec, keeping the state of those kept.
// Call with f.mu held.
func (f *feature) setChecks(s FeatureSpec) {
	old, oldSpecs := f.checks, f.spec.Checks
	f.checks = make([]checkState, len(s.Checks))
	for i, cs := range s.Checks {
		for j := range old {
			if oldSpecs[j].Name == cs.Name {
				f.checks[i] = old[j] // keep the state across reloads
			}
		}
		f.checks[i].setRule(cs, s.FailureThreshold, s.RecoveryThreshold)
	}
	f.spec = cloneSpec(s)
	f.gen++
}

// Canary returns a handle for observing a canary's results, nil if no
// canary has that name.
func (e *Engine) Canary(name string) *CheckRef {
	vf := e.vantage.f
	vf.mu.Lock()
	defer vf.mu.Unlock()
	idx := vf.checkIndex(name)
	if idx < 0 {
		return nil
	}
	return &CheckRef{e: e, f: vf, idx: idx, gen: vf.gen, name: name, canary: true}
}

// observeCanary feeds a canary's result. Call with r.f.mu held; it lets
// it go.
func (r *CheckRef) observeCanary(o Observation) {
	v, vf := r.e.vantage, r.f
	idx := r.idx
	if vf.gen != r.gen {
		idx = vf.checkIndex(r.name) // a reload changed the canaries
	}
	if idx < 0 || r.e.readOnly || r.e.closed.Load() {
		vf.mu.Unlock()
		return
	}
	t := o.Start.UnixNano()
	c := &vf.checks[idx]
	if c.has && t < c.lastStart {
		vf.mu.Unlock()
		return
	}
	var events []vantageEvent
	c.has, c.lastStart, c.last = true, t, o
	c.blind = o.AgentFault != ""
	if !c.blind {
		events = v.feed(idx, t, o.Success, o.Error, events)
	}
	v.settle(events)
}

// catchUp feeds the canaries' stale results due before t. Call with f.mu
// held.
func (v *vantage) catchUp(t int64, events []vantageEvent) []vantageEvent {
	vf := v.f
	for {
		i, due := -1, int64(0)
		for k := range vf.checks {
			if d := vf.checks[k].staleDue(); d != 0 && d < t && (i < 0 || d < due) {
				i, due = k, d
			}
		}
		if i < 0 || vf.skipStale(t) {
			return events
		}
		s := &vf.checks[i]
		s.lastStart, s.last = due, s.staleObservation(due)
		events = v.feed(i, due, false, s.last.Error, events)
	}
}

// settle publishes the vantage, lets f.mu go (call with it held) and
// carries events out on the features, then opens the held outages the
// canaries now vouch for.
func (v *vantage) settle(events []vantageEvent) {
	v.publish()
	good := v.good.Load()
	v.applyMu.Lock()
	v.f.mu.Unlock()
	defer v.applyMu.Unlock()
	for _, ev := range events {
		if ev.impaired {
			v.impairAll(ev.at)
		} else {
			v.restoreAll(ev.at)
		}
	}
	if !v.isImpaired() {
		v.commitAll(good)
	}
}

// catchUpAll feeds the stale results due before t, the canaries' first: the
// heartbeat's part. The edges are backdated, so finding a silence late
// changes when it is known, not the record.
func (e *Engine) catchUpAll(t int64) {
	v := e.vantage
	v.f.mu.Lock()
	v.settle(v.catchUp(t, nil))
	for _, f := range v.features() {
		f.mu.Lock()
		if !f.impaired && f.configured {
			f.catchUpStale(t, e)
		}
		f.mu.Unlock()
	}
}

// isImpaired reads whether the vantage is impaired without f.mu.
func (v *vantage) isImpaired() bool { return v.impairedAt.Load() != 0 }

// vantageEvent is the vantage lost (impaired) or regained at a moment.
type vantageEvent struct {
	impaired bool
	at       int64
}

// feed runs one canary run through its confirmation and the requirement.
// Call with f.mu held.
func (v *vantage) feed(idx int, s int64, ok bool, err string, events []vantageEvent) []vantageEvent {
	vf := v.f
	c := &vf.checks[idx]
	c.run(s, ok, err)
	if ok {
		c.lastPass = s
	}
	tl := vf.tally()
	if tl.considered == 0 {
		return events
	}
	switch {
	case !v.impaired && !tl.holds:
		at, i := vf.kthEdge(tl.considered-tl.need+1, failingEdge)
		at = max(at, v.since)
		v.impaired, v.since = true, at
		why := fmt.Sprintf("canary %s failing: %s", vf.spec.Checks[i].Name, vf.checks[i].cause)
		v.why.Store(&why)
		v.impairedAt.Store(at)
		events = append(events, vantageEvent{true, at})
	case v.impaired && tl.holds:
		at, _ := vf.kthEdge(tl.need, passingEdge)
		at = max(at, v.since)
		v.impaired, v.since = false, at
		v.impairedAt.Store(0)
		events = append(events, vantageEvent{false, at})
	}
	return events
}

// publish stores how far the canaries vouch for the network (good) and how
// far figures may be final (hold). Call with f.mu held.
func (v *vantage) publish() {
	vf := v.f
	if len(vf.checks) == 0 {
		v.good.Store(math.MaxInt64)
		v.hold.Store(math.MaxInt64)
		return
	}
	hold := int64(math.MaxInt64)
	for i := range vf.checks {
		c := &vf.checks[i]
		if c.blind {
			continue
		}
		if v.impaired {
			if at, ok := recoveryEdge(c); ok && c.conf == confFailing {
				hold = min(hold, at)
			}
		} else if at, ok := c.pendingFailure(); ok {
			hold = min(hold, at)
		}
	}
	v.hold.Store(hold)
	tl := vf.tally()
	good := int64(0)
	if !v.impaired && tl.considered > 0 {
		// The need-th latest passing run among the canaries.
		good, _ = vf.kthEdge(tl.considered-tl.need+1, func(c *checkState) (int64, bool) {
			return c.lastPass, c.conf != confPending
		})
	}
	v.good.Store(good)
}

// vantageGood is how far the canaries have shown the network good.
func (f *feature) vantageGood() int64 {
	if f.vantage == nil {
		return math.MaxInt64
	}
	return f.vantage.good.Load()
}

// features returns the configured features.
func (v *vantage) features() []*feature {
	v.e.mu.RLock()
	defer v.e.mu.RUnlock()
	return v.e.configured
}

// impairAll cuts every feature's presence from at: its time is unmonitored,
// outages held for the vantage are dropped (their failures were the
// agent's), and its results are not evaluated until the vantage is back.
func (v *vantage) impairAll(at int64) {
	v.heldMu.Lock()
	clear(v.heldBy)
	v.heldMu.Unlock()
	for _, f := range v.features() {
		f.mu.Lock()
		if ch := f.impair(at); ch.any() {
			v.e.persist(f, ch)
		}
		f.mu.Unlock()
	}
}

// impair starts the feature's impairment at at. Call with f.mu held.
func (f *feature) impair(at int64) change {
	var ch change
	f.held = nil
	if f.impaired || !f.configured {
		return ch
	}
	f.impaired = true
	ch.presence = f.cut(at)
	if spell := f.endSpellsAt(max(at, f.counters.at)); spell != nil {
		ch.degraded, ch.degradedOld = spell, true
	}
	return ch
}

// restoreAll ends every feature's impairment at at; each is evaluated
// afresh from its next result.
func (v *vantage) restoreAll(at int64) {
	for _, f := range v.features() {
		f.mu.Lock()
		if ch := f.restore(at); ch.any() {
			v.e.persist(f, ch)
		}
		f.mu.Unlock()
	}
}

// restore ends the feature's impairment at at. Call with f.mu held.
func (f *feature) restore(at int64) change {
	var ch change
	if !f.impaired {
		return ch
	}
	f.impaired = false
	f.startAfresh()
	if f.machine == StateRecovering {
		f.machine = StateDown // recovery starts over, as after a restart
	}
	ch.presence = f.uncut(at)
	return ch
}

// startAfresh forgets the checks' streaks, as after a restart: the state is
// unknown until the next result, and an open outage's recovery must be
// confirmed again. Call with f.mu held.
func (f *feature) startAfresh() {
	var open int64
	if f.open != nil {
		open = f.open.Start
	}
	for i := range f.checks {
		f.checks[i].restart(open)
	}
	f.held = nil
	f.fresh = false
}

// hold registers f as holding outages for the vantage. Call with f.mu held.
func (v *vantage) holdFor(f *feature) {
	v.heldMu.Lock()
	v.heldBy[f] = struct{}{}
	v.heldMu.Unlock()
}

// commitAll opens the held outages the canaries now vouch for.
func (v *vantage) commitAll(good int64) {
	v.heldMu.Lock()
	list := make([]*feature, 0, len(v.heldBy))
	for f := range v.heldBy {
		list = append(list, f)
	}
	v.heldMu.Unlock()
	for _, f := range list {
		f.mu.Lock()
		f.commitHeld(good, v.e)
		if len(f.held) == 0 {
			v.heldMu.Lock()
			delete(v.heldBy, f)
			v.heldMu.Unlock()
		}
		f.mu.Unlock()
	}
}

// commitHeld opens the held outages that start at or before good, in order,
// writing each. Call with f.mu held.
func (f *feature) commitHeld(good int64, e *Engine) {
	for len(f.held) > 0 && f.held[0].Start <= good {
		o := f.held[0]
		f.held = f.held[1:]
		f.outages = append(f.outages, o)
		if o.End == openEnd {
			f.open = o
		}
		e.persist(f, change{outage: o, outageOpen: true})
	}
	if len(f.held) == 0 {
		f.held = nil
	}
}

// Vantage returns the agent's vantage as its canaries see it.
func (e *Engine) Vantage() VantageStatus {
	v := e.vantage
	vf := v.f
	vf.mu.Lock()
	defer vf.mu.Unlock()
	s := VantageStatus{Configured: len(vf.checks) > 0, Up: !v.impaired, Canaries: []CheckStatus{}}
	if v.since != 0 {
		s.Since = timeOf(v.since)
	}
	if v.impaired {
		s.Reason = v.reason()
	}
	for i := range vf.checks {
		s.Canaries = append(s.Canaries, checkStatus(&vf.checks[i], &vf.spec.Checks[i]))
	}
	return s
}

// reason is why the vantage is impaired.
func (v *vantage) reason() string {
	if p := v.why.Load(); p != nil {
		return *p
	}
	return "canaries failing"
}

// checkStatus is a check's latest result for the API.
func checkStatus(c *checkState, spec *CheckSpec) CheckStatus {
	cs := CheckStatus{Name: spec.Name, Kind: spec.Kind}
	if c.has {
		start := c.last.Start
		cs.LastRun, cs.Up = &start, c.last.Success
		cs.DurationSeconds, cs.Error = c.last.Duration.Seconds(), c.last.Error
		cs.AgentFault, cs.Screenshot = c.last.AgentFault, c.last.Artifact
	}
	return cs
}
