package sla

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/sla/store"
)

// The property test runs random timelines through the engine (closing and
// reopening it over agent gaps) and through a plain reference written from
// DESIGN.md "SLA semantics" (issue 16): per-check confirmation over lists of
// runs, requirements over sorted edges, and a second-by-second
// classification for every duration. They must agree to the second.

type refResult struct {
	at     int // start, seconds after t0
	check  int // index into the feature's checks, or canary index when canary
	ok     bool
	dur    time.Duration
	canary bool
}

type refCheck struct {
	ft, rt int
	wm, wn int // failure window; 0: threshold
	stale  bool
}

type refCase struct {
	seed     uint64
	checks   []refCheck
	require  Require
	failTh   int
	recTh    int
	latency  time.Duration
	horizon  int         // seconds
	windows  [][2]int    // one-off maintenance [start, end)
	cron     bool        // "*/5 * * * *" for 60s
	gaps     [][2]int    // agent not running [start, end)
	canaries int         // 0: none; each every 10s at offset 1+5*i, thresholds 2/2
	cuts     [][2]int    // the vantage cut: canaries and checks fail together
	results  []refResult // sorted by start (features' before canaries' at one second), none inside gaps
}

const (
	refStale = 25 // 2 × 10s + 5s
	// refBeat is the heartbeat interval: the heartbeat finds silences older
	// than that.
	refBeat = 10
)

func inSpans(list [][2]int, s int) bool {
	for _, w := range list {
		if w[0] <= s && s < w[1] {
			return true
		}
	}
	return false
}

func (c *refCase) inMaint(s int) bool { return (c.cron && s%300 < 60) || inSpans(c.windows, s) }

func (c *refCase) spec() FeatureSpec {
	names := make([]string, len(c.checks))
	for i := range names {
		names[i] = fmt.Sprintf("c%d", i)
	}
	s := testSpec("prop", names...)
	s.Require, s.FailureThreshold, s.RecoveryThreshold, s.Latency = c.require, c.failTh, c.recTh, c.latency
	s.Flap = Flap{Changes: refFlapChanges, Window: refFlapWindow * time.Second}
	for i, rc := range c.checks {
		cs := &s.Checks[i]
		cs.FailureThreshold, cs.RecoveryThreshold = rc.ft, rc.rt
		if rc.wn > 0 {
			cs.FailureWindow = FailureWindow{Failures: rc.wm, Runs: rc.wn}
		}
		if rc.stale {
			cs.Interval, cs.Timeout = 10*time.Second, 5*time.Second
		}
	}
	for _, w := range c.windows {
		s.Maintenance = append(s.Maintenance, Maintenance{Start: at(float64(w[0])), Duration: time.Duration(w[1]-w[0]) * time.Second})
	}
	if c.cron {
		s.Maintenance = append(s.Maintenance, Maintenance{Cron: "*/5 * * * *", Location: time.UTC, Duration: time.Minute})
	}
	return s
}

func (c *refCase) vantageSpec() VantageSpec {
	v := VantageSpec{FailureThreshold: 2, RecoveryThreshold: 2}
	for i := range c.canaries {
		v.Canaries = append(v.Canaries, CheckSpec{Name: fmt.Sprintf("gw%d", i), Kind: "icmp",
			Interval: 10 * time.Second, Timeout: 5 * time.Second})
	}
	return v
}

func genCase(seed uint64) *refCase {
	rng := rand.New(rand.NewPCG(seed, seed*7+1))
	c := &refCase{seed: seed, failTh: 1 + rng.IntN(4), recTh: 1 + rng.IntN(4), horizon: 400 + rng.IntN(800)}
	c.checks = make([]refCheck, 1+rng.IntN(3))
	for i := range c.checks {
		rc := &c.checks[i]
		if rng.IntN(3) == 0 {
			rc.ft, rc.rt = 1+rng.IntN(3), 1+rng.IntN(3)
		}
		if rng.IntN(4) == 0 {
			rc.wn = 2 + rng.IntN(5)
			rc.wm = 1 + rng.IntN(rc.wn)
		}
		rc.stale = rng.IntN(3) == 0
	}
	n := len(c.checks)
	switch rng.IntN(3) {
	case 0:
		c.require = Require{Mode: RequireAll}
	case 1:
		c.require = Require{Mode: RequireAny}
	default:
		c.require = Require{Mode: RequireQuorum, N: 1 + rng.IntN(n)}
	}
	if rng.IntN(2) == 0 {
		c.latency = 500 * time.Millisecond
	}
	for range rng.IntN(3) {
		s := rng.IntN(c.horizon)
		c.windows = append(c.windows, [2]int{s, s + 10 + rng.IntN(120)})
	}
	c.cron = rng.IntN(5) == 0
	next := 30
	for range rng.IntN(3) {
		if next >= c.horizon-10 {
			break
		}
		s := next + rng.IntN(c.horizon-next)
		e := min(s+5+rng.IntN(200), c.horizon)
		c.gaps = append(c.gaps, [2]int{s, e})
		next = e + 1
	}
	if rng.IntN(3) == 0 {
		c.canaries = 1 + rng.IntN(2)
		for range 1 + rng.IntN(2) {
			s := rng.IntN(c.horizon)
			c.cuts = append(c.cuts, [2]int{s, s + 20 + rng.IntN(100)})
		}
	}
	c.genResults(rng)
	return c
}

// genResults draws health phases (each check passes with some probability,
// or is silent) and the runs: every 10s per check at its own offset.
func (c *refCase) genResults(rng *rand.Rand) {
	type phase struct {
		until  int
		pOK    []float64
		silent []bool
	}
	var phases []phase
	for t := 0; t < c.horizon; {
		p := phase{until: t + 20 + rng.IntN(150)}
		for range c.checks {
			p.pOK = append(p.pOK, []float64{1, 1, 0.9, 0.5, 0}[rng.IntN(5)])
			p.silent = append(p.silent, rng.IntN(8) == 0)
		}
		phases = append(phases, p)
		t = p.until
	}
	pi := 0
	for s := 0; s < c.horizon; s++ {
		for pi < len(phases)-1 && phases[pi].until <= s {
			pi++
		}
		cut := inSpans(c.cuts, s)
		for ch := range c.checks {
			if (s-3*ch)%10 != 0 || s < 3*ch || phases[pi].silent[ch] || inSpans(c.gaps, s) || rng.IntN(15) == 0 {
				continue
			}
			c.results = append(c.results, refResult{at: s, check: ch, ok: !cut && rng.Float64() < phases[pi].pOK[ch],
				dur: time.Duration(rng.IntN(10)) * 100 * time.Millisecond})
		}
		for k := range c.canaries {
			if (s-1-5*k)%10 != 0 || s < 1+5*k || inSpans(c.gaps, s) || rng.IntN(12) == 0 {
				continue
			}
			c.results = append(c.results, refResult{at: s, check: k, canary: true, ok: !cut && rng.IntN(10) != 0})
		}
	}
}

// refRun is one run as the reference keeps it.
type refRun struct {
	at  int
	ok  bool
	dur time.Duration
}

// refCheckState is a check's confirmation, kept as the list of its runs.
type refCheckState struct {
	rule  refCheck
	runs  []refRun // since the last restart
	conf  confState
	edge  int
	blank bool // no run since the last restart
}

func (r *refCheckState) restart(open int) {
	r.runs, r.blank, r.conf, r.edge = nil, true, confPending, 0
	if open >= 0 {
		r.conf, r.edge = confFailing, open
	}
}

// add appends a run and confirms the state per DESIGN.md.
func (r *refCheckState) add(run refRun) {
	r.runs = append(r.runs, run)
	r.blank = false
	n := len(r.runs)
	if run.ok {
		k := n - 1 // the streak of passing runs ending here
		for k > 0 && r.runs[k-1].ok {
			k--
		}
		if r.conf == confPending {
			r.conf, r.edge = confPassing, run.at
		} else if r.conf == confFailing && n-k >= r.rule.rt {
			r.conf, r.edge = confPassing, r.runs[k].at
		}
		return
	}
	if r.conf == confFailing {
		return
	}
	m, w := r.rule.ft, r.rule.ft
	if r.rule.wn > 0 {
		m, w = r.rule.wm, r.rule.wn
	}
	var failed []int
	for _, x := range r.runs[max(0, n-w):] {
		if !x.ok && (r.conf == confPending || x.at >= r.edge) {
			failed = append(failed, x.at)
		}
	}
	all := 0
	for _, x := range r.runs[max(0, n-w):] {
		if !x.ok {
			all++
		}
	}
	if all >= m {
		r.conf, r.edge = confFailing, failed[0]
		if r.rule.wn == 0 {
			k := n - 1
			for k > 0 && !r.runs[k-1].ok {
				k--
			}
			r.edge = r.runs[k].at
		}
	}
}

// passStreakStart is the start of the passing streak in progress, -1 if none.
func (r *refCheckState) passStreakStart() int {
	n := len(r.runs)
	if n == 0 || !r.runs[n-1].ok {
		return -1
	}
	k := n - 1
	for k > 0 && r.runs[k-1].ok {
		k--
	}
	return r.runs[k].at
}
func count(b []bool, from, to int) float64 {
	n := 0
	for _, v := range b[from:to] {
		if v {
			n++
		}
	}
	return float64(n)
}

// storeKinds open an engine on the bbolt store in dir or on a memory store
// kept across restarts: the engine must read the same history from both.
var storeKinds = []struct {
	name string
	open func(dir string) func(Options) (*Engine, error)
}{
	{"bolt", func(dir string) func(Options) (*Engine, error) {
		return func(o Options) (*Engine, error) { o.Path = dir; return Open(o) }
	}},
	{"memory", func(string) func(Options) (*Engine, error) {
		store := store.NewMemory()
		return func(o Options) (*Engine, error) { return New(store, o) }
	}},
}

// runEngine plays the case through an engine opened by openStore (again at
// every restart) and returns it open at the horizon.
func runEngine(t *testing.T, c *refCase, openStore func(Options) (*Engine, error)) (*Engine, *fakeClock) {
	clock := newFakeClock(t0)
	open := func() *Engine {
		e, err := openStore(Options{Region: "prop", Clock: clock, noSync: true, ScheduledHeartbeat: true})
		if err != nil {
			t.Fatalf("seed %d: open: %v", c.seed, err)
		}
		if err := e.ConfigureVantage(c.vantageSpec()); err != nil {
			t.Fatalf("seed %d: vantage: %v", c.seed, err)
		}
		mustConfigure(t, e, c.spec())
		return e
	}
	e := open()
	gi := 0
	restartUntil := func(s int) {
		for gi < len(c.gaps) && c.gaps[gi][0] <= s {
			clock.Set(at(float64(c.gaps[gi][0])))
			if err := e.Close(); err != nil {
				t.Fatalf("seed %d: close: %v", c.seed, err)
			}
			clock.Set(at(float64(c.gaps[gi][1])))
			e = open()
			gi++
		}
	}
	for _, r := range c.results {
		restartUntil(r.at)
		clock.Set(at(float64(r.at)).Add(r.dur))
		o := Observation{Start: at(float64(r.at)), Duration: r.dur, Success: r.ok, Error: "probe failed"}
		if r.canary {
			e.Canary(fmt.Sprintf("gw%d", r.check)).Observe(o)
			continue
		}
		e.Observe("talk", "prop", fmt.Sprintf("c%d", r.check), o)
	}
	restartUntil(c.horizon - 1)
	clock.Set(at(float64(c.horizon)))
	if err := e.Heartbeat(); err != nil {
		t.Fatalf("seed %d: heartbeat: %v", c.seed, err)
	}
	return e, clock
}

func TestPropertyAgainstReference(t *testing.T) {
	cases := 300
	if testing.Short() {
		cases = 60
	}
	deadline := time.Now().Add(40 * time.Second)
	for seed := uint64(1); seed <= uint64(cases) && time.Now().Before(deadline); seed++ {
		for _, kind := range storeKinds {
			checkAgainstReference(t, kind.name, seed, kind.open(t.TempDir()))
		}
	}
}

// checkAgainstReference plays case seed on an engine from openStore (a
// store of kind store) and
// compares it with the reference simulation.
func checkAgainstReference(t *testing.T, store string, seed uint64, openStore func(Options) (*Engine, error)) {
	t.Helper()
	c := genCase(seed)
	want := reference(c)
	e, _ := runEngine(t, c, openStore)
	describe := func() string {
		return fmt.Sprintf("%s store, seed %d (checks %+v, require %+v, thresholds %d/%d, latency %s, maint %v cron %v, gaps %v, canaries %d cuts %v)",
			store, seed, c.checks, c.require, c.failTh, c.recTh, c.latency, c.windows, c.cron, c.gaps, c.canaries, c.cuts)
	}
	if got := spans(e.Outages(OutageQuery{})); !slices.Equal(got, want.outages) && len(got)+len(want.outages) > 0 {
		t.Fatalf("%s:\noutages %v\nwant    %v", describe(), got, want.outages)
	}
	st := status(t, e, "prop")
	if st.State != want.endState {
		t.Errorf("%s: state at the end %s, want %s", describe(), st.State, want.endState)
	}
	if st.Flapping != want.flapping {
		t.Errorf("%s: flapping at the end %v, want %v", describe(), st.Flapping, want.flapping)
	}
	n := c.horizon
	for _, from := range []int{0, n - 60, n - 300, n / 2} {
		from = max(from, 0)
		r := e.Report(at(float64(from)), at(float64(n)))
		if len(r.Features) != 1 {
			t.Fatalf("%s: report has %d features", describe(), len(r.Features))
		}
		f := r.Features[0]
		got := [4]float64{f.DowntimeSeconds, f.DegradedSeconds, f.MaintenanceSeconds, f.UnmonitoredSeconds}
		exp := [4]float64{count(want.down, from, n), count(want.degraded, from, n), count(want.maint, from, n), count(want.unmon, from, n)}
		if got != exp {
			t.Fatalf("%s: over [%d, %d) downtime/degraded/maintenance/unmonitored %v, want %v", describe(), from, n, got, exp)
		}
		avail := 1.0
		if eligible := float64(n-from) - exp[2] - exp[3]; eligible > 0 {
			avail = 1 - exp[0]/eligible
		}
		if f.Availability != avail {
			t.Fatalf("%s: availability over [%d, %d) %v, want %v", describe(), from, n, f.Availability, avail)
		}
	}
	if c.canaries > 0 {
		// The counters' accounting around the vantage's holds is tested on
		// its own (vantage_test.go).
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		return
	}
	// Lifetime counters: exact, since every restart here is a clean one.
	// Downtime counts only what is final: not the time since a failure that
	// may still open an outage from there, nor since a recovery began, which
	// stops being downtime if the recovery completes.
	if st.DowntimeSeconds != count(want.down, 0, want.counterEnd) || st.DegradedSeconds != count(want.degraded, 0, n) {
		t.Fatalf("%s: counters downtime %v degraded %v, want %v %v", describe(), st.DowntimeSeconds, st.DegradedSeconds,
			count(want.down, 0, want.counterEnd), count(want.degraded, 0, n))
	}
	e.mu.RLock()
	f := e.features[featureKey("talk", "prop")]
	e.mu.RUnlock()
	f.mu.Lock()
	unmon := seconds(f.counters.unmonitored)
	f.mu.Unlock()
	if unmon != count(want.unmon, 0, n) {
		t.Fatalf("%s: unmonitored counter %v, want %v", describe(), unmon, count(want.unmon, 0, n))
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// refSim replays a case the reference's way.
type refSim struct {
	c        *refCase
	checks   []refCheckState
	last     []refRun // latest run per check, stale ones included; at -1: none
	lastEval int
	outages  []outageSpan // opened, oldest first
	held     []outageSpan
	open     bool // the last of outages is open
	machine  State
	fresh    bool
	states   []stateAt
	recStart int
	changes  []int // state changes since the last restart (flapping)
	flapAt   int   // when flapping began, -1 if not
	// The vantage.
	canaries []refCheckState
	canLast  []refRun
	canPass  []int
	impaired bool
	vsince   int
	impSpans [][2]int // impaired [start, end); end -1 while open
}

type stateAt struct {
	at    int
	state State
}

func newSim(c *refCase) *refSim {
	m := &refSim{c: c, machine: StateUnknown, flapAt: -1}
	for _, rc := range c.checks {
		rc.ft, rc.rt = cmp.Or(rc.ft, c.failTh), cmp.Or(rc.rt, c.recTh)
		if rc.wn > 0 && rc.wm == rc.wn {
			rc.ft, rc.wm, rc.wn = rc.wm, 0, 0 // M of M is M in a row
		}
		m.checks = append(m.checks, refCheckState{rule: rc})
	}
	m.restart(0)
	return m
}

// restart is the agent starting (again) at s.
func (m *refSim) restart(s int) {
	open := -1
	if m.open {
		open = int(m.outages[len(m.outages)-1].start)
	}
	for i := range m.checks {
		m.checks[i].restart(open)
	}
	m.last = make([]refRun, len(m.checks))
	for i := range m.last {
		m.last[i].at = -1
	}
	m.held, m.fresh, m.changes, m.flapAt = nil, false, nil, -1
	if m.machine == StateRecovering {
		m.machine = StateDown
	}
	m.canaries = make([]refCheckState, m.c.canaries)
	m.canLast = make([]refRun, m.c.canaries)
	m.canPass = make([]int, m.c.canaries)
	for k := range m.canaries {
		m.canaries[k] = refCheckState{rule: refCheck{ft: 2, rt: 2}, blank: true}
		m.canLast[k].at, m.canPass[k] = -1, -1
	}
	m.impaired, m.vsince = false, 0
	m.states = append(m.states, stateAt{s, StateUnknown})
}

// stop is the agent stopping at s: stale results due before s, then the
// impairment (if any) ends there.
func (m *refSim) stop(s int) {
	m.catchUp(s - refBeat)
	if m.impaired {
		m.impSpans[len(m.impSpans)-1][1] = s
	}
}

// catchUp is the heartbeat's: the canaries' stale results, then the
// feature's.
func (m *refSim) catchUp(s int) {
	m.canaryCatchUp(s)
	if !m.impaired {
		m.commit(m.good())
		m.featureCatchUp(s)
	}
}

func nextDue(last []refRun, stale func(int) bool, s int) int {
	best := -1
	for i, l := range last {
		if l.at >= 0 && stale(i) && l.at+refStale < s && (best < 0 || l.at+refStale < last[best].at+refStale) {
			best = i
		}
	}
	return best
}

func (m *refSim) featureCatchUp(s int) {
	for {
		i := nextDue(m.last, func(i int) bool { return m.c.checks[i].stale }, s)
		if i < 0 {
			return
		}
		m.last[i] = refRun{at: m.last[i].at + refStale}
		m.feed(i, m.last[i])
	}
}

func (m *refSim) canaryCatchUp(s int) {
	for {
		k := nextDue(m.canLast, func(int) bool { return true }, s)
		if k < 0 {
			return
		}
		m.canLast[k] = refRun{at: m.canLast[k].at + refStale}
		m.canaryFeed(k, m.canLast[k])
	}
}

func (m *refSim) result(r refResult) {
	run := refRun{at: r.at, ok: r.ok, dur: r.dur}
	if r.canary {
		m.canLast[r.check] = run
		m.canaryFeed(r.check, run)
		if !m.impaired {
			m.commit(m.good())
		}
		return
	}
	if m.impaired {
		return
	}
	m.last[r.check] = run
	m.feed(r.check, run)
}

func (m *refSim) feed(i int, run refRun) {
	t := max(run.at, m.lastEval)
	m.lastEval = t
	if m.c.inMaint(t) {
		return
	}
	m.checks[i].add(run)
	m.decide(t)
	if !m.impaired {
		m.commit(m.good())
	}
}

// need is how many of considered checks must pass.
func need(r Require, considered int) int {
	switch r.Mode {
	case RequireAny:
		return 1
	case RequireQuorum:
		return min(r.N, considered)
	}
	return considered
}

func kth(list []int, k int) int {
	slices.Sort(list)
	return list[k-1]
}

func (m *refSim) decide(t int) {
	var pass, fail, rec []int
	for i := range m.checks {
		c := &m.checks[i]
		switch c.conf {
		case confPassing:
			pass, rec = append(pass, c.edge), append(rec, c.edge)
		case confFailing:
			fail = append(fail, c.edge)
			if p := c.passStreakStart(); p >= 0 {
				rec = append(rec, p)
			}
		}
	}
	considered := len(pass) + len(fail)
	if considered == 0 {
		return
	}
	n := need(m.c.require, considered)
	holds := len(pass) >= n
	next := StateUp
	if len(fail) > 0 || m.slow() {
		next = StateDegraded
	}
	prev := m.machine
	cur := m.current()
	if cur == nil && !holds {
		start := float64(kth(fail, considered-n+1))
		if l := m.lastOutage(); l != nil {
			start = max(start, l.end, l.start+1)
		}
		if int(start) > m.good() {
			m.held = append(m.held, outageSpan{start, -1})
		} else {
			m.outages, m.open = append(m.outages, outageSpan{start, -1}), true
		}
		cur = m.current()
	}
	switch {
	case cur == nil:
		m.machine = next
	case holds:
		cur.end = max(float64(kth(pass, n)), cur.start)
		if m.open && cur == &m.outages[len(m.outages)-1] {
			m.open = false
		}
		m.machine = next
	case len(rec) >= n:
		m.recStart = max(kth(rec, n), int(cur.start))
		m.machine = StateRecovering
	default:
		m.machine = StateDown
	}
	if m.fresh && m.machine != prev {
		m.change(t)
	}
	if !m.fresh || m.machine != prev {
		m.states = append(m.states, stateAt{t, m.machine})
	}
	m.fresh = true
}

func (m *refSim) slow() bool {
	var slowest time.Duration = -1
	for _, l := range m.last {
		if l.at >= 0 && l.ok {
			slowest = max(slowest, l.dur)
		}
	}
	return m.c.latency > 0 && slowest > m.c.latency
}

func (m *refSim) current() *outageSpan {
	if m.open {
		return &m.outages[len(m.outages)-1]
	}
	if n := len(m.held); n > 0 && m.held[n-1].end < 0 {
		return &m.held[n-1]
	}
	return nil
}

func (m *refSim) lastOutage() *outageSpan {
	if n := len(m.held); n > 0 {
		return &m.held[n-1]
	}
	if n := len(m.outages); n > 0 {
		return &m.outages[n-1]
	}
	return nil
}

const refFlapChanges, refFlapWindow = 3, 120

func (m *refSim) change(t int) {
	if m.flapAt >= 0 && t-m.changes[len(m.changes)-1] >= refFlapWindow {
		m.flapAt = -1
	}
	m.changes = append(m.changes, t)
	if n := len(m.changes); m.flapAt < 0 && n > refFlapChanges && t-m.changes[n-1-refFlapChanges] < refFlapWindow {
		m.flapAt = t
	}
}

// good is how far the canaries vouch for the network.
func (m *refSim) good() int {
	if m.c.canaries == 0 {
		return math.MaxInt
	}
	if m.impaired {
		return -1
	}
	var passes []int
	for k := range m.canaries {
		if m.canaries[k].conf != confPending {
			passes = append(passes, m.canPass[k])
		}
	}
	if len(passes) == 0 {
		return -1
	}
	return kth(passes, 1) // canary_require all: the earliest
}

func (m *refSim) commit(good int) {
	for len(m.held) > 0 && int(m.held[0].start) <= good {
		o := m.held[0]
		m.held = m.held[1:]
		m.outages = append(m.outages, o)
		m.open = o.end < 0
	}
}

func (m *refSim) canaryFeed(k int, run refRun) {
	c := &m.canaries[k]
	c.add(run)
	if run.ok {
		m.canPass[k] = run.at
	}
	var pass, fail []int
	for i := range m.canaries {
		switch m.canaries[i].conf {
		case confPassing:
			pass = append(pass, m.canaries[i].edge)
		case confFailing:
			fail = append(fail, m.canaries[i].edge)
		}
	}
	considered := len(pass) + len(fail)
	if considered == 0 {
		return
	}
	switch {
	case !m.impaired && len(pass) < considered:
		at := max(kth(fail, 1), m.vsince)
		m.impaired, m.vsince = true, at
		m.held = nil
		m.impSpans = append(m.impSpans, [2]int{at, -1})
	case m.impaired && len(pass) == considered:
		at := max(kth(pass, considered), m.vsince)
		m.impaired, m.vsince = false, at
		m.impSpans[len(m.impSpans)-1][1] = at
		open := -1
		if m.open {
			open = int(m.outages[len(m.outages)-1].start)
		}
		for i := range m.checks {
			m.checks[i].restart(open)
			m.last[i].at = -1
		}
		m.held, m.fresh = nil, false
		if m.machine == StateRecovering {
			m.machine = StateDown
		}
		m.states = append(m.states, stateAt{at, StateUnknown})
	}
}

// refOutcome is what the reference finds.
type refOutcome struct {
	outages  []outageSpan
	down     []bool // per second
	degraded []bool
	maint    []bool
	unmon    []bool
	endState State
	flapping bool
	// counterEnd is how far the downtime counter is final (downtimeHorizon).
	counterEnd int
}

func reference(c *refCase) refOutcome {
	m := newSim(c)
	gi := 0
	restartUntil := func(s int) {
		for gi < len(c.gaps) && c.gaps[gi][0] <= s {
			m.stop(c.gaps[gi][0])
			m.restart(c.gaps[gi][1])
			gi++
		}
	}
	for _, r := range c.results {
		restartUntil(r.at)
		m.result(r)
	}
	restartUntil(c.horizon - 1)
	m.catchUp(c.horizon - refBeat)
	return m.outcome()
}

func (m *refSim) outcome() refOutcome {
	c, n := m.c, m.c.horizon
	out := refOutcome{outages: m.outages}
	impaired := slices.Clone(m.impSpans)
	for i := range impaired {
		if impaired[i][1] < 0 {
			impaired[i][1] = n
		}
	}
	out.down, out.degraded = make([]bool, n), make([]bool, n)
	out.maint, out.unmon = make([]bool, n), make([]bool, n)
	k := 0
	slices.SortStableFunc(m.states, func(a, b stateAt) int { return a.at - b.at })
	for s := range n {
		for k < len(m.states) && m.states[k].at <= s {
			k++
		}
		out.unmon[s] = inSpans(c.gaps, s) || inSpans(impaired, s)
		if out.unmon[s] {
			continue
		}
		out.maint[s] = c.inMaint(s)
		if out.maint[s] {
			continue
		}
		for _, o := range m.outages {
			if float64(s) >= o.start && (o.end < 0 || float64(s) < o.end) {
				out.down[s] = true
			}
		}
		out.degraded[s] = k > 0 && m.states[k-1].state == StateDegraded
	}
	out.counterEnd = m.horizon(n)
	out.endState = StateUnknown
	switch {
	case inSpans(impaired, n-1) && m.impaired:
	case c.inMaint(n):
		out.endState = StateMaintenance
	case m.fresh:
		out.endState = m.machine
	}
	out.flapping = m.flapAt >= 0 && n-m.changes[len(m.changes)-1] < refFlapWindow
	return out
}

// horizon is how far the downtime counter is final at n.
func (m *refSim) horizon(n int) int {
	h := n
	if m.open {
		if m.machine == StateRecovering {
			h = min(h, m.recStart)
		}
		return h
	}
	for _, o := range m.held {
		h = min(h, int(o.start))
	}
	for i := range m.checks {
		c := &m.checks[i]
		if m.last[i].at < 0 || c.conf == confFailing {
			continue
		}
		nr := len(c.runs)
		if c.rule.wn > 0 {
			for _, x := range c.runs[max(0, nr-c.rule.wn):] {
				if !x.ok && (c.conf == confPending || x.at >= c.edge) {
					h = min(h, x.at)
					break
				}
			}
		} else if nr > 0 && !c.runs[nr-1].ok {
			k := nr - 1
			for k > 0 && !c.runs[k-1].ok {
				k--
			}
			h = min(h, c.runs[k].at)
		}
		if m.c.checks[i].stale && m.last[i].at >= 0 {
			h = min(h, m.last[i].at+refStale)
		}
	}
	return h
}
