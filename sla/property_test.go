package sla

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/sla/store"
)

// The property test runs random timelines through the engine (closing and
// reopening it over agent gaps) and through a plain reference: a scan over
// the evaluations for outages, and a second-by-second classification for
// every duration. They must agree to the second.

type refResult struct {
	at    int // start, seconds after t0
	check int
	ok    bool
	dur   time.Duration
}

type refCase struct {
	seed    uint64
	checks  int
	require Require
	failTh  int
	recTh   int
	latency time.Duration
	horizon int         // seconds
	windows [][2]int    // one-off maintenance [start, end)
	cron    bool        // "*/5 * * * *" for 60s
	gaps    [][2]int    // agent not running [start, end)
	results []refResult // sorted by start, none inside gaps
}

func (c *refCase) inMaint(s int) bool {
	if c.cron && s%300 < 60 {
		return true
	}
	for _, w := range c.windows {
		if w[0] <= s && s < w[1] {
			return true
		}
	}
	return false
}

func (c *refCase) inGap(s int) bool {
	for _, g := range c.gaps {
		if g[0] <= s && s < g[1] {
			return true
		}
	}
	return false
}

// segment counts the agent restarts before second s.
func (c *refCase) segment(s int) int {
	n := 0
	for _, g := range c.gaps {
		if g[0] <= s {
			n++
		}
	}
	return n
}

func (c *refCase) spec() FeatureSpec {
	names := make([]string, c.checks)
	for i := range names {
		names[i] = fmt.Sprintf("c%d", i)
	}
	s := testSpec("prop", names...)
	s.Require, s.FailureThreshold, s.RecoveryThreshold, s.Latency = c.require, c.failTh, c.recTh, c.latency
	for _, w := range c.windows {
		s.Maintenance = append(s.Maintenance, Maintenance{Start: at(float64(w[0])), Duration: time.Duration(w[1]-w[0]) * time.Second})
	}
	if c.cron {
		s.Maintenance = append(s.Maintenance, Maintenance{Cron: "*/5 * * * *", Location: time.UTC, Duration: time.Minute})
	}
	return s
}

func genCase(seed uint64) *refCase {
	rng := rand.New(rand.NewPCG(seed, seed*7+1))
	c := &refCase{seed: seed, checks: 1 + rng.IntN(3), failTh: 1 + rng.IntN(4), recTh: 1 + rng.IntN(4),
		horizon: 400 + rng.IntN(800)}
	switch rng.IntN(3) {
	case 0:
		c.require = Require{Mode: RequireAll}
	case 1:
		c.require = Require{Mode: RequireAny}
	default:
		c.require = Require{Mode: RequireQuorum, N: 1 + rng.IntN(c.checks)}
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
	// Health phases: each check passes with some probability, or is silent.
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
		for ch := range c.checks {
			if (s-3*ch)%10 != 0 || s < 3*ch || phases[pi].silent[ch] || c.inGap(s) || rng.IntN(15) == 0 {
				continue
			}
			c.results = append(c.results, refResult{at: s, check: ch, ok: rng.Float64() < phases[pi].pOK[ch],
				dur: time.Duration(rng.IntN(10)) * 100 * time.Millisecond})
		}
	}
	return c
}

// refOutcome is what the reference finds.
type refOutcome struct {
	outages  []outageSpan
	down     []bool // per second
	degraded []bool
	maint    []bool
	unmon    []bool
	endState State
	// counterEnd is how far the downtime counter is final: the start of
	// recovery while recovering (the outage may end there), else the horizon.
	counterEnd int
}

func reference(c *refCase) refOutcome {
	type eval struct {
		at             int
		pass, degraded bool
		seg            int
	}
	var evals []eval
	latest := make([]*refResult, c.checks)
	seg := 0
	for i := range c.results {
		r := &c.results[i]
		if s := c.segment(r.at); s != seg {
			seg = s
			latest = make([]*refResult, c.checks) // results are not kept over a restart
		}
		latest[r.check] = r
		if c.inMaint(r.at) {
			continue
		}
		all := !slices.Contains(latest, nil)
		considered, passes, failed := 0, 0, 0
		var slowest time.Duration
		for _, l := range latest {
			switch {
			case l == nil && !all:
				continue
			case l == nil || r.at-l.at > 25 || !l.ok:
				considered++
				failed++
			default:
				considered++
				passes++
				slowest = max(slowest, l.dur)
			}
		}
		var pass bool
		switch c.require.Mode {
		case RequireAll:
			pass = failed == 0
		case RequireAny:
			pass = passes >= 1
		default:
			pass = passes >= min(c.require.N, considered)
		}
		evals = append(evals, eval{at: r.at, pass: pass, seg: seg,
			degraded: pass && (failed > 0 || (c.latency > 0 && slowest > c.latency))})
	}

	// Outages: FT failures in a row open one from the first of them; RT
	// passes in a row close it at the first of them. A restart starts both
	// runs over.
	var out refOutcome
	open := false
	failRun, failStart, passRun, passStart, lastSeg := 0, 0, 0, 0, 0
	machine := StateUnknown
	type stateAt struct {
		at    int
		seg   int
		state State
	}
	var states []stateAt
	for _, ev := range evals {
		if ev.seg != lastSeg {
			failRun, passRun, lastSeg = 0, 0, ev.seg
		}
		good := StateUp
		if ev.degraded {
			good = StateDegraded
		}
		switch {
		case !open && ev.pass:
			failRun, machine = 0, good
		case !open:
			if failRun == 0 {
				failStart = ev.at
			}
			failRun++
			if failRun >= c.failTh {
				out.outages = append(out.outages, outageSpan{float64(failStart), -1})
				open, failRun, machine = true, 0, StateDown
			}
		case ev.pass:
			if passRun == 0 {
				passStart = ev.at
			}
			passRun++
			machine = StateRecovering
			if passRun >= c.recTh {
				out.outages[len(out.outages)-1].end = float64(passStart)
				open, passRun, machine = false, 0, good
			}
		default:
			passRun, machine = 0, StateDown
		}
		states = append(states, stateAt{ev.at, ev.seg, machine})
	}

	n := c.horizon
	out.down, out.degraded = make([]bool, n), make([]bool, n)
	out.maint, out.unmon = make([]bool, n), make([]bool, n)
	k := 0
	for s := range n {
		for k < len(states) && states[k].at <= s {
			k++
		}
		out.unmon[s] = c.inGap(s)
		if out.unmon[s] {
			continue
		}
		out.maint[s] = c.inMaint(s)
		if out.maint[s] {
			continue
		}
		for _, o := range out.outages {
			if float64(s) >= o.start && (o.end < 0 || float64(s) < o.end) {
				out.down[s] = true
			}
		}
		// The shown state is the machine's after the last evaluation of
		// this run of the agent; before one, it is unknown.
		out.degraded[s] = k > 0 && states[k-1].seg == c.segment(s) && states[k-1].state == StateDegraded
	}
	out.counterEnd = c.horizon
	if open && passRun > 0 && lastSeg == c.segment(c.horizon) {
		out.counterEnd = passStart
	}
	out.endState = StateUnknown
	switch {
	case c.inMaint(n):
		out.endState = StateMaintenance
	case len(states) > 0 && states[len(states)-1].seg == c.segment(n):
		out.endState = states[len(states)-1].state
	}
	return out
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
		e, err := openStore(Options{Region: "prop", Clock: clock, noSync: true})
		if err != nil {
			t.Fatalf("seed %d: open: %v", c.seed, err)
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
		e.Observe("talk", "prop", fmt.Sprintf("c%d", r.check), Observation{
			Start: at(float64(r.at)), Duration: r.dur, Success: r.ok, Error: "probe failed"})
	}
	restartUntil(c.horizon - 1)
	clock.Set(at(float64(c.horizon)))
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
		return fmt.Sprintf("%s store, seed %d (checks %d, require %+v, thresholds %d/%d, latency %s, maint %v cron %v, gaps %v)",
			store, seed, c.checks, c.require, c.failTh, c.recTh, c.latency, c.windows, c.cron, c.gaps)
	}
	if got := spans(e.Outages(OutageQuery{})); !slices.Equal(got, want.outages) && len(got)+len(want.outages) > 0 {
		t.Fatalf("%s:\noutages %v\nwant    %v", describe(), got, want.outages)
	}
	st := status(t, e, "prop")
	if st.State != want.endState {
		t.Errorf("%s: state at the end %s, want %s", describe(), st.State, want.endState)
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
	// Lifetime counters: exact, since every restart here is a clean one.
	// Downtime counts only what is final: not the time since a recovery
	// began, which stops being downtime if the recovery completes.
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
