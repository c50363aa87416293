package web

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/vigil-monitoring/vigil/sla"
)

// The engine reaches an impaired vantage and a flapping feature only through
// canaries and long timelines; these tests show them through the server's
// readVantage and readFeatures, on the fire landscape of a real engine.

// gwDown is the vantage of an agent whose gateway canary has failed since
// 15:58, twelve minutes before fireNow.
var gwDown = sla.VantageStatus{Configured: true, Up: false, Since: kst(0, 15, 58),
	Reason:   "canary gw failing: connection refused",
	Canaries: []sla.CheckStatus{{Name: "gw", Kind: "tcp", Error: "connection refused"}}}

// withVantage makes s show v as the agent's vantage.
func withVantage(s *Server, v sla.VantageStatus) *Server {
	s.readVantage = func() sla.VantageStatus { return v }
	return s
}

// withFlapping makes s show the engine's features with service/feature
// flapping since when.
func withFlapping(s *Server, service, feature string, since time.Time) *Server {
	read := s.readFeatures
	s.readFeatures = func() []sla.FeatureStatus {
		features := read()
		for i := range features {
			if features[i].Service == service && features[i].Feature == feature {
				features[i].Flapping, features[i].FlappingSince = true, &since
			}
		}
		return features
	}
	return s
}

func TestVantageBanner(t *testing.T) {
	const (
		en = "This agent's own network is impaired since 15:58 (12m): its figures for this time are not counted."
		ko = "15:58부터 이 에이전트 자체의 네트워크에 문제가 있습니다(12분째). 이 시간의 수치는 집계되지 않습니다."
	)
	tests := []struct {
		name          string
		vantage       *sla.VantageStatus // nil: the engine's own (no canaries)
		path          string
		want, notWant []string
	}{
		{name: "English", vantage: &gwDown, path: "/",
			want: []string{`<div class="banner vantage" role="alert"><p>` + en + `</p>`,
				`<p class="reason">Reason: canary gw failing: connection refused</p></div>`}},
		{name: "Korean", vantage: &gwDown, path: "/?lang=ko",
			want: []string{`<div class="banner vantage" role="alert"><p>` + ko + `</p>`,
				`<p class="reason">원인: canary gw failing: connection refused</p></div>`}},
		{name: "impaired without a time or reason", path: "/",
			vantage: &sla.VantageStatus{Configured: true},
			want:    []string{`<p>This agent's own network is impaired: its figures for this time are not counted.</p></div>`},
			notWant: []string{"Reason:"}},
		{name: "canaries up", path: "/", vantage: &sla.VantageStatus{Configured: true, Up: true, Since: kst(0, 9, 0)},
			notWant: []string{"banner vantage", "own network"}},
		{name: "canaries up, Korean", path: "/?lang=ko", vantage: &sla.VantageStatus{Configured: true, Up: true},
			notWant: []string{"banner vantage", "네트워크에 문제"}},
		{name: "no canaries: the engine's vantage", path: "/", notWant: []string{"banner vantage", "own network"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fireServer(t)
			if tt.vantage != nil {
				withVantage(s, *tt.vantage)
			}
			_, body := get(t, s, tt.path)
			body = html.UnescapeString(body)
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(body, w) {
					t.Errorf("page has %q", w)
				}
			}
			// The banner comes first, above the summary.
			if i := strings.Index(body, "banner vantage"); i >= 0 && i > strings.Index(body, `class="summary`) {
				t.Error("the vantage banner is below the summary")
			}
		})
	}
}

func TestFlappingBadge(t *testing.T) {
	const (
		en = `<h3>Messages: send / receive</h3><span class="badge st-down">Down</span> <span class="badge flapping" title="Its state has changed often lately; its downtime is still counted.">Flapping</span></div>`
		ko = `<span class="badge st-down">장애</span> <span class="badge flapping" title="최근 상태가 자주 바뀌었습니다. 장애 시간은 그대로 집계됩니다.">불안정</span></div>`
	)
	tests := []struct {
		name     string
		flapping bool
		path     string
		want     string
		badges   int
	}{
		{"English", true, "/", en, 1},
		{"Korean", true, "/?lang=ko", ko, 1},
		{"not flapping", false, "/", `<h3>Messages: send / receive</h3><span class="badge st-down">Down</span></div>`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fireServer(t)
			if tt.flapping {
				withFlapping(s, "talk", "message", kst(0, 15, 40))
			}
			_, body := get(t, s, tt.path)
			body = html.UnescapeString(body)
			if !strings.Contains(body, tt.want) {
				t.Errorf("page lacks %q", tt.want)
			}
			if n := strings.Count(body, "badge flapping"); n != tt.badges {
				t.Errorf("%d flapping badges, want %d", n, tt.badges)
			}
		})
	}
}

// TestFeaturesAPIVantage: /api/v1/features keeps its features list and
// carries the vantage beside it, and each feature's flapping flag.
func TestFeaturesAPIVantage(t *testing.T) {
	type response struct {
		Features []struct {
			Service, Feature string
			Flapping         bool       `json:"flapping"`
			FlappingSince    *time.Time `json:"flapping_since"`
		} `json:"features"`
		Vantage *struct {
			Configured, Up bool
			Since          time.Time
			Reason         string
			Canaries       []struct{ Name, Error string }
		} `json:"vantage"`
	}
	read := func(t *testing.T, s *Server) response {
		t.Helper()
		resp, body := get(t, s, "/api/v1/features")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET /api/v1/features: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var r response
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Features) != 9 || r.Vantage == nil {
			t.Fatalf("%d features, vantage %v; want 9 and a vantage:\n%s", len(r.Features), r.Vantage, body)
		}
		return r
	}

	r := read(t, fireServer(t))
	if v := r.Vantage; v.Configured || !v.Up || v.Reason != "" {
		t.Errorf("engine without canaries: vantage %+v, want up and not configured", *v)
	}
	for _, f := range r.Features {
		if f.Flapping || f.FlappingSince != nil {
			t.Errorf("%s/%s flapping %v since %v, want not flapping", f.Service, f.Feature, f.Flapping, f.FlappingSince)
		}
	}

	s := withFlapping(withVantage(fireServer(t), gwDown), "talk", "message", kst(0, 15, 40))
	r = read(t, s)
	if v := r.Vantage; !v.Configured || v.Up || !v.Since.Equal(gwDown.Since) || v.Reason != gwDown.Reason ||
		len(v.Canaries) != 1 || v.Canaries[0].Name != "gw" || v.Canaries[0].Error != "connection refused" {
		t.Errorf("impaired vantage %+v, want %+v", *v, gwDown)
	}
	for _, f := range r.Features {
		want := f.Service == "talk" && f.Feature == "message"
		if f.Flapping != want || (f.FlappingSince != nil) != want {
			t.Errorf("%s/%s flapping %v since %v, want %v", f.Service, f.Feature, f.Flapping, f.FlappingSince, want)
		}
		if want && !f.FlappingSince.Equal(kst(0, 15, 40)) {
			t.Errorf("flapping since %v, want %v", f.FlappingSince, kst(0, 15, 40))
		}
	}
}

// TestBulletinVantageNote: the bulletin says in one line, under its header,
// that the agent's own network is impaired, and says nothing of it otherwise.
func TestBulletinVantageNote(t *testing.T) {
	tests := []struct {
		name    string
		vantage sla.VantageStatus
		path    string
		second  string // the text's second line
		html    string // in the page
	}{
		{"English", gwDown, "/bulletin?format=text",
			"Note: this agent's own network is impaired since 15:58; what it sees now is not counted.", ""},
		{"Korean", gwDown, "/bulletin?format=text&lang=ko",
			"참고: 15:58부터 이 에이전트 자체의 네트워크에 문제가 있어, 지금 보이는 상태는 집계되지 않습니다.", ""},
		{"vantage up", sla.VantageStatus{Configured: true, Up: true}, "/bulletin?format=text",
			"Daum: News normal (Daum / Kakao mail degraded)", ""},
		{"page", gwDown, "/bulletin",
			"", `<p class="banner vantage" role="alert">Note: this agent's own network is impaired since 15:58; what it sees now is not counted.</p>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := get(t, withVantage(fireServer(t), tt.vantage), tt.path)
			if tt.html != "" {
				if body = html.UnescapeString(body); !strings.Contains(body, tt.html) {
					t.Errorf("page lacks %q:\n%s", tt.html, body)
				}
				return
			}
			lines := strings.Split(body, "\n")
			if len(lines) < 2 || lines[1] != tt.second {
				t.Errorf("second line %q, want %q:\n%s", lines[1], tt.second, body)
			}
			if n := strings.Count(body, "network"); tt.vantage.Up && n != 0 {
				t.Errorf("bulletin mentions the network %d times with the vantage up", n)
			}
		})
	}
}
