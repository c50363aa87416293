package web

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

func TestIncidentsAPI(t *testing.T) {
	b, _ := fireBackend(t)
	s := New(b, Options{Region: "kr-central-1", Location: seoul})
	type feature struct {
		Service, Feature, Title string
		State                   sla.State
		OutageID                uint64 `json:"outage_id"`
	}
	type incident struct {
		ID, Label, Value, Region, Title string
		Start                           time.Time
		End                             *time.Time
		ActiveCount                     int `json:"active_count"`
		Features                        []feature
	}
	tests := []struct {
		query string
		want  []string // label=value:active_count of each incident, in order
	}{
		{"", []string{"datacenter=pangyo:4", "datacenter=busan:0"}},
		{"?active=true", []string{"datacenter=pangyo:4"}},
		{"?limit=1", []string{"datacenter=pangyo:4"}},
		{"?until=2022-10-15T00:00:00%2B09:00", []string{"datacenter=busan:0"}},
		{"?since=2022-10-15T00:00:00%2B09:00", []string{"datacenter=pangyo:4"}},
		{"?min_features=5", nil},
		{"?window=1m", []string{"datacenter=pangyo:3", "datacenter=busan:0"}}, // channel failed 2m after roadview
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := get(t, s, "/api/v1/incidents"+tt.query)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			var got struct{ Incidents []incident }
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got.Incidents == nil || !strings.Contains(body, `"incidents": [`) {
				t.Errorf("incidents is not a list: %s", body)
			}
			var summary []string
			for _, inc := range got.Incidents {
				summary = append(summary, inc.Label+"="+inc.Value+":"+strconv.Itoa(inc.ActiveCount))
			}
			if strings.Join(summary, " ") != strings.Join(tt.want, " ") {
				t.Errorf("incidents %v, want %v", summary, tt.want)
			}
		})
	}

	// The fields of the active one.
	_, body := get(t, s, "/api/v1/incidents?active=true")
	var got struct{ Incidents []incident }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	inc := got.Incidents[0]
	if inc.ID != "20221015T063300Z-datacenter-pangyo" || inc.Region != "kr-central-1" || inc.End != nil ||
		!inc.Start.Equal(kst(0, 15, 33)) || inc.Title != "datacenter pangyo: 4 features down since 15 Oct 06:33 UTC" ||
		len(inc.Features) != 4 || !strings.Contains(body, `"end": null`) {
		t.Errorf("active incident = %+v", inc)
	}
	want := []feature{
		{"kakaomap", "roadview", "Road view", sla.StateDown, 0},
		{"talk", "channel", "Talk Channel", sla.StateDown, 0},
		{"talk", "drawer", "Chat rooms: Talk drawer", sla.StateRecovering, 0},
		{"talk", "message", "Messages: send / receive", sla.StateDown, 0},
	}
	for i, w := range want {
		g := inc.Features[i]
		if g.Service != w.Service || g.Feature != w.Feature || g.Title != w.Title || g.State != w.State || g.OutageID == 0 {
			t.Errorf("feature %d = %+v, want %+v with an outage id", i, g, w)
		}
	}
}

func TestIncidentsAPIBadRequests(t *testing.T) {
	s := New(newBackend(t), Options{})
	for _, tt := range []struct{ query, want string }{
		{"?active=maybe", `active: \"maybe\" is not true or false`},
		{"?since=yesterday", "since: cannot read time"},
		{"?until=later", "until: cannot read time"},
		{"?limit=-1", `limit: \"-1\" is not a count`},
		{"?min_features=two", `min_features: \"two\" is not a count`},
		{"?window=soon", `window: \"soon\" is not a positive duration`},
		{"?window=0s", `window: \"0s\" is not a positive duration`},
	} {
		resp, body := get(t, s, "/api/v1/incidents"+tt.query)
		if resp.StatusCode != 400 || !strings.Contains(body, tt.want) {
			t.Errorf("GET /api/v1/incidents%s = %d %s, want 400 with %q", tt.query, resp.StatusCode, body, tt.want)
		}
	}
}
