package globalview

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The property test runs random timelines of 2-4 regions × 1-2 replicas
// (presence spans, gaps, outages, degraded spells, maintenance windows
// sent as rewrites, heartbeats with silences, impaired vantage and clean
// stops) through the View, delivered
// out of order and with repeats, and through a plain second-by-second
// reference written from the rules in timeline.go. Report figures, the
// state now and the global outages' edges and causes must agree to the
// second.

type refSpan struct {
	start, end int // end -1: open
	id         uint64
}

type refBeat struct {
	at     int
	up     bool
	final  bool
	silent bool // not sent
}

type refAgent struct {
	id, region string
	beats      []refBeat
	gaps       []refSpan
	presence   []refSpan
	outages    []refSpan
	degraded   []refSpan
	maint      []refSpan // closed windows
	// maintCut is where the second maintenance rewrite starts: the first
	// (since 0) says maint before it and decoys after it.
	maintCut int
}

type refWorld struct {
	horizon    int
	minRegions int
	agents     []*refAgent // sorted by region, id
}

const refStale = 30

func within(list []refSpan, t, cov int) bool {
	for _, s := range list {
		end := s.end
		if end < 0 || end > cov {
			end = cov
		}
		if s.start <= t && t < end {
			return true
		}
	}
	return false
}

func (a *refAgent) covEnd(now int) int {
	last, final := -1, false
	for _, b := range a.beats {
		if !b.silent && b.at > last {
			last, final = b.at, b.final
		}
	}
	switch {
	case last < 0:
		return -1 << 40
	case final:
		return min(last, now)
	case now <= last+refStale:
		return now
	}
	return min(last, now)
}

// vantageOut: the latest heartbeat at or before t said vantage_up=false.
func (a *refAgent) vantageOut(t int) bool {
	out := false
	for _, b := range a.beats {
		if !b.silent && b.at <= t {
			out = !b.up
		}
	}
	return out
}

// wouldMonitor: monitoring but for maintenance.
func (a *refAgent) wouldMonitor(t, now int) bool {
	cov := a.covEnd(now)
	return t < cov && within(a.presence, t, cov) && !within(a.gaps, t, 1<<40) && !a.vantageOut(t)
}

func (a *refAgent) inMaint(t, now int) bool {
	return a.wouldMonitor(t, now) && within(a.maint, t, 1<<40)
}

func (a *refAgent) monitoring(t, now int) bool {
	return a.wouldMonitor(t, now) && !within(a.maint, t, 1<<40)
}

// region returns the region's state at t: unknown, maintenance, up,
// degraded, down.
func (w *refWorld) region(name string, t int) string {
	mon, down, deg, maint := 0, 0, 0, 0
	for _, a := range w.agents {
		if a.region == name && a.inMaint(t, w.horizon) {
			maint++
		}
		if a.region != name || !a.monitoring(t, w.horizon) {
			continue
		}
		mon++
		if within(a.outages, t, 1<<40) {
			down++
		}
		if within(a.degraded, t, 1<<40) {
			deg++
		}
	}
	switch {
	case mon == 0 && maint > 0:
		return StateMaintenance
	case mon == 0:
		return StateUnknown
	case down == mon:
		return StateDown
	case down > 0 || deg > 0:
		return StateDegraded
	}
	return StateUp
}

func (w *refWorld) regions() []string {
	var out []string
	for _, a := range w.agents {
		if !slices.Contains(out, a.region) {
			out = append(out, a.region)
		}
	}
	return out
}

func (w *refWorld) global(t int) (string, []string) {
	mon, deg, maint := 0, 0, 0
	var down []string
	for _, r := range w.regions() {
		switch w.region(r, t) {
		case StateUnknown:
			continue
		case StateMaintenance:
			maint++
			continue
		case StateDown:
			down = append(down, r)
		case StateDegraded:
			deg++
		}
		mon++
	}
	k := min(w.minRegions, mon)
	switch {
	case mon == 0 && maint > 0:
		return StateMaintenance, nil
	case mon == 0:
		return StateUnknown, nil
	case len(down) >= k:
		return StateDown, down
	case len(down) > 0:
		return StateRegional, down
	case deg > 0:
		return StateDegraded, nil
	}
	return StateUp, nil
}

// randomSpans are up to n disjoint spans in [0, h); the last may be open.
func randomSpans(rng *rand.Rand, n, h int, nextID *uint64) []refSpan {
	var out []refSpan
	t := rng.IntN(h / 4)
	for range rng.IntN(n + 1) {
		if t >= h-1 {
			break
		}
		end := t + 1 + rng.IntN(h/3)
		*nextID++
		if end >= h || rng.IntN(6) == 0 {
			out = append(out, refSpan{t, -1, *nextID})
			break
		}
		out = append(out, refSpan{t, end, *nextID})
		t = end + rng.IntN(h/4)
	}
	return out
}

func randomWorld(rng *rand.Rand) *refWorld {
	w := &refWorld{horizon: 1200 + rng.IntN(2400), minRegions: 1 + rng.IntN(3)}
	h := w.horizon
	var id uint64
	for r := range 2 + rng.IntN(3) {
		for p := range 1 + rng.IntN(2) {
			a := &refAgent{id: fmt.Sprintf("r%d-%d", r, p), region: fmt.Sprintf("r%d", r)}
			a.presence = randomSpans(rng, 3, h, &id)
			if len(a.presence) == 0 || rng.IntN(3) > 0 {
				a.presence = append([]refSpan{{0, -1, 0}}, a.presence...)[:1]
			}
			a.gaps = randomSpans(rng, 1, h, &id)
			a.outages = randomSpans(rng, 3, h, &id)
			a.degraded = randomSpans(rng, 2, h, &id)
			for _, m := range randomSpans(rng, 2, h, &id) {
				if m.end < 0 {
					m.end = h + 1
				}
				a.maint = append(a.maint, m)
			}
			a.maintCut = rng.IntN(h)
			a.beats = randomBeats(rng, h)
			w.agents = append(w.agents, a)
		}
	}
	return w
}

// randomBeats: every 10 s from a random offset, with silences, impaired
// spells, and sometimes a stop (clean or not) before the horizon.
func randomBeats(rng *rand.Rand, h int) []refBeat {
	var out []refBeat
	stop := h
	if rng.IntN(3) == 0 {
		stop = rng.IntN(h)
	}
	up, silentUntil := true, -1
	for t := rng.IntN(10); t <= stop; t += 10 {
		if rng.IntN(40) == 0 {
			silentUntil = t + rng.IntN(200)
		}
		if rng.IntN(30) == 0 {
			up = !up
		}
		out = append(out, refBeat{at: t, up: up, silent: t < silentUntil})
	}
	if stop < h && len(out) > 0 && rng.IntN(2) == 0 {
		out[len(out)-1].final, out[len(out)-1].silent = true, false
	}
	return out
}

// records are the world's records: spans and outages sent open first when
// closed, then shuffled, with heartbeats kept in order and some repeats.
func (w *refWorld) records(rng *rand.Rand) (ordered []Record, repeats int) {
	f := newFeed(nil)
	var beats, rest []Record
	for _, a := range w.agents {
		for _, b := range a.beats {
			if !b.silent {
				f.add(a.id, a.region, TypeHeartbeat, b.at, func(r *Record) { r.VantageUp, r.Final = b.up, b.final })
				beats = append(beats, f.recs[len(f.recs)-1])
			}
		}
		// Maintenance as two rewrites: since 0 (the windows before the
		// cut and a decoy after it), then since the cut (the windows
		// starting from it on).
		if len(a.maint) > 0 {
			first, second := []Window{}, []Window{}
			for _, m := range a.maint {
				win := Window{at(m.start), at(m.end)}
				if m.start < a.maintCut {
					first = append(first, win)
				} else {
					second = append(second, win)
				}
			}
			first = append(first, Window{at(a.maintCut), at(a.maintCut + 50)})
			for _, rw := range []struct {
				since   int
				windows []Window
			}{{0, first}, {a.maintCut, second}} {
				f.add(a.id, a.region, TypeMaintenance, rw.since, func(r *Record) {
					r.Service, r.Feature, r.Since, r.Windows = "shop", "checkout", at(rw.since), rw.windows
				})
				rest = append(rest, f.recs[len(f.recs)-1])
			}
		}
		for _, kind := range []struct {
			typ  string
			list []refSpan
		}{{TypePresence, a.presence}, {TypeGap, a.gaps}, {TypeDegraded, a.degraded}, {TypeOutage, a.outages}} {
			for _, s := range kind.list {
				if s.end >= 0 {
					f.add(a.id, a.region, kind.typ, s.start, spanSetter(kind.typ, s, true))
					rest = append(rest, f.recs[len(f.recs)-1])
				}
				f.add(a.id, a.region, kind.typ, max(s.start, s.end), spanSetter(kind.typ, s, false))
				rest = append(rest, f.recs[len(f.recs)-1])
			}
		}
	}
	rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	for len(beats) > 0 || len(rest) > 0 {
		if len(rest) == 0 || (len(beats) > 0 && rng.IntN(2) == 0) {
			ordered, beats = append(ordered, beats[0]), beats[1:]
		} else {
			ordered, rest = append(ordered, rest[0]), rest[1:]
		}
		if rng.IntN(20) == 0 {
			ordered = append(ordered, ordered[rng.IntN(len(ordered))])
			repeats++
		}
	}
	return ordered, repeats
}

func spanSetter(typ string, s refSpan, asOpen bool) func(*Record) {
	return func(r *Record) {
		if typ != TypeGap {
			r.Service, r.Feature = "shop", "checkout"
		}
		r.Start, r.End = at(s.start), endAt(s.end)
		if asOpen {
			r.End = nil
		}
		if typ == TypeOutage {
			r.ID = s.id
			r.Cause.Check = fmt.Sprintf("o%d", s.id)
		}
	}
}

type refFigures struct {
	down, regional, unmonitored, maintenance int
}

func (w *refWorld) figures(from, to int) refFigures {
	var fig refFigures
	for t := from; t < to; t++ {
		switch st, _ := w.global(t); st {
		case StateDown:
			fig.down++
		case StateRegional:
			fig.regional++
		case StateUnknown:
			fig.unmonitored++
		case StateMaintenance:
			fig.maintenance++
		}
	}
	return fig
}

func (w *refWorld) outages() ([][2]int, []string) {
	var edges [][2]int
	var causes []string
	h := w.horizon
	for t := 0; t < h; t++ {
		if st, _ := w.global(t); st != StateDown {
			continue
		}
		start := t
		for t < h {
			if st, _ := w.global(t); st != StateDown {
				break
			}
			t++
		}
		end := t
		causes = append(causes, w.causes(start, end))
		if end == h {
			end = -1
		}
		edges = append(edges, [2]int{start, end})
	}
	return edges, causes
}

func (w *refWorld) causes(start, end int) string {
	var out []string
	for _, r := range w.regions() {
		for t := start; t < end; t++ {
			if w.region(r, t) != StateDown {
				continue
			}
			for _, a := range w.agents {
				if a.region == r && a.monitoring(t, w.horizon) && within(a.outages, t, 1<<40) {
					for _, o := range a.outages {
						if o.start <= t && (o.end < 0 || t < o.end) {
							out = append(out, fmt.Sprintf("%s:%s:o%d", r, a.id, o.id))
							break
						}
					}
					break
				}
			}
			break
		}
	}
	return fmt.Sprint(out)
}

func TestPropertyAgainstReference(t *testing.T) {
	runs := 300
	if testing.Short() {
		runs = 40
	}
	// Bounded in time too: -race makes each seed several times slower.
	deadline := time.Now().Add(40 * time.Second)
	for seed := range uint64(runs) {
		if time.Now().After(deadline) {
			t.Logf("%d seeds checked in the time allowed", seed)
			break
		}
		rng := rand.New(rand.NewPCG(seed, 17))
		w := randomWorld(rng)
		recs, repeats := w.records(rng)
		v := New(Options{MinRegions: w.minRegions, StaleAfter: refStale * time.Second, Clock: &fakeClock{now: at(w.horizon)}})
		dups := 0
		for _, r := range recs {
			switch err := v.Ingest(r); RejectionReason(err) {
			case "":
			case RejectDuplicate:
				dups++
			default:
				t.Fatalf("seed %d: ingest: %v", seed, err)
			}
		}
		if dups != repeats {
			t.Fatalf("seed %d: %d duplicates rejected, %d sent", seed, dups, repeats)
		}
		checkAgainstReference(t, seed, v, w, rng)
	}
}

func checkAgainstReference(t *testing.T, seed uint64, v *View, w *refWorld, rng *rand.Rand) {
	t.Helper()
	h := w.horizon
	for _, rg := range [][2]int{{0, h}, {rng.IntN(h), h + rng.IntN(100)}, {rng.IntN(h / 2), h / 2}} {
		want := w.figures(rg[0], rg[1])
		rep := v.Report(at(rg[0]), at(rg[1]))
		if len(rep.Features) == 0 {
			t.Fatalf("seed %d: no feature in the report", seed)
		}
		got := rep.Features[0]
		if got.DowntimeSeconds != float64(want.down) || got.RegionalSeconds != float64(want.regional) ||
			got.UnmonitoredSeconds != float64(want.unmonitored) || got.MaintenanceSeconds != float64(want.maintenance) {
			t.Fatalf("seed %d, report %v: down %v regional %v unmonitored %v maintenance %v; reference %+v",
				seed, rg, got.DowntimeSeconds, got.RegionalSeconds, got.UnmonitoredSeconds, got.MaintenanceSeconds, want)
		}
		for _, rf := range got.Regions {
			var want [4]int // down, degraded, maintenance, unmonitored
			for t := rg[0]; t < rg[1]; t++ {
				switch w.region(rf.Region, t) {
				case StateDown:
					want[0]++
				case StateDegraded:
					want[1]++
				case StateMaintenance:
					want[2]++
				case StateUnknown:
					want[3]++
				}
			}
			gotRegion := [4]int{int(rf.DowntimeSeconds), int(rf.DegradedSeconds), int(rf.MaintenanceSeconds), int(rf.UnmonitoredSeconds)}
			if gotRegion != want {
				t.Fatalf("seed %d, report %v, region %s: down, degraded, maintenance, unmonitored %v; reference %v",
					seed, rg, rf.Region, gotRegion, want)
			}
		}
	}
	edges, causes := w.outages()
	got := v.Outages("", "", time.Time{}, time.Time{})
	slices.Reverse(got)
	var gotEdges [][2]int
	var gotCauses []string
	for _, o := range got {
		e := -1
		if o.End != nil {
			e = int(o.End.Sub(t0) / time.Second)
		}
		gotEdges = append(gotEdges, [2]int{int(o.Start.Sub(t0) / time.Second), e})
		var cs []string
		for _, c := range o.Causes {
			cs = append(cs, c.Region+":"+c.Agent+":"+c.Cause.Check)
		}
		gotCauses = append(gotCauses, fmt.Sprint(cs))
	}
	if !slices.Equal(gotEdges, edges) || !slices.Equal(gotCauses, causes) {
		t.Fatalf("seed %d: outages %v causes %v; reference %v %v", seed, gotEdges, gotCauses, edges, causes)
	}
	fs := v.Features()[0]
	wantState, wantDown := w.global(h - 1)
	if fs.State != wantState || !slices.Equal(fs.RegionsDown, nonNilStrings(wantDown)) {
		t.Fatalf("seed %d: state %s %v, reference %s %v", seed, fs.State, fs.RegionsDown, wantState, wantDown)
	}
	for _, rs := range fs.Regions {
		if want := w.region(rs.Region, h-1); rs.State != want {
			t.Fatalf("seed %d: region %s %s, reference %s", seed, rs.Region, rs.State, want)
		}
	}
}
