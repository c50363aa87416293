package sla

import (
	"cmp"
	"fmt"
	"sync"
	"time"
)

// checkState is one check of a feature and its latest result in this run of
// the agent (results are not persisted: after a restart every check starts
// without one). Its spec is the feature's spec.Checks at the same index: one
// copy per check, not two.
type checkState struct {
	// staleAfter is 2 × interval + timeout: a latest result older than that,
	// relative to the evaluating result, counts as failed. 0: never stale.
	staleAfter int64
	lastStart  int64
	last       Observation
	has        bool
	// blind is true while the latest result is an agent fault
	// (Observation.AgentFault): the check says nothing about the service
	// until its next real result, and evaluations leave it out.
	blind bool
	// failing is scratch for the evaluation in progress.
	failing failKind
}

// failKind says why a check counts as failed in an evaluation.
type failKind uint8

const (
	notFailing failKind = iota
	failedRun
	staleResult
	noResult
)

// evaluation is the outcome of evaluating a feature at one result's start.
type evaluation struct {
	pass     bool
	degraded bool
	// firstFail is the index of the first failing check, -1 if none.
	firstFail int
	// slowest is the index of the slowest passing check, -1 if none.
	slowest int
}

// reason explains the latest evaluation. It is kept as parts and formatted
// only when read, so that the hot path does not allocate.
type reason struct {
	kind     failKind // notFailing: latency or nothing
	check    string
	err      string
	age      time.Duration // staleResult: age of the result
	slow     time.Duration // latency: slowest passing run
	latency  time.Duration // latency objective
	recovery int           // passing evaluations so far while recovering
	needed   int
}

func (r reason) String(state State) string {
	var s string
	switch r.kind {
	case failedRun:
		s = fmt.Sprintf("check %s failing: %s", r.check, r.err)
	case staleResult:
		s = fmt.Sprintf("check %s stale: latest result %s old", r.check, r.age.Round(time.Millisecond))
	case noResult:
		s = fmt.Sprintf("check %s has no result", r.check)
	default:
		if r.slow > 0 {
			s = fmt.Sprintf("slowest passing run %s over %s", r.slow.Round(time.Millisecond), r.latency)
		}
	}
	if state == StateRecovering {
		rec := fmt.Sprintf("recovering: %d of %d passing evaluations", r.recovery, r.needed)
		if s == "" {
			return rec
		}
		return rec + "; " + s
	}
	return s
}

// causeError is the error text an outage cause records for a failing check.
func (r reason) causeError() string {
	switch r.kind {
	case failedRun:
		return r.err
	case staleResult:
		return fmt.Sprintf("stale: latest result %s old", r.age)
	case noResult:
		return "no result"
	}
	return ""
}

// outageRec is an outage as kept in memory and in the store.
type outageRec struct {
	ID           uint64   `json:"id"`
	Start        int64    `json:"start"`
	End          int64    `json:"end"` // openEnd while open
	Cause        Cause    `json:"cause"`
	ChecksFailed []string `json:"checks_failed"`
}

// counters are the lifetime totals exported as Prometheus counters. Durations
// are accumulated up to at; the part from at to now is added when read.
// vigil_outages_total is the outages in memory plus those compacted away.
type counters struct {
	downtime         int64
	degraded         int64
	unmonitored      int64
	compactedOutages uint64
	at               int64
	// downAt is how far downtime has been accounted (<= at). While a feature
	// recovers, the open outage may still end at the start of recovery, so
	// downtime is accounted only up to there: a counter cannot take back time.
	downAt int64
	// downLead and degradedLead are how far downtime and degraded run ahead
	// of the durable record: after a crash a counter resumes from the most a
	// scrape may have seen (it cannot go back), which may include time the
	// record now calls unmonitored. Time the record adds later pays the lead
	// off first, so the counters never count it twice and stay within one
	// heartbeat interval of the report (DESIGN.md "SLA semantics").
	downLead     int64
	degradedLead int64
}

// credit adds x of the record's time to a counter that leads the record by
// *lead: the lead is used up first.
func credit(total, lead *int64, x int64) {
	paid := min(*lead, x)
	*lead -= paid
	*total += x - paid
}

// lift raises the downtime and degraded totals to at least seen's, the
// difference becoming lead.
func (c *counters) lift(seen counters) {
	if d := seen.downtime - c.downtime; d > 0 {
		c.downtime += d
		c.downLead += d
	}
	if d := seen.degraded - c.degraded; d > 0 {
		c.degraded += d
		c.degradedLead += d
	}
}

// sameTotals reports whether c and d export the same values and leads.
func (c counters) sameTotals(d counters) bool {
	return c.downtime == d.downtime && c.degraded == d.degraded && c.unmonitored == d.unmonitored &&
		c.downLead == d.downLead && c.degradedLead == d.degradedLead
}

// downtimeHorizon is how far downtime is final at now: up to the start of
// recovery while recovering (the outage ends there if recovery completes, or
// goes on if it fails), else now. Call with f.mu held.
func (f *feature) downtimeHorizon(now int64) int64 {
	if f.open != nil && f.machine == StateRecovering && f.machineSince < now {
		return f.machineSince
	}
	return now
}

// feature is one feature's spec, state machine and history. Its fields are
// guarded by mu; the engine's map of features by Engine.mu.
type feature struct {
	key string // service "\x00" feature: the store key prefix, sorts by service then feature

	mu   sync.Mutex
	spec FeatureSpec
	// shownDown and shownDegraded are the highest downtime and degraded
	// totals shown so far in this process: a counter never goes back.
	shownDown, shownDegraded int64
	// gen changes when the check list changes, so that a CheckRef from an
	// older Configure finds its check again by name (or not at all).
	gen uint64
	// checks are the states of spec.Checks, index for index.
	checks []checkState

	// The state machine. machine is never maintenance: maintenance is an
	// overlay from the maint intervals.
	machine      State
	machineSince int64
	reason       reason
	failStreak   int
	pendingStart int64
	pendingCause Cause
	pending      []string // checks failed during the pending streak
	passStreak   int
	recoverStart int64
	freshSince   int64 // see fresh
	// lastEval is the time of the latest evaluation.
	lastEval int64

	open     *outageRec   // the open outage, also the last of outages
	outages  []*outageRec // sorted by start
	degraded []interval   // spells in state degraded; the last may be open
	// presence are the spans the feature was configured and could be
	// checked; the last may be open. A configured feature's presence is cut
	// while one of its checks is blind (an agent fault): that time is
	// unmonitored, as is time the feature was not configured.
	presence []interval
	// blindSince is where the current cut in presence began; 0 when none.
	// blindDone is cut time since counters.at, ended, not yet in the
	// unmonitored counter: the next heartbeat accounts and persists it (a
	// crash before loses nothing, the gap since that heartbeat covers it).
	blindSince, blindDone int64

	maint      []interval     // materialized maintenance windows, sorted, merged
	maintFrom  int64          // the current maintenance schedule applies from here
	maintUntil int64          // windows are materialized up to here
	maintDirty int64          // windows starting at or after this need persisting; 0: none
	schedule   *maintSchedule // nil: no maintenance windows, as for most features

	counters counters

	// The flags are together: apart, each would take 8 bytes.
	configured  bool
	allReported bool
	// fresh is true once a result was evaluated in this run of the agent;
	// before that the state shows unknown.
	fresh bool
}

// clampThreshold returns n, or 1 when n is below 1.
func clampThreshold(n int) int { return max(n, 1) }

// checkIndex returns the index of the check named name, -1 if none.
func (f *feature) checkIndex(name string) int {
	for i := range f.checks {
		if f.spec.Checks[i].Name == name {
			return i
		}
	}
	return -1
}

// evaluate combines the latest result of every check as seen at time t.
func (f *feature) evaluate(t int64) evaluation {
	ev := evaluation{firstFail: -1, slowest: -1}
	passes, considered := 0, 0
	var slowest time.Duration = -1
	for i := range f.checks {
		c := &f.checks[i]
		c.failing = notFailing
		switch {
		case c.blind:
			continue // an agent fault says nothing about the service
		case !c.has:
			if !f.allReported {
				continue // before every check has reported, judge only those that have
			}
			c.failing = noResult
		case c.staleAfter > 0 && t-c.lastStart > c.staleAfter:
			c.failing = staleResult
		case !c.last.Success:
			c.failing = failedRun
		}
		considered++
		if c.failing != notFailing {
			if ev.firstFail < 0 {
				ev.firstFail = i
			}
			continue
		}
		passes++
		if c.last.Duration > slowest {
			slowest, ev.slowest = c.last.Duration, i
		}
	}
	need := considered
	switch f.spec.Require.Mode {
	case RequireAny:
		need = 1
	case RequireQuorum:
		need = min(max(f.spec.Require.N, 1), considered)
	}
	ev.pass = considered > 0 && passes >= need
	if ev.pass {
		ev.degraded = ev.firstFail >= 0 || (f.spec.Latency > 0 && slowest > f.spec.Latency)
	}
	f.setReason(ev, t)
	return ev
}

// setReason records why the evaluation came out as it did.
func (f *feature) setReason(ev evaluation, t int64) {
	r := reason{kind: notFailing}
	if ev.firstFail >= 0 {
		c := &f.checks[ev.firstFail]
		r.kind, r.check = c.failing, f.spec.Checks[ev.firstFail].Name
		switch c.failing {
		case failedRun:
			r.err = c.last.Error
		case staleResult:
			r.age = time.Duration(t - c.lastStart)
		}
	} else if ev.pass && ev.degraded && ev.slowest >= 0 {
		r.slow, r.latency = f.checks[ev.slowest].last.Duration, f.spec.Latency
	}
	f.reason = r
}

// change collects what one evaluation changed, for the store.
type change struct {
	transition  bool
	from        State
	outage      *outageRec // opened, closed or grown
	outageOpen  bool       // the outage was opened by this evaluation
	degraded    *interval  // the degraded spell opened or closed
	degradedOld bool
	presence    *interval // the presence span cut or begun again (agent faults)
}

// cut begins a cut in presence at t when a check turns blind, and returns
// the span it ended; nil if the feature was cut already. Call with f.mu held.
func (f *feature) cut(t int64) *interval {
	n := len(f.presence)
	if f.blindSince != 0 || !f.configured || n == 0 || f.presence[n-1].end != openEnd {
		return nil
	}
	// Not before the time the counters have accounted: they never take
	// time back, and the report must agree with them.
	at := max(t, f.counters.at, f.presence[n-1].start)
	f.presence[n-1].end = at
	f.blindSince = at
	return &f.presence[n-1]
}

// uncut ends the cut in presence at t once no check is blind, and returns
// the new span; nil if nothing changed. Call with f.mu held.
func (f *feature) uncut(t int64) *interval {
	if f.blindSince == 0 {
		return nil
	}
	for i := range f.checks {
		if f.checks[i].blind {
			return nil
		}
	}
	at := max(t, f.counters.at, f.blindSince)
	f.blindDone += at - max(f.counters.at, f.blindSince)
	f.blindSince = 0
	f.presence = append(f.presence, interval{at, openEnd})
	return &f.presence[len(f.presence)-1]
}

// blindReason explains a cut: "agent: too many open files (check api)".
func (f *feature) blindReason() string {
	for i := range f.checks {
		if c := &f.checks[i]; c.blind {
			return fmt.Sprintf("agent: %s (check %s)", c.last.AgentFault, f.spec.Checks[i].Name)
		}
	}
	return "agent: checks could not run"
}

// The state machine's rows: up, degraded and unknown behave alike (healthy).
const (
	rowHealthy = iota
	rowDown
	rowRecovering
)

// machineRow is the row of the transition table for state.
func machineRow(state State) int {
	switch state {
	case StateDown:
		return rowDown
	case StateRecovering:
		return rowRecovering
	}
	return rowHealthy
}

// transition is a cell of the state machine's table: the machine's row and
// whether the evaluation passed.
type transition struct {
	row    int
	passed bool
}

// step feeds one evaluation at time t into the state machine. The switch is
// the transition table: by the machine's row and whether the evaluation
// passed, what one evaluation does (next is up or degraded, as the
// evaluation says). Each returns the outage to write, if any, and whether it
// was opened; while an outage is open every evaluation adds its failing
// checks to the outage's list. (A switch rather than a table of funcs: direct
// calls keep the per-result path as fast as before.)
func (f *feature) step(t int64, ev evaluation) change {
	var ch change
	prev, wasFresh := f.machine, f.fresh
	next := StateUp
	if ev.degraded {
		next = StateDegraded
	}
	switch (transition{machineRow(f.machine), ev.pass}) {
	case transition{rowHealthy, true}:
		ch.outage, ch.outageOpen = f.passWhileHealthy(next)
	case transition{rowHealthy, false}:
		ch.outage, ch.outageOpen = f.failWhileHealthy(t)
	case transition{rowDown, true}:
		ch.outage, ch.outageOpen = f.passWhileDown(t, next)
	case transition{rowDown, false}:
		ch.outage, ch.outageOpen = f.failWhileDown()
	case transition{rowRecovering, true}:
		ch.outage, ch.outageOpen = f.passWhileRecovering(next)
	case transition{rowRecovering, false}:
		ch.outage, ch.outageOpen = f.failWhileRecovering()
	}
	f.reason.recovery, f.reason.needed = f.passStreak, clampThreshold(f.spec.RecoveryThreshold)
	if f.machine != prev || !wasFresh {
		ch.transition, ch.from = true, prev
		if !wasFresh {
			ch.from = StateUnknown
			f.freshSince = t
		}
		if f.machine != prev {
			f.machineSince = t
		}
	}
	f.fresh = true

	// A degraded spell runs while the machine is degraded.
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
	return ch
}

// passWhileHealthy: the failure streak, if any, is over.
func (f *feature) passWhileHealthy(next State) (*outageRec, bool) {
	f.failStreak = 0
	f.machine = next
	return nil, false
}

// failWhileHealthy extends the failure streak (its start and cause are the
// first failing evaluation's) and opens an outage when it reaches the
// failure threshold.
func (f *feature) failWhileHealthy(t int64) (*outageRec, bool) {
	if f.failStreak == 0 {
		f.pendingStart = t
		f.pendingCause = Cause{Check: f.reason.check, Error: f.reason.causeError()}
		f.pending = f.pending[:0]
	}
	f.failStreak++
	f.noteFailed(&f.pending)
	if f.failStreak < clampThreshold(f.spec.FailureThreshold) {
		return nil, false
	}
	start := f.pendingStart
	if k := len(f.outages); k > 0 && start <= f.outages[k-1].Start {
		// The last outage opened and closed at this very instant
		// (evaluations out of order share a time): the store keys
		// outages by start, and this one must not replace it.
		start = f.outages[k-1].Start + 1
	}
	o := &outageRec{Start: start, End: openEnd, Cause: f.pendingCause,
		ChecksFailed: append([]string(nil), f.pending...)}
	f.open = o
	f.outages = append(f.outages, o)
	f.failStreak = 0
	f.machine = StateDown
	return o, true
}

// failWhileDown: the outage goes on.
func (f *feature) failWhileDown() (*outageRec, bool) { return f.noteOutageChecks(), false }

// passWhileDown starts recovery (which a recovery threshold of 1 completes
// at once).
func (f *feature) passWhileDown(t int64, next State) (*outageRec, bool) {
	o := f.noteOutageChecks()
	f.recoverStart, f.passStreak = t, 0
	f.machine = StateRecovering
	return cmp.Or(f.extendRecovery(next), o), false
}

// failWhileRecovering: the outage goes on as if recovery had not begun.
func (f *feature) failWhileRecovering() (*outageRec, bool) {
	o := f.noteOutageChecks()
	f.passStreak = 0
	f.machine = StateDown
	return o, false
}

// passWhileRecovering: recovery goes on.
func (f *feature) passWhileRecovering(next State) (*outageRec, bool) {
	o := f.noteOutageChecks()
	return cmp.Or(f.extendRecovery(next), o), false
}

// extendRecovery extends the recovery streak and closes the outage when it
// reaches the recovery threshold; it returns the outage if it closed it.
func (f *feature) extendRecovery(next State) *outageRec {
	f.passStreak++
	if f.passStreak < clampThreshold(f.spec.RecoveryThreshold) {
		return nil
	}
	f.machine = next
	return f.closeOutage()
}

// noteOutageChecks adds the checks failing now to the open outage's list;
// it returns the outage if that changed it (to be written).
func (f *feature) noteOutageChecks() *outageRec {
	if f.noteFailed(&f.open.ChecksFailed) {
		return f.open
	}
	return nil
}

// noteFailed adds to *list the names of the checks failing in the current
// evaluation that it lacks; it reports whether it added any.
func (f *feature) noteFailed(list *[]string) bool {
	added := false
	for i := range f.checks {
		name := f.spec.Checks[i].Name
		if f.checks[i].failing == notFailing || containsString(*list, name) {
			continue
		}
		*list = append(*list, name)
		added = true
	}
	return added
}

// closeOutage ends the open outage at the first passing evaluation of the
// recovery streak.
func (f *feature) closeOutage() *outageRec {
	o := f.open
	o.End = max(f.recoverStart, o.Start)
	f.open = nil
	f.passStreak = 0
	return o
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// shownState is the state as users see it at now: unknown while a check is
// blind, maintenance when inside a window, unknown until the first result of
// this run, else the machine's.
func (f *feature) shownState(now int64) (State, int64) {
	if f.blindSince != 0 {
		return StateUnknown, f.blindSince // unmonitored comes first, as in the ledger
	}
	if i := maintIndex(f.maint, now); i >= 0 {
		return StateMaintenance, f.maint[i].start
	}
	if !f.fresh || f.machine == StateUnknown {
		since := f.freshSince
		if len(f.presence) > 0 {
			since = max(since, f.presence[len(f.presence)-1].start)
		}
		return StateUnknown, since
	}
	since := max(f.machineSince, f.freshSince)
	if end := lastEndBefore(f.maint, now); end > since {
		since = end // the state shows again since the last window ended
	}
	return f.machine, since
}

// maintIndex returns the index of the window holding t, -1 if none.
func maintIndex(list []interval, t int64) int {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].start <= t {
			if t < list[i].end {
				return i
			}
			return -1
		}
	}
	return -1
}

// lastEndBefore returns the end of the last window ended at or before t, 0 if none.
func lastEndBefore(list []interval, t int64) int64 {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].end <= t {
			return list[i].end
		}
	}
	return 0
}
