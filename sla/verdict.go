package sla

import (
	"slices"
	"time"
)

// tally is how a feature's checks stand: their confirmed states combined
// with `require` (DESIGN.md "SLA semantics").
type tally struct {
	considered, passing, failing, need int
	holds                              bool
	// recovering counts failing checks with a passing streak in progress.
	recovering int
	// slowest is the index of the slowest passing latest run, -1 if none.
	slowest int
}

// tally combines the checks' confirmed states. Blind and pending checks are
// left out; quorum N is capped at the checks considered.
func (f *feature) tally() tally {
	v := tally{slowest: -1}
	var slow time.Duration = -1
	for i := range f.checks {
		c := &f.checks[i]
		if c.blind {
			continue
		}
		if c.has && c.last.Success && c.last.Duration > slow {
			slow, v.slowest = c.last.Duration, i
		}
		switch c.conf {
		case confPassing:
			v.passing++
		case confFailing:
			v.failing++
			if c.passes > 0 {
				v.recovering++
			}
		default:
			continue
		}
		v.considered++
	}
	v.need = v.considered
	switch f.spec.Require.Mode {
	case RequireAny:
		v.need = 1
	case RequireQuorum:
		v.need = min(max(f.spec.Require.N, 1), v.considered)
	}
	v.holds = v.considered > 0 && v.passing >= v.need
	return v
}

// kthEdge returns the k-th smallest (from 1) of the edges the checks
// selected by pick offer, and the index of its check: the moment the
// requirement turned, given the backdated edges.
func (f *feature) kthEdge(k int, pick func(c *checkState) (int64, bool)) (int64, int) {
	var buf [16]int64
	edges := buf[:0]
	for i := range f.checks {
		if at, ok := pick(&f.checks[i]); ok && !f.checks[i].blind {
			edges = append(edges, at)
		}
	}
	if len(edges) == 0 {
		return 0, -1
	}
	slices.Sort(edges)
	at := edges[min(max(k, 1), len(edges))-1]
	for i := range f.checks {
		if e, ok := pick(&f.checks[i]); ok && e == at && !f.checks[i].blind {
			return at, i
		}
	}
	return at, -1
}

func failingEdge(c *checkState) (int64, bool) { return c.edge, c.conf == confFailing }

func passingEdge(c *checkState) (int64, bool) { return c.edge, c.conf == confPassing }

// recoveryEdge is where a check passes if its streak in progress is
// confirmed: its edge when passing, the streak's start when recovering.
func recoveryEdge(c *checkState) (int64, bool) {
	switch {
	case c.conf == confPassing:
		return c.edge, true
	case c.conf == confFailing && c.passes > 0:
		return c.passFrom, true
	}
	return 0, false
}

// current is the outage going on, opened or held, nil if none.
func (f *feature) current() *outageRec {
	if f.open != nil {
		return f.open
	}
	if n := len(f.held); n > 0 && f.held[n-1].End == openEnd {
		return f.held[n-1]
	}
	return nil
}

// decide runs the state machine on the checks' states at t (DESIGN.md "SLA
// semantics"): an outage opens when the requirement fails, from the moment
// it was lost given the backdated edges; it ends when the requirement holds
// again, at the moment it was regained. Call with f.mu held.
func (f *feature) decide(t int64, vantage int64) change {
	v := f.tally()
	if v.considered == 0 {
		return change{} // nothing confirmed yet: no verdict
	}
	var ch change
	prev, wasFresh := f.machine, f.fresh
	next := StateUp
	if v.failing > 0 || f.tooSlow(v) {
		next = StateDegraded
	}
	cur := f.current()
	if cur == nil && !v.holds {
		cur = f.openOutage(v, vantage, &ch)
	}
	switch {
	case cur == nil:
		f.machine = next
	case v.holds:
		f.closeOutage(cur, v, &ch)
		f.machine = next
	case v.passing+v.recovering >= v.need:
		f.recoverStart, _ = f.kthEdge(v.need, recoveryEdge)
		f.recoverStart = max(f.recoverStart, cur.Start)
		f.machine = StateRecovering
	default:
		f.machine = StateDown
	}
	if cur != nil && cur.End == openEnd && f.noteFailed(&cur.ChecksFailed) && f.open == cur && ch.outage == nil {
		ch.outage = cur
	}
	f.setReason(v)
	if f.machine != prev || !wasFresh {
		ch.transition, ch.from = true, prev
		if !wasFresh {
			ch.from = StateUnknown
			f.freshSince = t
		} else if prev != StateUnknown {
			f.noteChange(t)
		}
		if f.machine != prev {
			f.machineSince = t
		}
	}
	f.fresh = true
	f.followDegraded(t, &ch)
	return ch
}

// tooSlow reports whether the slowest passing latest run is over the
// latency objective.
func (f *feature) tooSlow(v tally) bool {
	return f.spec.Latency > 0 && v.slowest >= 0 && f.checks[v.slowest].last.Duration > f.spec.Latency
}

// followDegraded opens or closes the degraded spell as the machine says.
func (f *feature) followDegraded(t int64, ch *change) {
	n := len(f.degraded)
	spellOpen := n > 0 && f.degraded[n-1].end == openEnd
	if want := f.machine == StateDegraded; want != spellOpen {
		if want {
			f.degraded = append(f.degraded, interval{t, openEnd})
		} else {
			f.degraded[n-1].end = max(t, f.degraded[n-1].start)
			ch.degradedOld = true
		}
		ch.degraded = &f.degraded[len(f.degraded)-1]
	}
}

// openOutage opens an outage from the moment the requirement was lost: the
// k-th earliest edge of the failing checks, k being how many must fail to
// break the requirement. It is held instead while the vantage has not been
// shown good at or after that moment (vantage is how far it has).
func (f *feature) openOutage(v tally, vantage int64, ch *change) *outageRec {
	start, i := f.kthEdge(v.considered-v.need+1, failingEdge)
	if last := f.lastOutage(); last != nil {
		// Outages never overlap, and the store keys them by start.
		start = max(start, last.End, last.Start+1)
	}
	o := &outageRec{Start: start, End: openEnd}
	if i >= 0 {
		o.Cause = Cause{Check: f.spec.Checks[i].Name, Error: f.checks[i].cause}
	}
	if start > vantage {
		f.held = append(f.held, o)
		return o
	}
	f.open = o
	f.outages = append(f.outages, o)
	ch.outage, ch.outageOpen = o, true
	return o
}

// lastOutage is the latest outage, held ones included; nil if none.
func (f *feature) lastOutage() *outageRec {
	if n := len(f.held); n > 0 {
		return f.held[n-1]
	}
	if n := len(f.outages); n > 0 {
		return f.outages[n-1]
	}
	return nil
}

// closeOutage ends o at the moment the requirement was regained: the
// need-th earliest edge of the passing checks.
func (f *feature) closeOutage(o *outageRec, v tally, ch *change) {
	end, _ := f.kthEdge(v.need, passingEdge)
	o.End = max(end, o.Start)
	if f.open == o {
		f.open = nil
		ch.outage = o
	}
}

// noteFailed adds to *list the names of the checks confirmed failing that
// it lacks; it reports whether it added any.
func (f *feature) noteFailed(list *[]string) bool {
	added := false
	for i := range f.checks {
		name := f.spec.Checks[i].Name
		if f.checks[i].conf != confFailing || f.checks[i].blind || slices.Contains(*list, name) {
			continue
		}
		*list = append(*list, name)
		added = true
	}
	return added
}

// setReason records why the state is what it is.
func (f *feature) setReason(v tally) {
	r := reason{}
	if _, i := f.kthEdge(1, failingEdge); i >= 0 {
		r.check, r.err = f.spec.Checks[i].Name, f.checks[i].cause
	} else if f.tooSlow(v) {
		r.slow, r.latency = f.checks[v.slowest].last.Duration, f.spec.Latency
	}
	if f.machine == StateRecovering {
		for i := range f.checks {
			c := &f.checks[i]
			if c.conf == confFailing && c.passes > int(r.recovery) {
				r.rcheck, r.recovery, r.needed = f.spec.Checks[i].Name, int32(c.passes), int32(c.rt)
			}
		}
	}
	if f.reason == nil {
		if r == (reason{}) {
			return
		}
		f.reason = new(reason) // once: evaluations after this one allocate nothing
	}
	*f.reason = r
}
