package sla

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// reason explains the latest evaluation. It is kept as parts and formatted
// only when read, so that the hot path does not allocate.
type reason struct {
	check   string // the failing check with the earliest edge, or the recovering one
	err     string
	slow    time.Duration // latency: slowest passing run
	latency time.Duration // latency objective
	// recovering: passing runs so far of check, of needed. int32: a
	// feature's state is held per feature, and these are small.
	recovery, needed int32
	rcheck           string // recovering: the check closest to confirming its recovery
}

func (r reason) String(state State) string {
	var s string
	switch {
	case r.check != "":
		s = fmt.Sprintf("check %s failing: %s", r.check, r.err)
	case r.slow > 0:
		s = fmt.Sprintf("slowest passing run %s over %s", r.slow.Round(time.Millisecond), r.latency)
	}
	if state == StateRecovering {
		rec := fmt.Sprintf("recovering: check %s %d of %d passing runs", r.rcheck, r.recovery, r.needed)
		if s == "" || r.check == r.rcheck {
			return rec
		}
		return rec + "; " + s
	}
	return s
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

// downtimeHorizon is how far downtime is final at now: not past the start
// of a failure that may still be confirmed with a backdated start (a failed
// run below its threshold, a stale result due, an outage held for the
// vantage), nor past where the open outage ends if the recoveries in
// progress are confirmed, nor past the vantage's own hold. Call with f.mu
// held.
func (f *feature) downtimeHorizon(now int64) int64 {
	h := min(now, f.vantageHold())
	if f.open != nil {
		if f.machine == StateRecovering {
			h = min(h, f.recoverStart)
		}
		return h
	}
	for _, o := range f.held {
		h = min(h, o.Start)
	}
	for i := range f.checks {
		if at, ok := f.checks[i].pendingFailure(); ok && !f.checks[i].blind {
			h = min(h, at)
		}
	}
	return h
}

// vantageHold is how far the vantage lets figures be final (vantage.go).
func (f *feature) vantageHold() int64 {
	if f.vantage == nil {
		return math.MaxInt64
	}
	return f.vantage.hold.Load()
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
	// checks are the states of spec.Checks, index for index.
	checks []checkState

	// The state machine. machine is never maintenance: maintenance is an
	// overlay from the maint intervals.
	machine      State
	machineSince int64
	// reason explains the latest evaluation (reasonText); nil until there
	// was something to explain, as for most features, then reused. Inline,
	// its 72 bytes would put a feature in the 704 B size class, not 640.
	reason *reason
	// recoverStart is where the open outage ends if the recoveries in
	// progress are confirmed: downtime is final only up to there.
	recoverStart int64
	freshSince   int64 // see fresh
	// held are outages waiting for the vantage (vantage.go): confirmed,
	// but not opened until the canaries have shown the agent's network
	// good at or after their start; dropped if it turns out impaired.
	// Usually empty.
	held []*outageRec
	flap flapState
	// vantage is the engine's (vantage.go); nil in engines without one.
	vantage *vantage
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

	// gen changes when the check list changes, so that a CheckRef from an
	// older Configure finds its check again by name (or not at all). 32 bits
	// beside the flags, in their word. (A feature is over 512 bytes, so it
	// gets a malloc header of 8 more: 632 bytes of fields fit the 640 B
	// size class, the next is 704.)
	gen uint32
	// The flags are together: apart, each would take 8 bytes.
	configured bool
	// impaired is true while the agent's vantage is impaired: the
	// feature's time is cut from presence and its results are not
	// evaluated.
	impaired bool
	// fresh is true once a result was evaluated in this run of the agent;
	// before that the state shows unknown.
	fresh bool
}

// checkIndex returns the index of the check named name, -1 if none.
func (f *feature) checkIndex(name string) int {
	for i := range f.checks {
		if f.spec.Checks[i].Name == name {
			return i
		}
	}
	return -1
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

// any reports whether the store must hear of the change.
func (ch change) any() bool {
	return ch.transition || ch.outage != nil || ch.degraded != nil || ch.presence != nil
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
	if f.impaired {
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

// blindReason explains a cut: "agent: too many open files (check api)",
// or "vantage impaired: canary gw failing: connection refused".
func (f *feature) blindReason() string {
	if f.impaired && f.vantage != nil {
		return "vantage impaired: " + f.vantage.reason()
	}
	for i := range f.checks {
		if c := &f.checks[i]; c.blind {
			return fmt.Sprintf("agent: %s (check %s)", c.last.AgentFault, f.spec.Checks[i].Name)
		}
	}
	return "agent: checks could not run"
}

// reasonText is the latest evaluation's reason, worded for state.
func (f *feature) reasonText(state State) string {
	if f.reason == nil {
		return reason{}.String(state)
	}
	return f.reason.String(state)
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
