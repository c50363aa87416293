package sla

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/sla/store"
)

// labelled is a feature service/feature with one check "a" and the labels.
func labelled(service, feature string, labels map[string]string) FeatureSpec {
	s := testSpec(feature, "a")
	s.Service, s.ServiceTitle, s.Labels = service, strings.ToUpper(service[:1])+service[1:], labels
	return s
}

// kakao is a small landscape: four features in data center pangyo, two in
// gasan, four of them tier core.
func kakao() []FeatureSpec {
	return []FeatureSpec{
		labelled("talk", "message", map[string]string{"datacenter": "pangyo", "tier": "core"}),
		labelled("talk", "drawer", map[string]string{"datacenter": "pangyo"}),
		labelled("talk", "channel", map[string]string{"datacenter": "pangyo"}),
		labelled("daum", "mail", map[string]string{"datacenter": "pangyo", "tier": "core"}),
		labelled("pay", "payment", map[string]string{"datacenter": "gasan", "tier": "core"}),
		labelled("map", "roadview", map[string]string{"datacenter": "gasan", "tier": "core"}),
	}
}

// result is one check result in an incident timeline.
type result struct {
	at      float64 // seconds after t0
	feature string  // service/feature
	ok      bool
}

func down(at float64, feature string) result { return result{at, feature, false} }
func up(at float64, feature string) result   { return result{at, feature, true} }

// play opens an engine for region with specs, reports every feature up at
// t0, plays the results in order and leaves the clock at now.
func play(t *testing.T, region string, specs []FeatureSpec, results []result, now float64) *Engine {
	t.Helper()
	clock := newFakeClock(t0)
	e, err := New(store.NewMemory(), Options{Region: region, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	mustConfigure(t, e, specs...)
	for _, s := range specs {
		e.Observe(s.Service, s.Feature, "a", Observation{Start: t0, Success: true})
	}
	for _, r := range results {
		clock.Set(at(r.at))
		service, feature, _ := strings.Cut(r.feature, "/")
		e.Observe(service, feature, "a", Observation{Start: at(r.at), Success: r.ok, Error: "connection refused"})
	}
	clock.Set(at(now))
	return e
}

// incidentView is what a test compares of an incident.
type incidentView struct {
	label, value string
	start, end   float64 // end -1 while active
	features     []string
	active       int
}

func view(incs []Incident) []incidentView {
	out := make([]incidentView, 0, len(incs))
	for _, inc := range incs {
		v := incidentView{label: inc.Label, value: inc.Value, start: inc.Start.Sub(t0).Seconds(), end: -1, active: inc.ActiveCount}
		if inc.End != nil {
			v.end = inc.End.Sub(t0).Seconds()
		}
		for _, f := range inc.Features {
			v.features = append(v.features, f.Service+"/"+f.Feature)
		}
		out = append(out, v)
	}
	return out
}

func TestIncidentGrouping(t *testing.T) {
	pangyo := []string{"daum/mail", "talk/drawer", "talk/message"}
	tests := []struct {
		name    string
		region  string
		results []result
		now     float64
		query   IncidentQuery
		want    []incidentView
	}{{
		name:    "a data center fire: the data center explains as many as the region and wins",
		region:  "kr-central-1",
		results: []result{down(100, "talk/message"), down(130, "talk/drawer"), down(200, "daum/mail")},
		now:     1000,
		want:    []incidentView{{"datacenter", "pangyo", 100, -1, pangyo, 3}},
	}, {
		name:   "failures in both data centers: the region explains the most",
		region: "kr-central-1",
		results: []result{down(100, "talk/message"), down(130, "talk/drawer"), down(200, "daum/mail"),
			down(210, "pay/payment"), down(220, "map/roadview")},
		now: 1000,
		want: []incidentView{{"region", "kr-central-1", 100, -1,
			[]string{"daum/mail", "map/roadview", "pay/payment", "talk/drawer", "talk/message"}, 5}},
	}, {
		name:    "without a region, the data center beats tier core (3 features against 2)",
		results: []result{down(100, "talk/message"), down(130, "talk/drawer"), down(200, "daum/mail")},
		now:     1000,
		want:    []incidentView{{"datacenter", "pangyo", 100, -1, pangyo, 3}},
	}, {
		name: "tier core explains 4 features, pangyo 3: core wins and drawer alone is no incident",
		results: []result{down(100, "talk/message"), down(130, "talk/drawer"), down(200, "daum/mail"),
			down(210, "pay/payment"), down(220, "map/roadview")},
		now:  1000,
		want: []incidentView{{"tier", "core", 100, -1, []string{"daum/mail", "map/roadview", "pay/payment", "talk/message"}, 4}},
	}, {
		name: "a feature belongs to one incident: pangyo takes 4, gasan gets only what is left",
		results: []result{down(100, "talk/message"), down(130, "talk/drawer"), down(200, "daum/mail"), down(205, "talk/channel"),
			down(210, "pay/payment"), down(220, "map/roadview")},
		now: 1000,
		want: []incidentView{ // both active: newest first
			{"datacenter", "gasan", 210, -1, []string{"map/roadview", "pay/payment"}, 2},
			{"datacenter", "pangyo", 100, -1, []string{"daum/mail", "talk/channel", "talk/drawer", "talk/message"}, 4},
		},
	}, {
		name:    "starts more than 5 minutes apart are not one incident",
		region:  "kr-central-1",
		results: []result{down(100, "talk/message"), down(401, "talk/drawer")},
		now:     1000,
	}, {
		name:    "exactly 5 minutes apart still are",
		region:  "kr-central-1",
		results: []result{down(100, "talk/message"), down(400, "talk/drawer")},
		now:     1000,
		want:    []incidentView{{"datacenter", "pangyo", 100, -1, []string{"talk/drawer", "talk/message"}, 2}},
	}, {
		name:    "a cascade chains: each start within 5 minutes of the previous one",
		region:  "kr-central-1",
		results: []result{down(0, "talk/message"), down(240, "talk/drawer"), down(480, "daum/mail")},
		now:     1000,
		want:    []incidentView{{"datacenter", "pangyo", 0, -1, pangyo, 3}},
	}, {
		name:    "one feature down is an outage, not an incident",
		region:  "kr-central-1",
		results: []result{down(100, "talk/message")},
		now:     1000,
	}, {
		name:    "a minimum of 3 features leaves two out",
		region:  "kr-central-1",
		results: []result{down(100, "talk/message"), down(130, "talk/drawer")},
		now:     1000,
		query:   IncidentQuery{MinFeatures: 3},
	}, {
		name:    "a wider window groups starts 10 minutes apart",
		region:  "kr-central-1",
		results: []result{down(100, "talk/message"), down(700, "talk/drawer")},
		now:     1000,
		query:   IncidentQuery{Window: 10 * time.Minute},
		want:    []incidentView{{"datacenter", "pangyo", 100, -1, []string{"talk/drawer", "talk/message"}, 2}},
	}, {
		name:   "it ends when the last outage closes; partly recovered it stays active",
		region: "kr-central-1",
		results: []result{down(100, "talk/message"), down(130, "talk/drawer"), down(200, "daum/mail"),
			up(500, "talk/message"), up(600, "daum/mail")},
		now:  1000,
		want: []incidentView{{"datacenter", "pangyo", 100, -1, pangyo, 1}},
	}, {
		name:   "ended incident",
		region: "kr-central-1",
		results: []result{down(100, "talk/message"), down(130, "talk/drawer"),
			up(500, "talk/message"), up(900, "talk/drawer")},
		now:  1000,
		want: []incidentView{{"datacenter", "pangyo", 100, 900, []string{"talk/drawer", "talk/message"}, 0}},
	}, {
		name:   "active only",
		region: "kr-central-1",
		results: []result{down(100, "talk/message"), down(130, "talk/drawer"), up(500, "talk/message"), up(900, "talk/drawer"),
			down(5000, "pay/payment"), down(5010, "map/roadview")},
		now:   6000,
		query: IncidentQuery{Active: true},
		want:  []incidentView{{"datacenter", "gasan", 5000, -1, []string{"map/roadview", "pay/payment"}, 2}},
	}, {
		name:   "active first, then newest first",
		region: "kr-central-1",
		results: []result{down(100, "pay/payment"), down(110, "map/roadview"),
			down(1000, "talk/message"), down(1010, "talk/drawer"), up(1500, "talk/message"), up(1600, "talk/drawer"),
			down(3000, "daum/mail"), down(3010, "talk/message"), up(3500, "daum/mail"), up(3600, "talk/message")},
		now: 6000,
		want: []incidentView{
			{"datacenter", "gasan", 100, -1, []string{"map/roadview", "pay/payment"}, 2},
			{"datacenter", "pangyo", 3000, 3600, []string{"daum/mail", "talk/message"}, 0},
			{"datacenter", "pangyo", 1000, 1600, []string{"talk/drawer", "talk/message"}, 0},
		},
	}, {
		name:   "since and until select overlapping incidents; limit cuts",
		region: "kr-central-1",
		results: []result{down(1000, "talk/message"), down(1010, "talk/drawer"), up(1500, "talk/message"), up(1600, "talk/drawer"),
			down(3000, "daum/mail"), down(3010, "talk/message"), up(3500, "daum/mail"), up(3600, "talk/message")},
		now:   6000,
		query: IncidentQuery{Since: at(1550), Until: at(3000), Limit: 1},
		want:  []incidentView{{"datacenter", "pangyo", 3000, 3600, []string{"daum/mail", "talk/message"}, 0}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := play(t, tt.region, kakao(), tt.results, tt.now)
			got := view(e.Incidents(tt.query))
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("incidents:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestIncidentFields(t *testing.T) {
	e := play(t, "kr-central-1", kakao(), []result{
		down(100, "talk/message"), up(120, "talk/message"), down(130, "talk/drawer"), down(160, "talk/message"),
		down(200, "daum/mail"), up(400, "daum/mail"),
	}, 1000)
	incs := e.Incidents(IncidentQuery{})
	if len(incs) != 1 {
		t.Fatalf("got %d incidents, want 1: %+v", len(incs), incs)
	}
	inc := incs[0]
	outageIDs := map[string][]uint64{}
	for _, o := range e.Outages(OutageQuery{}) {
		outageIDs[o.Service+"/"+o.Feature] = append(outageIDs[o.Service+"/"+o.Feature], o.ID) // newest first
	}
	wantStart := at(100)
	if inc.ID != "20261101T000140Z-datacenter-pangyo" || inc.Region != "kr-central-1" || !inc.Start.Equal(wantStart) ||
		inc.End != nil || inc.ActiveCount != 2 || !inc.Active() {
		t.Errorf("incident = %+v", inc)
	}
	if want := "datacenter pangyo: 2 of 3 features down since 1 Nov 00:01 UTC"; inc.Title != want {
		t.Errorf("title = %q, want %q", inc.Title, want)
	}
	mailEnd := at(400)
	want := []IncidentFeature{
		{Service: "daum", Feature: "mail", Title: "Feature mail", ServiceTitle: "Daum", OutageID: outageIDs["daum/mail"][0],
			State: StateUp, Start: at(200), End: &mailEnd},
		{Service: "talk", Feature: "drawer", Title: "Feature drawer", ServiceTitle: "Talk", OutageID: outageIDs["talk/drawer"][0],
			State: StateDown, Start: at(130)},
		// message flapped: listed once, pointing at its open outage.
		{Service: "talk", Feature: "message", Title: "Feature message", ServiceTitle: "Talk", OutageID: outageIDs["talk/message"][0],
			State: StateDown, Start: at(100)},
	}
	if len(inc.Features) != len(want) {
		t.Fatalf("features = %+v, want %+v", inc.Features, want)
	}
	for i := range want {
		g, w := inc.Features[i], want[i]
		if g.Service != w.Service || g.Feature != w.Feature || g.Title != w.Title || g.ServiceTitle != w.ServiceTitle ||
			g.OutageID != w.OutageID || g.State != w.State || !g.Start.Equal(w.Start) || (g.End == nil) != (w.End == nil) ||
			(g.End != nil && !g.End.Equal(*w.End)) {
			t.Errorf("feature %d = %+v, want %+v", i, g, w)
		}
	}
	if len(outageIDs["talk/message"]) != 2 {
		t.Errorf("talk/message outages = %v, want 2", outageIDs["talk/message"])
	}

	// Once all recover, the title tells how long it lasted.
	clock := e.clock.(*fakeClock)
	for _, f := range []string{"talk/message", "talk/drawer"} {
		clock.Set(at(700))
		service, feature, _ := strings.Cut(f, "/")
		e.Observe(service, feature, "a", Observation{Start: at(700), Success: true})
	}
	inc = e.Incidents(IncidentQuery{})[0]
	if want := "datacenter pangyo: 3 features were down for 10m0s from 1 Nov 00:01 UTC"; inc.Title != want || inc.End == nil || !inc.End.Equal(at(700)) {
		t.Errorf("ended incident = %q, end %v; want %q ending at %v", inc.Title, inc.End, want, at(700))
	}
}

func TestIncidentsIncludeRemovedFeatures(t *testing.T) {
	specs := kakao()
	e := play(t, "kr-central-1", specs, []result{down(100, "talk/message"), down(130, "talk/drawer"),
		up(500, "talk/message"), up(600, "talk/drawer")}, 1000)
	mustConfigure(t, e, specs[2:]...) // talk is gone from the config
	got := view(e.Incidents(IncidentQuery{}))
	want := []incidentView{{"datacenter", "pangyo", 100, 600, []string{"talk/drawer", "talk/message"}, 0}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("incidents after removal = %+v, want %+v", got, want)
	}
}

// TestIncidentsConcurrent queries incidents and history while results
// arrive; run with -race.
func TestIncidentsConcurrent(t *testing.T) {
	clock := newFakeClock(t0)
	e := memTest(t, clock)
	specs := kakao()
	mustConfigure(t, e, specs...)
	var wg sync.WaitGroup
	var mu sync.Mutex
	tick := 0
	for w := range 3 {
		wg.Go(func() {
			for i := range 300 {
				mu.Lock()
				tick++
				now := t0.Add(time.Duration(tick) * 7 * time.Second)
				clock.Set(now)
				s := specs[(i+w)%len(specs)]
				e.Observe(s.Service, s.Feature, "a", Observation{Start: now, Success: i%5 != 0})
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			_ = e.Incidents(IncidentQuery{})
			_ = e.DailyHistory("talk", "message", 90, time.UTC)
			_ = e.Incidents(IncidentQuery{Active: true})
		}
	})
	wg.Wait()
	// Every outage is in at most one incident.
	seen := map[uint64]string{}
	for _, inc := range e.Incidents(IncidentQuery{}) {
		for _, f := range inc.Features {
			if prev, dup := seen[f.OutageID]; dup {
				t.Errorf("outage %d in incidents %s and %s", f.OutageID, prev, inc.ID)
			}
			seen[f.OutageID] = inc.ID
		}
		if !slices.IsSortedFunc(inc.Features, func(a, b IncidentFeature) int {
			return strings.Compare(a.Service+"\x00"+a.Feature, b.Service+"\x00"+b.Feature)
		}) {
			t.Errorf("incident %s features not sorted", inc.ID)
		}
	}
}
