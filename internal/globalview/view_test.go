package globalview

import (
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

const horizon = 3600 // seconds: the tests' now

// standard is three regions a (replicas a1, a2), b and c, each replica
// monitoring shop/checkout from 0 with heartbeats up to now, except the
// agents in silent (heartbeats up to their value) and the ones in skip.
func standard(f *feed, silent map[string]int, skip ...string) {
	for _, ag := range [...][2]string{{"a1", "a"}, {"a2", "a"}, {"b1", "b"}, {"c1", "c"}} {
		if slices.Contains(skip, ag[0]) {
			continue
		}
		last := horizon
		if s, ok := silent[ag[0]]; ok {
			last = s
		}
		f.beats(ag[0], ag[1], 0, last, true)
		f.span(ag[0], ag[1], TypePresence, 0, -1)
	}
}

func TestConsensus(t *testing.T) {
	type want struct {
		state                       string
		regionsDown                 []string
		regions                     map[string]string // region -> state now
		outages                     [][2]int          // global, oldest first; end -1 open
		causes                      []string          // agent/check of the first outage's causes
		down, regional, unmonitored float64           // report over [0, horizon)
	}
	cases := []struct {
		name  string
		opt   Options
		setup func(f *feed)
		want  want
	}{{
		name: "a alone down: regional naming a, no global outage",
		setup: func(f *feed) {
			standard(f, nil)
			f.outage("a1", "a", 1, 1000, -1, "api")
			f.outage("a2", "a", 7, 1001, -1, "api")
		},
		want: want{state: StateRegional, regionsDown: []string{"a"},
			regions:  map[string]string{"a": StateDown, "b": StateUp, "c": StateUp},
			regional: 2599},
	}, {
		name: "a and b down: global outage from b's start until one recovers",
		setup: func(f *feed) {
			standard(f, nil)
			f.outage("a1", "a", 1, 1000, 2000, "api")
			f.outage("a2", "a", 1, 1000, 2100, "api")
			f.outage("b1", "b", 3, 1200, 1800, "web")
		},
		want: want{state: StateUp, regions: map[string]string{"a": StateUp, "b": StateUp, "c": StateUp},
			outages: [][2]int{{1200, 1800}}, causes: []string{"a1/api", "b1/web"},
			down: 600, regional: 400},
	}, {
		name: "c silent: unmonitored from its last heartbeat, never up, no vote",
		setup: func(f *feed) {
			standard(f, map[string]int{"c1": 1500})
			f.outage("c1", "c", 1, 1400, -1, "db")
			f.outage("a1", "a", 1, 2000, -1, "api")
			f.outage("a2", "a", 1, 2000, -1, "api")
		},
		want: want{state: StateRegional, regionsDown: []string{"a"},
			regions: map[string]string{"a": StateDown, "b": StateUp, "c": StateUnknown},
			// [1400,1500) c alone, [2000,3600) a alone
			regional: 100 + 1600},
	}, {
		name: "one replica of a dies: no gap in a",
		setup: func(f *feed) {
			standard(f, map[string]int{"a2": 1500}, "b1", "c1")
		},
		want: want{state: StateUp, regions: map[string]string{"a": StateUp}},
	}, {
		name: "replica false alarm: a degraded, not down",
		setup: func(f *feed) {
			standard(f, nil)
			f.outage("a1", "a", 1, 1000, -1, "api")
			f.outage("b1", "b", 1, 1500, -1, "web")
		},
		want: want{state: StateRegional, regionsDown: []string{"b"},
			regions:  map[string]string{"a": StateDegraded, "b": StateDown, "c": StateUp},
			regional: 2100},
	}, {
		name: "vantage_up=false: the agent does not vote",
		setup: func(f *feed) {
			standard(f, map[string]int{"b1": 999})
			f.beats("b1", "b", 1000, 1990, false)
			f.beats("b1", "b", 2000, horizon, true)
			f.outage("a1", "a", 1, 1000, -1, "api")
			f.outage("a2", "a", 1, 1000, -1, "api")
			f.outage("b1", "b", 1, 1000, -1, "web")
		},
		want: want{state: StateDown, regionsDown: []string{"a", "b"},
			regions: map[string]string{"a": StateDown, "b": StateDown, "c": StateUp},
			outages: [][2]int{{2000, -1}}, causes: []string{"a1/api", "b1/web"},
			down: 1600, regional: 1000},
	}, {
		name: "MinRegionsFor service/feature 1: a alone is a global outage",
		opt:  Options{MinRegionsFor: map[string]int{"shop": 3, "shop/checkout": 1}},
		setup: func(f *feed) {
			standard(f, nil)
			f.outage("a1", "a", 1, 1000, -1, "api")
			f.outage("a2", "a", 1, 1000, -1, "api")
		},
		want: want{state: StateDown, regionsDown: []string{"a"},
			regions: map[string]string{"a": StateDown, "b": StateUp, "c": StateUp},
			outages: [][2]int{{1000, -1}}, causes: []string{"a1/api"}, down: 2600},
	}, {
		name: "MinRegionsFor service 3 with two regions monitoring: both are needed",
		opt:  Options{MinRegionsFor: map[string]int{"shop": 3}},
		setup: func(f *feed) {
			standard(f, nil, "c1")
			f.outage("a1", "a", 1, 1000, -1, "api")
			f.outage("a2", "a", 1, 1000, -1, "api")
			f.outage("b1", "b", 1, 3000, -1, "web")
		},
		want: want{state: StateDown, regionsDown: []string{"a", "b"},
			regions: map[string]string{"a": StateDown, "b": StateDown},
			outages: [][2]int{{3000, -1}}, causes: []string{"a1/api", "b1/web"}, down: 600, regional: 2000},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeed(t)
			tc.setup(f)
			v, _ := f.view(tc.opt, horizon)
			fs := v.Features()
			if len(fs) != 1 {
				t.Fatalf("features: %d, want 1", len(fs))
			}
			got := fs[0]
			if got.State != tc.want.state || !slices.Equal(got.RegionsDown, nonNilStrings(tc.want.regionsDown)) {
				t.Errorf("state %s, regions down %v; want %s, %v", got.State, got.RegionsDown, tc.want.state, tc.want.regionsDown)
			}
			regions := map[string]string{}
			for _, rs := range got.Regions {
				regions[rs.Region] = rs.State
			}
			if !mapsEqual(regions, tc.want.regions) {
				t.Errorf("regions %v, want %v", regions, tc.want.regions)
			}
			rep := v.Report(at(0), at(horizon))
			checkOutages(t, rep.Features[0].Outages, tc.want.outages, tc.want.causes)
			rf := rep.Features[0]
			if rf.DowntimeSeconds != tc.want.down || rf.RegionalSeconds != tc.want.regional || rf.UnmonitoredSeconds != tc.want.unmonitored {
				t.Errorf("report down %v regional %v unmonitored %v; want %v %v %v", rf.DowntimeSeconds,
					rf.RegionalSeconds, rf.UnmonitoredSeconds, tc.want.down, tc.want.regional, tc.want.unmonitored)
			}
			wantAvail := 1 - tc.want.down/(horizon-tc.want.unmonitored)
			if rf.Availability != wantAvail || rf.Met != (wantAvail >= DefaultObjective) {
				t.Errorf("availability %v met %v, want %v", rf.Availability, rf.Met, wantAvail)
			}
		})
	}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func checkOutages(t *testing.T, got []Outage, want [][2]int, causes []string) {
	t.Helper()
	var edges [][2]int
	for _, o := range got {
		e := -1
		if o.End != nil {
			e = int(o.End.Sub(t0) / time.Second)
		}
		edges = append(edges, [2]int{int(o.Start.Sub(t0) / time.Second), e})
	}
	if !slices.Equal(edges, want) {
		t.Fatalf("outages %v, want %v", edges, want)
	}
	if len(got) == 0 {
		return
	}
	var gotCauses []string
	for _, c := range got[0].Causes {
		gotCauses = append(gotCauses, c.Agent+"/"+c.Cause.Check)
	}
	if !slices.Equal(gotCauses, causes) {
		t.Errorf("causes %v, want %v", gotCauses, causes)
	}
}

func TestRegionStatus(t *testing.T) {
	f := newFeed(t)
	standard(f, map[string]int{"a2": 1500, "c1": 2000})
	f.outage("b1", "b", 1, 3000, -1, "web")
	v, _ := f.view(Options{}, horizon)
	got := map[string]RegionStatus{}
	for _, rs := range v.Features()[0].Regions {
		got[rs.Region] = rs
	}
	a, b, c := got["a"], got["b"], got["c"]
	if a.State != StateUp || !a.Since.Equal(at(0)) || a.Monitoring != 1 || !slices.Equal(a.Replicas, []string{"a1", "a2"}) || a.NoDataSince != nil {
		t.Errorf("a: %+v; want up since 0, 1 of a1, a2 monitoring", a)
	}
	if b.State != StateDown || !b.Since.Equal(at(3000)) || !b.Monitored {
		t.Errorf("b: %+v; want down since 3000", b)
	}
	if c.State != StateUnknown || c.Monitored || c.Monitoring != 0 || c.NoDataSince == nil ||
		!c.NoDataSince.Equal(at(2000)) || !c.Since.Equal(at(2000)) {
		t.Errorf("c: %+v; want unknown, no data since 2000", c)
	}
	if got := v.Regions(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("regions %v", got)
	}
}

// A live agent monitors up to now; once StaleAfter has passed with no
// heartbeat, only up to its last heartbeat; a final heartbeat ends it at once.
func TestCoverageEnd(t *testing.T) {
	cases := []struct {
		name     string
		lastBeat int
		final    bool
		now      int
		wantUnm  float64 // unmonitored in [0, now)
	}{
		{"live", 1000, false, 1030, 0},
		{"stale", 1000, false, 1031, 31},
		{"final", 1000, true, 1010, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeed(t)
			f.span("a1", "a", TypePresence, 0, -1)
			f.beats("a1", "a", 0, tc.lastBeat, true)
			f.recs[len(f.recs)-1].Final = tc.final
			v, _ := f.view(Options{}, tc.now)
			if got := v.Report(at(0), at(tc.now)).Features[0].UnmonitoredSeconds; got != tc.wantUnm {
				t.Errorf("unmonitored %v, want %v", got, tc.wantUnm)
			}
		})
	}
}

// Records of one agent out of order: the latest (by seq) state of an
// outage or span wins, whatever the arrival order.
func TestOutOfOrder(t *testing.T) {
	f := newFeed(t)
	standard(f, nil)
	f.outage("a1", "a", 1, 1000, -1, "api")
	f.outage("a1", "a", 1, 1000, 1500, "api")
	f.outage("a2", "a", 1, 1000, -1, "api")
	f.outage("a2", "a", 1, 1000, 1400, "api")
	f.outage("b1", "b", 9, 1100, -1, "web")
	f.outage("b1", "b", 9, 1100, 2000, "web")
	slices.Reverse(f.recs)
	v, _ := f.view(Options{}, horizon)
	checkOutages(t, v.Outages("", "", time.Time{}, time.Time{}), [][2]int{{1100, 1400}}, []string{"a1/api", "b1/web"})
	if got := v.Outages("shop", "other", time.Time{}, time.Time{}); len(got) != 0 {
		t.Errorf("outages of another feature: %v", got)
	}
	if got := v.Outages("", "", at(1400), time.Time{}); len(got) != 0 {
		t.Errorf("outages since their end: %v", got)
	}
}

func TestFlaggedClockSkew(t *testing.T) {
	f := newFeed(t)
	f.beats("a1", "a", 0, 0, true)
	f.beats("b1", "b", 900, 900, true) // 10 min ahead of the clock at 300
	v, _ := f.view(Options{}, 300)
	got := v.Flagged()
	if len(got) != 1 || got["b1"] != 10*time.Minute {
		t.Errorf("flagged %v, want b1: 10m", got)
	}
	// A later record within the skew clears the flag.
	if err := v.Ingest(Record{V: 1, Seq: 2, Agent: "b1", Region: "b", At: at(310), Type: TypeHeartbeat, VantageUp: true}); err != nil {
		t.Fatal(err)
	}
	if got := v.Flagged(); len(got) != 0 {
		t.Errorf("flagged %v after an in-time record", got)
	}
}

func TestFigures(t *testing.T) {
	f := newFeed(t)
	standard(f, nil)
	f.outage("a1", "a", 1, 1000, -1, "api")
	f.outage("a2", "a", 1, 1000, -1, "api")
	f.outage("b1", "b", 1, 1200, 2000, "web")
	v, _ := f.view(Options{ObjectiveFor: map[string]float64{"shop": 0.99}}, horizon)
	figs := v.Figures()
	if len(figs) != 1 {
		t.Fatalf("%d figures", len(figs))
	}
	got := figs[0]
	avail := 1 - 800.0/3600
	want := FeatureFigures{Service: "shop", Feature: "checkout", StateIndex: 3, RegionsDown: 1, RegionsMonitoring: 3,
		MinRegions: 2, Objective: 0.99, Availability: sla.Availability{Hour: avail, Day: avail, Week: avail, Month: avail, SLO: avail},
		BudgetRemaining: 1 - 800/((1-0.99)*3600), DowntimeSeconds: 800, RegionalSeconds: 200 + 1600,
		UnmonitoredSeconds: 30*86400 - 3600, OutageStart: at(1200), OutageLastDuration: 800}
	if math.Abs(got.BudgetRemaining-want.BudgetRemaining) > 1e-9 {
		t.Errorf("budget %v, want %v", got.BudgetRemaining, want.BudgetRemaining)
	}
	got.BudgetRemaining = want.BudgetRemaining
	// 5m: a regional spell, nothing down; 30m: 200 s of 1800; 1h and more: 800 s of 3600.
	wantBurn := [len(BurnWindows)]float64{0, 200.0 / 1800 / (1 - 0.99), 800.0 / 3600 / (1 - 0.99)}
	for i := 3; i < len(wantBurn); i++ {
		wantBurn[i] = wantBurn[2]
	}
	for i := range wantBurn {
		if math.Abs(got.BurnRate[i]-wantBurn[i]) > 1e-9 {
			t.Errorf("burn rate %s %v, want %v", BurnWindows[i], got.BurnRate[i], wantBurn[i])
		}
	}
	got.BurnRate = want.BurnRate
	if got != want {
		t.Errorf("figures\n%+v, want\n%+v", got, want)
	}
	if got.State() != StateRegional {
		t.Errorf("state %s", got.State())
	}
}

// Spans and outages that ended more than Retention ago are dropped.
func TestRetention(t *testing.T) {
	clock := &fakeClock{now: at(0)}
	v := New(Options{Clock: clock})
	f := newFeed(t)
	f.outage("a1", "a", 1, 0, 100, "api")
	f.outage("a1", "a", 2, 200, -1, "api")
	for _, r := range f.recs {
		if err := v.Ingest(r); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(at(101).Add(Retention))
	f.outage("a1", "a", 3, 300, 400, "api") // the ingest that prunes
	if err := v.Ingest(f.recs[len(f.recs)-1]); err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, o := range v.features[featureKey{"shop", "checkout"}].replicas[0].outages {
		ids = append(ids, o.id)
	}
	if !slices.Equal(ids, []uint64{2, 3}) {
		t.Errorf("outages kept %v, want [2 3]", ids)
	}
}

// Readers run while records come in (run with -race).
func TestConcurrentIngestAndRead(t *testing.T) {
	f := newFeed(t)
	standard(f, nil)
	for i := range 50 {
		f.outage("a1", "a", uint64(i+1), i*60, i*60+30, "api")
		f.outage("b1", "b", uint64(i+1), i*60+10, i*60+40, "web")
	}
	v := New(Options{Clock: &fakeClock{now: at(horizon)}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, r := range f.recs {
			if err := v.Ingest(r); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for reading := true; reading; {
		select {
		case <-done:
			reading = false
		default:
		}
		v.Features()
		v.Figures()
		v.Report(at(0), at(horizon))
		v.Outages("", "", time.Time{}, time.Time{})
	}
	// [i*60+10, i*60+30) is down from a1... but a2 is up: a is degraded,
	// never down; so no global outage, only b's regional time.
	rep := v.Report(at(0), at(horizon)).Features[0]
	if len(rep.Outages) != 0 || rep.RegionalSeconds != 50*30 {
		t.Errorf("outages %v regional %v, want none and 1500", rep.Outages, rep.RegionalSeconds)
	}
}

// maint sends a maintenance rewrite: from since on, the windows given as
// start, end pairs.
func (f *feed) maint(agent, region string, since int, windows ...[2]int) {
	f.add(agent, region, TypeMaintenance, since, func(r *Record) {
		r.Service, r.Feature, r.Since = "shop", "checkout", at(since)
		for _, w := range windows {
			r.Windows = append(r.Windows, Window{at(w[0]), at(w[1])})
		}
	})
}

// TestMaintenance: an agent in maintenance says neither down nor up; a
// region is in maintenance when its replicas that would monitor all are;
// regions in maintenance do not count towards k; time with every region
// that would monitor in maintenance is maintenance globally, out of the
// availability's denominator; a later rewrite replaces the windows from
// its since on.
func TestMaintenance(t *testing.T) {
	cases := []struct {
		name     string
		opt      Options
		setup    func(f *feed)
		state    string            // global, now
		regions  map[string]string // now
		down     float64           // report seconds over [0, horizon)
		regional float64
		maint    float64
		aMaint   float64 // region a's own maintenance seconds
	}{{
		name: "a1 in maintenance, a2 down with b: a down, a global outage",
		setup: func(f *feed) {
			standard(f, nil)
			f.maint("a1", "a", 0, [2]int{1000, horizon + 600})
			f.outage("a2", "a", 1, 1000, -1, "api")
			f.outage("b1", "b", 1, 1000, -1, "web")
		},
		state:   StateDown,
		regions: map[string]string{"a": StateDown, "b": StateDown, "c": StateUp},
		down:    2600,
	}, {
		name: "c in maintenance does not vote: a down alone with min 2 of a, b is regional",
		opt:  Options{MinRegions: 3},
		setup: func(f *feed) {
			standard(f, nil)
			f.maint("c1", "c", 0, [2]int{500, horizon + 600})
			f.outage("a1", "a", 1, 1000, -1, "api")
			f.outage("a2", "a", 1, 1000, -1, "api")
		},
		state:    StateRegional,
		regions:  map[string]string{"a": StateDown, "b": StateUp, "c": StateMaintenance},
		regional: 2600,
	}, {
		name: "every region in maintenance: global maintenance, outages inside it not down",
		setup: func(f *feed) {
			standard(f, nil)
			for _, ag := range [...][2]string{{"a1", "a"}, {"a2", "a"}, {"b1", "b"}, {"c1", "c"}} {
				f.maint(ag[0], ag[1], 0, [2]int{1000, 1600})
				f.outage(ag[0], ag[1], 1, 1200, 1900, "api")
			}
		},
		state:   StateUp,
		regions: map[string]string{"a": StateUp, "b": StateUp, "c": StateUp},
		down:    300, maint: 600, aMaint: 600,
	}, {
		name: "a rewrite calls off the rest of a window: maintenance to the cut only",
		setup: func(f *feed) {
			standard(f, nil)
			for _, ag := range [...][2]string{{"a1", "a"}, {"a2", "a"}, {"b1", "b"}, {"c1", "c"}} {
				f.maint(ag[0], ag[1], 0, [2]int{1000, 3000})
				f.maint(ag[0], ag[1], 1000, [2]int{1000, 1200})
			}
		},
		state:   StateUp,
		regions: map[string]string{"a": StateUp, "b": StateUp, "c": StateUp},
		maint:   200, aMaint: 200,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeed(t)
			tc.setup(f)
			v, _ := f.view(tc.opt, horizon)
			fs := v.Features()[0]
			got := map[string]string{}
			for _, r := range fs.Regions {
				got[r.Region] = r.State
			}
			if fs.State != tc.state || !maps.Equal(got, tc.regions) {
				t.Errorf("state %s regions %v, want %s %v", fs.State, got, tc.state, tc.regions)
			}
			rf := v.Report(at(0), at(horizon)).Features[0]
			if rf.DowntimeSeconds != tc.down || rf.RegionalSeconds != tc.regional || rf.MaintenanceSeconds != tc.maint ||
				rf.Regions[0].MaintenanceSeconds != tc.aMaint {
				t.Errorf("report down %v regional %v maintenance %v (a: %v), want %v %v %v (a: %v)", rf.DowntimeSeconds,
					rf.RegionalSeconds, rf.MaintenanceSeconds, rf.Regions[0].MaintenanceSeconds, tc.down, tc.regional, tc.maint, tc.aMaint)
			}
			if want := 1 - tc.down/(horizon-tc.maint); math.Abs(rf.Availability-want) > 1e-12 {
				t.Errorf("availability %v, want %v (maintenance out of the denominator)", rf.Availability, want)
			}
		})
	}
}
