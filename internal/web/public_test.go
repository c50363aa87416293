package web

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/sla"
)

// fireConfig is a vigil.yml for the fire landscape: the services in the
// order of the 17 October bulletin (not by name), titles in English and
// Korean, the public page on and Seoul's time. The engine is configured by
// the fixture; the pages take titles, order and the web block from here.
const fireConfig = `agent: {region: kr-central-1}
web: {public: true, timezone: Asia/Seoul}
services:
  - name: talk
    title: {en: KakaoTalk, ko: 카카오톡}
    features:
      - {name: message, title: {en: "Messages: send / receive", ko: "메시지: 수발신"}, checks: [{name: api, http: {url: "http://10.1.2.3:443/message"}}]}
      - {name: drawer, title: {en: "Chat rooms: Talk drawer", ko: "채팅방: 톡서랍"}, checks: [{name: api, http: {url: "http://10.1.2.3:443/drawer"}}]}
      - {name: rooms, title: {en: "Chat rooms: main functions", ko: "채팅방: 주요 기능"}, checks: [{name: api, http: {url: "http://10.1.2.3:443/rooms"}}]}
      - {name: channel, title: {en: Talk Channel, ko: 톡채널}, checks: [{name: api, http: {url: "http://10.1.2.3:443/channel"}}]}
  - name: pay
    title: {en: Kakao Pay, ko: 카카오페이}
    features:
      - name: payment
        title: {en: "Online / offline payment", ko: "온·오프라인 결제"}
        maintenance: [{start: "2022-10-15T16:00:00+09:00", duration: 1h}]
        checks: [{name: api, http: {url: "http://10.1.2.3:443/payment"}}]
      - {name: transfer, title: {en: Account transfer, ko: 계좌 이체}, checks: [{name: api, http: {url: "http://10.1.2.3:443/transfer"}}]}
  - name: daum
    title: 다음
    features:
      - {name: mail, title: {en: Daum / Kakao mail, ko: 다음·카카오 메일}, checks: [{name: api, http: {url: "http://10.1.2.3:443/mail"}}]}
      - {name: news, title: {en: News, ko: 뉴스}, checks: [{name: api, http: {url: "http://10.1.2.3:443/news"}}]}
  - name: kakaomap
    title: {en: Kakao Map, ko: 카카오맵}
    features:
      - {name: roadview, title: {en: Road view, ko: 로드뷰}, checks: [{name: api, http: {url: "http://10.1.2.3:443/roadview"}}]}
`

// configBackend is the fire backend with a vigil.yml, as the agent is.
type configBackend struct {
	*backend
	cfg *config.Config
}

func (b *configBackend) Config() *config.Config { return b.cfg }

// fireIncidentID is the ID of the fire's incident, as the engine groups it.
func fireIncidentID(t *testing.T, s *Server) string {
	t.Helper()
	for _, inc := range s.backend.Engine().Incidents(sla.IncidentQuery{Active: true}) {
		return inc.ID
	}
	t.Fatal("no active incident in the fire fixture")
	return ""
}

// publicServer serves the fire with fireConfig (web.public, Asia/Seoul),
// two operator updates on the fire's incident and a story clock. Its
// Options.Location is UTC, which the config's zone overrides.
func publicServer(t *testing.T, yml string) *Server {
	t.Helper()
	b, _ := fireBackend(t)
	cfg, err := config.Parse("vigil.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	s := New(&configBackend{backend: b, cfg: cfg}, Options{ListenAddress: "127.0.0.1:0", Region: "kr-central-1", Location: time.UTC,
		StoryClock: func() time.Time { return kst(0, 15, 41) }})
	id := fireIncidentID(t, s)
	s.opts.Updates = func(inc sla.Incident) []IncidentUpdate {
		if inc.ID != id {
			return nil
		}
		return []IncidentUpdate{
			{Time: kst(0, 16, 5), Status: "identified", Message: map[string]string{"en": "Power is being restored to the pangyo site.", "ko": "판교 데이터센터 전원을 복구하고 있습니다."}},
			{Time: kst(0, 15, 45), Status: "investigating", Message: map[string]string{"en": "We are looking into failures of several services."}},
		}
	}
	return s
}

// internalText is what only the internal view may show: probe errors,
// targets, check names and the API links.
var internalText = []string{"nats: no responders", "10.1.2.3", "connection refused", "check api", "api: HTTP 503",
	"slowest passing run", "/metrics", "api/v1/"}

func TestPublicAndInternalViews(t *testing.T) {
	s := publicServer(t, fireConfig)
	tests := []struct {
		name, path    string
		want, notWant []string
	}{{
		name: "public by web.public",
		path: "/",
		want: []string{
			"Times in KST (UTC+09:00).", // web.timezone wins over Options.Location (UTC)
			`<strong class="story">15 Oct 15:41, story time</strong> · As of 15 Oct 16:10`,
			"<p>Data center pangyo: 3 features down, 1 recovering since 15:33</p>",
			`<h3>Messages: send / receive</h3><span class="badge st-down">Down</span>`,
			`<p class="reason">Not working: our checks from this region fail.</p>`,
			`<p class="reason">Slower than usual.</p>`,
			`<p class="reason">Working again; we are confirming the recovery before calling it normal.</p>`,
			`<p class="reason">Planned maintenance.</p>`,
			`<h2 id="svc-daum">다음</h2>`, // a plain title serves every language
			`<th scope="row">다음 — News</th>`,
			`<a href="feed.atom">Atom feed</a>`,
			"<h2 id=\"maint-h\">Planned maintenance</h2>\n<ul>\n<li><strong>Kakao Pay — Online / offline payment</strong>: 15 Oct 16:00–17:00</li>",
			// The updates, newest first.
			`<li class="update"><span class="ustatus u-identified">Identified</span> <time datetime="2022-10-15T07:05:00Z">16:05</time><p class="umsg">Power is being restored to the pangyo site.</p></li>`,
			`<li class="update"><span class="ustatus u-investigating">Investigating</span> <time datetime="2022-10-15T06:45:00Z">15:45</time><p class="umsg">We are looking into failures of several services.</p></li>`,
		},
		notWant: append([]string{"<th scope=\"col\">Cause</th>"}, internalText...),
	}, {
		name: "public in Korean",
		path: "/?lang=ko",
		want: []string{
			"시나리오 시각 10월 15일 15:41",
			"<p>데이터센터 pangyo: 기능 3개 장애, 1개 복구 중 (15:33부터)</p>",
			`<h2 id="svc-talk">카카오톡</h2>`, `<h3>메시지: 수발신</h3>`, `<h3>채팅방: 톡서랍</h3>`,
			`<p class="reason">이용할 수 없습니다. 이 리전의 점검이 실패하고 있습니다.</p>`,
			`<p class="reason">평소보다 느립니다.</p>`,
			`<span class="ustatus u-identified">원인 확인</span>`, "판교 데이터센터 전원을 복구하고 있습니다.",
			// No Korean text: the English one.
			`<span class="ustatus u-investigating">원인 파악 중</span> <time datetime="2022-10-15T06:45:00Z">15:45</time><p class="umsg">We are looking into failures of several services.</p>`,
			"<li>카카오톡 — 메시지: 수발신: <span class=\"badge st-down\">장애</span></li>",
			`<a href="feed.atom">Atom 피드</a>`,
			"<li><strong>카카오페이 — 온·오프라인 결제</strong>: 10월 15일 16:00–17:00</li>",
		},
		notWant: internalText,
	}, {
		name: "internal view",
		path: "/internal",
		want: append([]string{"Times in KST (UTC+09:00).", `<p class="reason">check api failing: nats: no responders available for request</p>`,
			`<td class="cause">api: HTTP 503</td>`, `<a href="internal?lang=ko" lang="ko" hreflang="ko">`, `<a href="internal?lang=en" aria-current="page">`},
			internalText...),
	}, {
		name: "internal view, reasons in Korean",
		path: "/internal?lang=ko",
		want: []string{`<p class="reason">체크 api 실패: nats: no responders available for request</p>`,
			`<p class="reason">복구 중: 체크 api 연속 성공 1/3회</p>`, `<p class="reason">가장 느린 성공 실행 1.5s, 기준 800ms 초과</p>`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := get(t, s, tt.path)
			body = html.UnescapeString(body)
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s lacks %q", tt.path, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(body, w) {
					t.Errorf("GET %s shows %q", tt.path, w)
				}
			}
		})
	}
}

// TestSeverityOrder: services with trouble first (down before degraded
// before maintenance), ties in config order; within a service, features by
// severity, then in config order.
func TestSeverityOrder(t *testing.T) {
	s := publicServer(t, fireConfig)
	_, body := get(t, s, "/")
	body = html.UnescapeString(body)
	want := []string{
		`id="svc-talk"`, "<h3>Messages: send / receive</h3>", "<h3>Talk Channel</h3>", "<h3>Chat rooms: Talk drawer</h3>", "<h3>Chat rooms: main functions</h3>",
		`id="svc-kakaomap"`, "<h3>Road view</h3>",
		`id="svc-daum"`, "<h3>Daum / Kakao mail</h3>", "<h3>News</h3>",
		`id="svc-pay"`, "<h3>Online / offline payment</h3>", "<h3>Account transfer</h3>",
	}
	at := 0
	for _, w := range want {
		i := strings.Index(body[at:], w)
		if i < 0 {
			t.Fatalf("%q missing or out of order (after byte %d)", w, at)
		}
		at += i + len(w)
	}
}

func TestPublicPageSwitches(t *testing.T) {
	off := strings.Replace(fireConfig, "web: {public: true, timezone: Asia/Seoul}", "web: {timezone: UTC}", 1)
	s := publicServer(t, off)
	_, root := get(t, s, "/")
	if !strings.Contains(root, "check api failing") || !strings.Contains(root, "Times in UTC.") {
		t.Error("without web.public, / is not the internal view in UTC")
	}
	_, public := get(t, s, "/public")
	if strings.Contains(public, "check api failing") || !strings.Contains(public, "Not working") {
		t.Error("/public is not the public view")
	}
}

// TestMonitoringSince: a feature configured today shows one day, not 89
// grey ones, and says since when it is watched.
func TestMonitoringSince(t *testing.T) {
	b := newBackend(t)
	s := New(b, Options{Location: seoul})
	_, body := get(t, s, "/")
	if n := strings.Count(body, `<span class="d-`); n != 1 {
		t.Errorf("a new install's bar has %d cells, want 1 (today)", n)
	}
	if strings.Contains(body, "90 days ago") {
		t.Error("a new install's bar says 90 days ago")
	}
}
