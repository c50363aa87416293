package sla

import (
	"cmp"
	"fmt"
	"math/bits"
	"time"
)

// checkState is one check of a feature: its latest run and the state its
// runs confirm (DESIGN.md "SLA semantics"). Results are not persisted: after
// a restart every check starts over. Its spec is the feature's spec.Checks at
// the same index: one copy per check, not two.
type checkState struct {
	// staleAfter is 2 × interval + timeout: with no run for that long, the
	// check counts a failed run (a stale result). 0: never stale.
	staleAfter int64
	// lastStart is the start of the latest run, a stale one included.
	lastStart int64
	last      Observation
	// lastPass is the start of the latest passing run (canaries).
	lastPass int64
	// blind is true while the latest result is an agent fault
	// (Observation.AgentFault): the check says nothing about the service
	// until its next real result, and evaluations leave it out.
	blind bool
	// has is true once last holds a run. (The flags sit together, where
	// apart each would take 8 bytes.)
	has bool

	// conf is the confirmed state; edge is where it began: the start of the
	// first run of the streak (or, with a failure window, the earliest
	// failed run in the window) that confirmed it. cause is the error of
	// that failed run.
	conf  confState
	edge  int64
	cause string
	// The current streaks: runs in a row, and the start of the first.
	fails, passes      int
	failFrom, passFrom int64
	firstErr           string

	// The confirmation rule: failing once wm of the last wn runs failed
	// (failure_threshold N is wm = wn = N); passing again after rt passing
	// runs in a row.
	wm, wn, rt int
	// window holds the last wn outcomes, bit 0 the newest, 1 = failed.
	window uint64
	// starts are the last wn runs' starts, newest at pos: only with a
	// failure window (wm < wn), where the earliest failed run is not the
	// streak's first.
	starts []int64
	pos    int
}

// confState is what a check's runs have confirmed.
type confState uint8

const (
	// confPending: no state confirmed yet (fewer failed runs than the
	// threshold, and no passing run): the feature leaves the check out.
	confPending confState = iota
	confPassing
	confFailing
)

// setRule installs the confirmation rule from the check's spec, falling
// back to the feature's thresholds; it keeps the streaks when the rule is
// unchanged.
func (c *checkState) setRule(cs CheckSpec, failTh, recTh int) {
	wm, wn := clampRuns(cmp.Or(cs.FailureThreshold, failTh)), 0
	if w := cs.FailureWindow; w.Runs > 0 {
		wm, wn = clampRuns(w.Failures), clampRuns(w.Runs)
		wm = min(wm, wn)
	}
	if wn == 0 {
		wn = wm
	}
	rt := clampRuns(cmp.Or(cs.RecoveryThreshold, recTh))
	c.staleAfter = int64(2*cs.Interval + cs.Timeout)
	if c.wm == wm && c.wn == wn && c.rt == rt {
		return
	}
	c.wm, c.wn, c.rt = wm, wn, rt
	c.window, c.pos, c.starts = 0, 0, nil
	if wm < wn {
		c.starts = make([]int64, wn)
	}
}

// clampRuns keeps a threshold or window within [1, MaxWindowRuns].
func clampRuns(n int) int { return min(max(n, 1), MaxWindowRuns) }

// restart forgets the streaks, as after an agent restart or when the
// vantage comes back: the check is pending, or failing since open when the
// feature has an outage open at open (its recovery must be confirmed).
func (c *checkState) restart(open int64) {
	c.has, c.blind, c.last, c.lastStart = false, false, Observation{}, 0
	c.fails, c.passes, c.window, c.pos = 0, 0, 0, 0
	c.conf, c.edge, c.cause = confPending, 0, ""
	if open != 0 {
		c.conf, c.edge = confFailing, open
	}
}

// run feeds one run (a real one, or a stale result) into the confirmation
// and reports whether the confirmed state changed.
func (c *checkState) run(t int64, ok bool, err string) bool {
	mask := uint64(1)<<c.wn - 1
	c.window = (c.window << 1) & mask
	if c.starts != nil {
		c.pos = (c.pos + 1) % c.wn
		c.starts[c.pos] = t
	}
	if ok {
		c.fails = 0
		if c.passes == 0 {
			c.passFrom = t
		}
		c.passes++
		switch {
		case c.conf == confPending:
			c.conf, c.edge, c.cause = confPassing, t, ""
			return true
		case c.conf == confFailing && c.passes >= c.rt:
			c.conf, c.edge, c.cause = confPassing, c.passFrom, ""
			return true
		}
		return false
	}
	c.window |= 1
	c.passes = 0
	if c.fails == 0 {
		c.failFrom, c.firstErr = t, err
	}
	c.fails++
	if c.conf == confFailing || bits.OnesCount64(c.window) < c.wm {
		return false
	}
	edge, cause := c.failFrom, c.firstErr
	if at, ok := c.earliestFailed(); ok && c.starts != nil {
		edge, cause = at, err
	}
	c.conf, c.edge, c.cause = confFailing, edge, cause
	return true
}

// earliestFailed is the start of the earliest failed run in the window
// after the current edge (a failed run before the check was confirmed
// passing again does not count twice).
func (c *checkState) earliestFailed() (int64, bool) {
	if c.starts == nil {
		return 0, false
	}
	for k := c.wn - 1; k >= 0; k-- {
		if c.window&(1<<k) == 0 {
			continue
		}
		if s := c.starts[(c.pos-k+c.wn)%c.wn]; c.conf == confPending || s >= c.edge {
			return s, true
		}
	}
	return 0, false
}

// pendingFailure is the start of a failure that may still be confirmed
// with a backdated edge, and whether there is one: the earliest failed run
// in the window that is not yet confirmed, or the next stale result.
func (c *checkState) pendingFailure() (int64, bool) {
	if !c.has || c.conf == confFailing {
		return 0, false
	}
	at, ok := c.failFrom, c.fails > 0
	if c.starts != nil {
		at, ok = c.earliestFailed() // a failure window: any failed run in it may count
	}
	if c.staleAfter > 0 {
		if s := c.lastStart + c.staleAfter; !ok || s < at {
			at, ok = s, true
		}
	}
	return at, ok
}

// staleDue returns when the check's next stale result falls, 0 if never.
func (c *checkState) staleDue() int64 {
	if !c.has || c.blind || c.staleAfter <= 0 {
		return 0
	}
	return c.lastStart + c.staleAfter
}

// skipStale counts the stale results due before t as failed runs without
// feeding them one by one (the check is failing already: they change
// nothing but its streak), and returns the last one's start.
func (c *checkState) skipStale(t int64) (int64, bool) {
	due := c.staleDue()
	if due == 0 || due >= t {
		return 0, false
	}
	n := (t - 1 - due) / c.staleAfter // more due after the first, before t
	last := due + n*c.staleAfter
	c.fails += int(min(n+1, MaxWindowRuns))
	c.passes = 0
	c.window = uint64(1)<<c.wn - 1
	if c.starts != nil {
		for k := range min(int(n+1), c.wn) {
			c.pos = (c.pos + 1) % c.wn
			c.starts[c.pos] = last - int64(min(int(n+1), c.wn)-1-k)*c.staleAfter
		}
	}
	c.lastStart, c.last = last, c.staleObservation(last)
	return last, true
}

// staleObservation is the failed run a stale result counts as.
func (c *checkState) staleObservation(at int64) Observation {
	return Observation{Start: timeOf(at), Success: false,
		Error: fmt.Sprintf("stale: no result for %s", time.Duration(c.staleAfter))}
}
