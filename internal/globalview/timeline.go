package globalview

import (
	"runtime"
	"slices"
	"sync"
	"time"
)

// Semantics (DESIGN.md "The global view", issue 17). Every timeline is a
// list of intervals computed at read time from the agents' spans and
// outages, at the view's clock now:
//
//  1. Agent (replica) timeline per feature. An agent's coverage ends at its
//     latest heartbeat's At; while now ≤ that + StaleAfter the agent is live
//     and its coverage reaches now (silence is never up); a final heartbeat
//     ends coverage at its At. An agent with no heartbeat covers nothing.
//     The agent does not vote from a vantage_up=false heartbeat until its
//     next vantage_up=true one, nor inside its gaps. It is *monitoring* a
//     feature at t when t is inside one of its presence spans (an open one
//     reaching the coverage end), before the coverage end, and not in a gap
//     or an impaired vantage. It *says down* at t when monitoring and t is
//     in one of its outages [start, end or coverage end), *says degraded*
//     when monitoring and in one of its degraded spells. Inside one of its
//     maintenance windows for the feature it says neither: it is *in
//     maintenance* there (when it would monitor) and does not vote.
//  2. Region timeline: monitored while any replica monitors; down while
//     every monitoring replica says down; degraded while some (not all)
//     monitoring replicas say down, or any says degraded; else up. So one
//     replica dying leaves no gap, and one replica's false alarm does not
//     make the region down. A region is in maintenance while it does not
//     monitor and some replica that would is in maintenance.
//  3. Global: k(t) = min(MinRegions for the feature, monitoring regions at
//     t); down while at least k(t) ≥ 1 monitoring regions are down;
//     regional while at least one but fewer than k(t) are; degraded while
//     none is down but some is degraded; up otherwise; unknown while no
//     region monitors and none is in maintenance; maintenance while no
//     region monitors and some is in maintenance (regions in maintenance
//     do not count in k). A global outage is a maximal interval of global
//     down: its edges are the agents' own backdated outage edges (or the
//     edges of their monitoring), never a grid. Its causes: per region down
//     in it, the cause of the agent outage covering the moment the region
//     was first down in it (the outage's start if it was down then).
//  4. Availability(W) = 1 − down(W) / (|W| − unmonitored(W) −
//     maintenance(W)), 1 when the
//     denominator is 0, over rolling windows 1h, 24h, 7d and 30d ending now
//     (SLO = 30d); error budget remaining = 1 − down / ((1 − objective) ×
//     eligible) over 30 days. A report over [from, to) gives the same with
//     down (DowntimeSeconds), regional and unmonitored seconds, and Met =
//     availability ≥ objective.

// Global state codes, in the order of States.
const (
	codeUnknown uint8 = iota
	codeUp
	codeDegraded
	codeRegional
	codeDown
	codeMaintenance
)

// States are the global states in the order of FeatureFigures.StateIndex,
// for a one-hot gauge.
var States = [...]string{StateUnknown, StateUp, StateDegraded, StateRegional, StateDown, StateMaintenance}

// segment is a piece of the global timeline with one state; pieces that are
// not listed are unknown.
type segment struct {
	s, e int64
	st   uint8
}

// agentCalc is what a read needs of an agent: its coverage end and the time
// it does not vote (gaps and impaired vantage).
type agentCalc struct {
	covEnd  int64
	blocked []interval
}

// replicaTL is a replica's timeline of one feature: monitoring (and
// voting), down, degraded, and in maintenance (would monitor, does not vote).
type replicaTL struct {
	rep               *replica
	mon, dn, deg, mnt []interval
}

// regionTL is a region's timeline of one feature: its replicas merged.
type regionTL struct {
	name              string
	reps              []replicaTL
	mon, dn, deg, mnt []interval
}

// calc is one read's scratch: reused from feature to feature, so a read of
// many features allocates little.
type calc struct {
	now    int64
	agents []agentCalc
	buf    []interval
	reps   []replicaTL
	regs   []regionTL
	events []event
	segs   []segment
	edges  []int64
}

type event struct {
	t     int64
	kind  uint8 // 0 monitoring, 1 down, 2 degraded, 3 maintenance
	delta int8
}

// minPerWorker is the fewest features worth a worker of forEach.
const minPerWorker = 256

// forEach computes the timelines of every feature keep accepts (all when
// nil) at now and calls fn with them, index i in v.sorted. The features
// are split over the machine's cores, each worker with a calc of its own
// (they share the agents' part, read only), so fn must write only its own
// index's result. v.mu is held for reading.
func (v *View) forEach(now time.Time, keep func(*featureState) bool, fn func(c *calc, i int, f *featureState)) {
	base := v.newCalc(now)
	run := func(c *calc, lo, hi int) {
		for i := lo; i < hi; i++ {
			if f := v.sorted[i]; keep == nil || keep(f) {
				c.feature(f)
				fn(c, i, f)
			}
		}
	}
	n := len(v.sorted)
	workers := min(runtime.GOMAXPROCS(0), n/minPerWorker)
	if workers <= 1 {
		run(base, 0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		c := base
		if w > 0 {
			c = &calc{now: base.now, agents: base.agents}
		}
		lo, hi := w*chunk, min(n, (w+1)*chunk)
		wg.Go(func() { run(c, lo, hi) })
	}
	wg.Wait()
}

// newCalc prepares a read at now; v.mu is held.
func (v *View) newCalc(now time.Time) *calc {
	c := &calc{now: now.UnixNano(), agents: make([]agentCalc, len(v.agentIDs))}
	stale := v.opt.StaleAfter.Nanoseconds()
	for i, a := range v.agentIDs {
		c.agents[i] = a.calc(c.now, stale)
	}
	return c
}

func (a *agentState) calc(now, stale int64) agentCalc {
	cov := noTime
	switch {
	case a.lastBeat == noTime:
	case a.final:
		cov = min(a.lastBeat, now)
	case now <= a.lastBeat+stale:
		cov = now
	default:
		cov = min(a.lastBeat, now)
	}
	var blocked []interval
	for _, g := range a.gaps {
		blocked = append(blocked, interval{g.start, g.end})
	}
	for i, r := range a.runs {
		if r.up {
			continue
		}
		e := openEnd
		if i+1 < len(a.runs) {
			e = a.runs[i+1].first
		}
		blocked = append(blocked, interval{r.first, e})
	}
	slices.SortFunc(blocked, func(x, y interval) int { return cmpInt(x.s, y.s) })
	return agentCalc{covEnd: cov, blocked: mergeSorted(blocked)}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// take returns c.buf[start:] as a list of its own and keeps it.
func (c *calc) take(start int) []interval {
	return c.buf[start:len(c.buf):len(c.buf)]
}

// spans appends the spans clipped to the coverage end, merged.
func (c *calc) spans(list []span, cov int64) []interval {
	start := len(c.buf)
	for _, sp := range list {
		if e := min(sp.end, cov); sp.start < e {
			c.buf = append(c.buf, interval{sp.start, e})
		}
	}
	merged := mergeSorted(c.buf[start:])
	c.buf = c.buf[:start+len(merged)]
	return c.take(start)
}

// feature computes the region timelines and the global segments of f.
func (c *calc) feature(f *featureState) {
	c.buf, c.reps, c.regs, c.events, c.segs = c.buf[:0], c.reps[:0], c.regs[:0], c.events[:0], c.segs[:0]
	for _, rep := range f.replicas {
		ac := &c.agents[rep.agent.index]
		presence := c.spans(rep.presence, ac.covEnd)
		start := len(c.buf)
		c.buf = subtract(c.buf, presence, ac.blocked)
		mon := c.take(start)
		var mnt []interval
		if len(rep.maint) > 0 {
			maint := c.spans(rep.maint, ac.covEnd)
			start = len(c.buf)
			c.buf = intersect(c.buf, mon, maint)
			mnt = c.take(start)
			start = len(c.buf)
			c.buf = subtract(c.buf, mon, maint)
			mon = c.take(start)
		}
		outages := c.spans(rep.outages, ac.covEnd)
		start = len(c.buf)
		c.buf = intersect(c.buf, outages, mon)
		dn := c.take(start)
		degraded := c.spans(rep.degraded, ac.covEnd)
		start = len(c.buf)
		c.buf = intersect(c.buf, degraded, mon)
		c.reps = append(c.reps, replicaTL{rep: rep, mon: mon, dn: dn, deg: c.take(start), mnt: mnt})
	}
	for i := 0; i < len(c.reps); {
		j := i + 1
		for j < len(c.reps) && c.reps[j].rep.agent.region == c.reps[i].rep.agent.region {
			j++
		}
		c.regs = append(c.regs, c.region(c.reps[i:j]))
		i = j
	}
	c.sweep(f.minRegions)
}

// region merges the replicas of one region (rule 2).
func (c *calc) region(reps []replicaTL) regionTL {
	rt := regionTL{name: reps[0].rep.agent.region, reps: reps}
	if len(reps) == 1 {
		rt.mon, rt.dn, rt.mnt = reps[0].mon, reps[0].dn, reps[0].mnt
		start := len(c.buf)
		c.buf = subtract(c.buf, reps[0].deg, reps[0].dn)
		rt.deg = c.take(start)
		return rt
	}
	var mon, notDown, anyDown, anyDeg, anyMnt []interval
	for _, r := range reps {
		mon = c.unionTake(mon, r.mon)
		anyMnt = c.unionTake(anyMnt, r.mnt)
		start := len(c.buf)
		c.buf = subtract(c.buf, r.mon, r.dn)
		notDown = c.unionTake(notDown, c.take(start))
		anyDown = c.unionTake(anyDown, r.dn)
		anyDeg = c.unionTake(anyDeg, r.deg)
	}
	start := len(c.buf)
	c.buf = subtract(c.buf, mon, notDown)
	rt.mon, rt.dn = mon, c.take(start)
	start = len(c.buf)
	c.buf = subtract(c.buf, anyMnt, mon)
	rt.mnt = c.take(start)
	either := c.unionTake(anyDown, anyDeg)
	start = len(c.buf)
	c.buf = subtract(c.buf, either, rt.dn)
	rt.deg = c.take(start)
	return rt
}

func (c *calc) unionTake(a, b []interval) []interval {
	start := len(c.buf)
	c.buf = union(c.buf, a, b)
	return c.take(start)
}

// sweep runs a sweep line over the regions' edges (rule 3) into c.segs.
func (c *calc) sweep(minRegions int) {
	for _, rt := range c.regs {
		for kind, list := range [...][]interval{rt.mon, rt.dn, rt.deg, rt.mnt} {
			for _, iv := range list {
				c.events = append(c.events, event{iv.s, uint8(kind), 1}, event{iv.e, uint8(kind), -1})
			}
		}
	}
	slices.SortFunc(c.events, func(x, y event) int { return cmpInt(x.t, y.t) })
	var count [4]int
	for i := 0; i < len(c.events); {
		t := c.events[i].t
		for ; i < len(c.events) && c.events[i].t == t; i++ {
			count[c.events[i].kind] += int(c.events[i].delta)
		}
		if i == len(c.events) {
			break
		}
		st := globalState(count[0], count[1], count[2], count[3], minRegions)
		next := c.events[i].t
		if st == codeUnknown {
			continue
		}
		if n := len(c.segs); n > 0 && c.segs[n-1].e == t && c.segs[n-1].st == st {
			c.segs[n-1].e = next
			continue
		}
		c.segs = append(c.segs, segment{t, next, st})
	}
}

// globalState is rule 3 for monitoring, down, degraded and in-maintenance
// region counts.
func globalState(monitoring, down, degraded, maintenance, minRegions int) uint8 {
	if monitoring == 0 {
		if maintenance > 0 {
			return codeMaintenance
		}
		return codeUnknown
	}
	k := max(1, min(minRegions, monitoring))
	switch {
	case down >= k:
		return codeDown
	case down > 0:
		return codeRegional
	case degraded > 0:
		return codeDegraded
	}
	return codeUp
}

// measureState is the time in [from, to) with global state st.
func (c *calc) measureState(st uint8, from, to int64) int64 {
	var total int64
	for _, sg := range c.segs {
		if st != codeUnknown && sg.st != st {
			continue
		}
		if s, e := max(sg.s, from), min(sg.e, to); s < e {
			total += e - s
		}
	}
	if st == codeUnknown { // the complement of what is covered
		return max(to-from, 0) - total
	}
	return total
}

// availability is rule 4 over [from, to): the ratio, the down and the
// eligible time.
func (c *calc) availability(from, to int64) (ratio float64, down, eligible int64) {
	down = c.measureState(codeDown, from, to)
	eligible = max(to-from, 0) - c.measureState(codeUnknown, from, to) - c.measureState(codeMaintenance, from, to)
	if eligible <= 0 {
		return 1, down, 0
	}
	return 1 - float64(down)/float64(eligible), down, eligible
}

// stateNow is the global state at the last instant before now and since when.
func (c *calc) stateNow() (uint8, int64) {
	if n := len(c.segs); n > 0 {
		last := c.segs[n-1]
		if last.e >= c.now {
			return last.st, last.s
		}
		return codeUnknown, last.e
	}
	return codeUnknown, noTime
}
