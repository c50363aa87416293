package globalrole

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/globalview"
	"github.com/vigil-monitoring/vigil/sla"
)

// recordFeed builds a view from records as agents publish them, in
// seconds after t0: heartbeats every 10 s, a presence span per feature,
// outages.
type recordFeed struct {
	t    *testing.T
	recs []globalview.Record
	seq  map[string]uint64
}

func newRecordFeed(t *testing.T) *recordFeed { return &recordFeed{t: t, seq: map[string]uint64{}} }

func sec(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func (f *recordFeed) add(agent, region, typ string, at int, set func(*globalview.Record)) {
	f.seq[agent]++
	r := globalview.Record{V: 1, Seq: f.seq[agent], Agent: agent, Region: region, At: sec(at), Type: typ}
	if set != nil {
		set(&r)
	}
	f.recs = append(f.recs, r)
}

// agent monitors the features ("service/feature") from 0 with heartbeats
// up to lastBeat.
func (f *recordFeed) agent(agent, region string, lastBeat int, features ...string) {
	for s := 0; s <= lastBeat; s += 10 {
		f.add(agent, region, globalview.TypeHeartbeat, s, func(r *globalview.Record) { r.VantageUp, r.Features = true, len(features) })
	}
	for _, sf := range features {
		service, feature, _ := strings.Cut(sf, "/")
		f.add(agent, region, globalview.TypePresence, 0, func(r *globalview.Record) {
			r.Service, r.Feature, r.Start = service, feature, sec(0)
		})
	}
}

// outage is the agent's outage of "service/feature" over [start, end)
// (end < 0: open).
func (f *recordFeed) outage(agent, region, sf string, id uint64, start, end int) {
	service, feature, _ := strings.Cut(sf, "/")
	f.add(agent, region, globalview.TypeOutage, max(start, end), func(r *globalview.Record) {
		r.Service, r.Feature, r.ID, r.Start = service, feature, id, sec(start)
		r.Cause = sla.Cause{Check: "api", Error: "connection refused"}
		if end >= 0 {
			e := sec(end)
			r.End = &e
		}
	})
}

// role is a role (not reading any stream, caught up) over the view of the
// records at t0+now.
func (f *recordFeed) role(now int) *Role {
	c := &clock{t: sec(now)}
	view := globalview.New(globalview.Options{MinRegions: 2, StaleAfter: 30 * time.Second, Clock: c})
	for _, r := range f.recs {
		if err := view.Ingest(r); err != nil {
			f.t.Fatalf("ingest %+v: %v", r, err)
		}
	}
	r := New(Source{URL: "nats://127.0.0.1:1", Stream: "UNUSED"}, Options{View: view, Location: time.UTC, Clock: c})
	r.consumer.caughtUp.Store(true)
	return r
}

// both makes sf down from regions a and b over [start, end).
func (f *recordFeed) both(sf string, id uint64, start, end int) {
	f.outage("a-0", "a", sf, id, start, end)
	f.outage("b-0", "b", sf, id, start, end)
}

var incidentFeatures = []string{"talk/send", "talk/drawer", "talk/inbox", "pay/card", "pay/refund"}

// incidentsOf summarizes incidents: "id active=N [service/feature@start-end regions...] title".
func incidentsOf(incs []globalview.Incident) string {
	var out []string
	for _, inc := range incs {
		var fs []string
		for _, f := range inc.Features {
			end := "open"
			if f.End != nil {
				end = f.End.Sub(t0).String()
			}
			fs = append(fs, fmt.Sprintf("%s/%s@%s-%s %s", f.Service, f.Feature, f.Start.Sub(t0), end, strings.Join(f.Regions, ",")))
		}
		out = append(out, fmt.Sprintf("%s active=%d [%s] %s", inc.ID, inc.ActiveCount, strings.Join(fs, "; "), inc.Title))
	}
	return strings.Join(out, "\n")
}

// TestGlobalIncidents: global outages of 2 features 2 minutes apart are
// one incident, 10 minutes apart are not (with 2 features each side, two
// incidents); a cascade inside one service does not sweep in a service
// that failed later than the window after the cascade began.
func TestGlobalIncidents(t *testing.T) {
	for _, tc := range []struct {
		name    string
		outages func(f *recordFeed)
		want    string
	}{{
		name: "2 min apart: one incident",
		outages: func(f *recordFeed) {
			f.both("talk/send", 1, 60, -1)
			f.both("pay/card", 2, 180, 600)
		},
		want: "20261101T000100Z-global-talk active=1 [pay/card@3m0s-10m0s a,b; talk/send@1m0s-open a,b] " +
			"talk, pay: 1 of 2 features down since 1 Nov 00:01 UTC",
	}, {
		name: "10 min apart, one feature each: no incident",
		outages: func(f *recordFeed) {
			f.both("talk/send", 1, 60, -1)
			f.both("pay/card", 2, 660, -1)
		},
		want: "",
	}, {
		name: "10 min apart, two features each: two incidents, the active one first",
		outages: func(f *recordFeed) {
			f.both("talk/send", 1, 60, 300)
			f.both("talk/drawer", 2, 90, 300)
			f.both("pay/card", 3, 660, -1)
			f.both("pay/refund", 4, 700, -1)
		},
		want: "20261101T001100Z-global-pay active=2 [pay/card@11m0s-open a,b; pay/refund@11m40s-open a,b] " +
			"pay: 2 features down since 1 Nov 00:11 UTC\n" +
			"20261101T000100Z-global-talk active=0 [talk/drawer@1m30s-5m0s a,b; talk/send@1m0s-5m0s a,b] " +
			"talk: 2 features were down for 4m0s from 1 Nov 00:01 UTC",
	}, {
		name: "a cascade in talk over 8 min; pay 9 min after it began stays apart",
		outages: func(f *recordFeed) {
			f.both("talk/send", 1, 60, -1)
			f.both("talk/drawer", 2, 300, -1)
			f.both("talk/inbox", 3, 540, -1)
			f.both("pay/card", 4, 600, -1)
		},
		want: "20261101T000100Z-global-talk active=3 [talk/drawer@5m0s-open a,b; talk/inbox@9m0s-open a,b; " +
			"talk/send@1m0s-open a,b] talk: 3 features down since 1 Nov 00:01 UTC",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRecordFeed(t)
			f.agent("a-0", "a", 1500, incidentFeatures...)
			f.agent("b-0", "b", 1500, incidentFeatures...)
			tc.outages(f)
			r := f.role(1500)
			if got := incidentsOf(r.st.incidents(globalview.IncidentQuery{})); got != tc.want {
				t.Errorf("incidents:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestGlobalIncidentsEndpoint: /api/v1/global/incidents filters by
// active, since and until, takes a window, refuses bad values; the
// active count is on /metrics.
func TestGlobalIncidentsEndpoint(t *testing.T) {
	f := newRecordFeed(t)
	f.agent("a-0", "a", 1500, incidentFeatures...)
	f.agent("b-0", "b", 1500, incidentFeatures...)
	f.both("talk/send", 1, 60, 300)
	f.both("talk/drawer", 2, 90, 300)
	f.both("pay/card", 3, 660, -1)
	f.both("pay/refund", 4, 700, -1)
	srv := httptest.NewServer(f.role(1500).Handler())
	defer srv.Close()
	rfc := func(s int) string { return url.QueryEscape(sec(s).Format(time.RFC3339)) }
	for _, tc := range []struct{ query, want string }{
		{"", "20261101T001100Z-global-pay 20261101T000100Z-global-talk"},
		{"?active=true", "20261101T001100Z-global-pay"},
		{"?until=" + rfc(100), "20261101T000100Z-global-talk"},
		{"?since=" + rfc(400), "20261101T001100Z-global-pay"},
		{"?window=15m", "20261101T000100Z-global-talk"},
	} {
		code, body := get(t, srv.URL+"/api/v1/global/incidents"+tc.query)
		var got struct{ Incidents []globalview.Incident }
		if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
			t.Fatalf("incidents%s: %d %v %s", tc.query, code, err, body)
		}
		var ids []string
		for _, inc := range got.Incidents {
			ids = append(ids, inc.ID)
		}
		if s := strings.Join(ids, " "); s != tc.want {
			t.Errorf("incidents%s: %q, want %q", tc.query, s, tc.want)
		}
		if tc.query == "?window=15m" && (len(got.Incidents) != 1 || len(got.Incidents[0].Features) != 4 ||
			got.Incidents[0].ActiveCount != 2 || got.Incidents[0].End != nil) {
			t.Errorf("incidents?window=15m: %s, want one active incident of 4 features, 2 active", body)
		}
	}
	for _, q := range []string{"?window=0", "?window=soon", "?active=maybe", "?since=NaN"} {
		if code, body := get(t, srv.URL+"/api/v1/global/incidents"+q); code != 400 || !strings.Contains(body, `"error"`) {
			t.Errorf("incidents%s: %d %s, want 400 with an error", q, code, body)
		}
	}
	_, body := get(t, srv.URL+"/metrics")
	if got := parseMetrics(t, body)["vigil_global_incidents_active"]; got != 1 {
		t.Errorf("vigil_global_incidents_active = %v, want 1", got)
	}
}

// TestClockSkewSeries: an agent whose records run 10 minutes ahead of the
// role's clock is accepted and shown with its skew; the others are not.
func TestClockSkewSeries(t *testing.T) {
	f := newRecordFeed(t)
	beat := func(r *globalview.Record) { r.VantageUp = true }
	f.add("a-0", "a", globalview.TypeHeartbeat, 1490, beat)
	f.add("c-0", "c", globalview.TypeHeartbeat, 2090, beat) // its clock is 600 s ahead
	srv := httptest.NewServer(f.role(1490).Handler())
	defer srv.Close()
	_, body := get(t, srv.URL+"/metrics")
	m := parseMetrics(t, body)
	if got := m[`vigil_global_agent_clock_skew_seconds{agent="c-0"}`]; got != 600 {
		t.Errorf("c-0's skew %v, want 600\n%s", got, body)
	}
	if _, ok := m[`vigil_global_agent_clock_skew_seconds{agent="a-0"}`]; ok {
		t.Errorf("a-0 shown with a skew; its clock agrees")
	}
}

// TestGlobalPageIncidents: the status page lists the active incidents
// (only those), in the page's language and time zone.
func TestGlobalPageIncidents(t *testing.T) {
	f := newRecordFeed(t)
	f.agent("a-0", "a", 1500, incidentFeatures...)
	f.agent("b-0", "b", 1500, incidentFeatures...)
	f.both("talk/send", 1, 60, 300)
	f.both("talk/drawer", 2, 90, 300)
	f.both("pay/card", 3, 660, -1)
	f.both("pay/refund", 4, 700, -1)
	srv := httptest.NewServer(f.role(1500).Handler())
	defer srv.Close()
	for _, tc := range []struct{ query, want string }{
		{"", "<li>pay: 2 of 2 features down since 2026-11-01 00:11:00 UTC</li>"},
		{"?lang=ko", "<li>pay: 기능 2개 중 2개 장애, 2026-11-01 00:11:00 UTC부터</li>"},
	} {
		_, page := get(t, srv.URL+"/"+tc.query)
		if !strings.Contains(page, tc.want) || strings.Count(page, "<li>") != 1 {
			t.Errorf("page%s: want exactly the active incident %q:\n%s", tc.query, tc.want, page)
		}
	}
}
