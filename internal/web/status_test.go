package web

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// get serves one request through s's handler and returns the response and
// its body.
func get(t *testing.T, s *Server, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func fireServer(t *testing.T) *Server {
	b, _ := fireBackend(t)
	return New(b, Options{ListenAddress: "127.0.0.1:0", Region: "kr-central-1", Location: seoul})
}

func TestStatusPageContent(t *testing.T) {
	s := fireServer(t)
	tests := []struct {
		name   string
		path   string
		header []string
		lang   string
		want   []string
	}{{
		name: "English",
		path: "/",
		lang: "en",
		want: []string{
			"<title>Vigil — status (kr-central-1)</title>",
			"<h1>Vigil — status (kr-central-1)</h1>",
			"As of 15 Oct 16:10 · Times in KST (UTC+09:00).",
			"9 features: 3 down, 1 recovering, 1 degraded, 1 maintenance, 1 unknown, 2 normal",
			"<p>Data center pangyo: 3 features down, 1 recovering since 15:33</p>",
			`<h2 id="svc-talk">KakaoTalk</h2>`,
			`<h3>Messages: send / receive</h3><span class="badge st-down">Down</span>`,
			`<h3>Chat rooms: Talk drawer</h3><span class="badge st-recovering">Recovering</span>`,
			`<h3>Daum / Kakao mail</h3><span class="badge st-degraded">Degraded</span>`,
			`<h3>Online / offline payment</h3><span class="badge st-maintenance">Maintenance</span>`,
			`<h3>Account transfer</h3><span class="badge st-unknown">Unknown</span>`,
			`<h3>News</h3><span class="badge st-up">Normal</span>`,
			`<time datetime="2022-10-15T06:33:00Z">since 15:33 (37m)</time>`,
			"check api failing: nats: no responders available for request",
			// 1h of 12 Oct down and 37 minutes today: 97m of 30 days.
			"30 days: 99.775% (objective 99.9%) <span class=\"miss\">below objective</span>",
			`title="12 Oct: 95.833% available, 1h down"`,
			`title="2 Oct: 99.305% available, 10m down"`,
			// The days before the feature was configured are left out.
			`<div class="bar" role="img" aria-label="Last 61 days: 99.888% available; days with downtime: 12 Oct (1h), 15 Oct (37m)"><span class="d-ok" title="16 Aug: 100% available">`,
			`<span>monitoring since 16 Aug</span><span>today</span>`,
			`<th scope="row">KakaoTalk — Messages: send / receive</th><td><time datetime="2022-10-15T06:33:00Z">15 Oct 15:33</time></td><td>ongoing, 37m so far</td><td class="cause">api: nats: no responders available for request</td>`,
			`<th scope="row">Daum — News</th><td><time datetime="2022-10-02T02:00:00Z">2 Oct 11:00</time></td><td>10m</td><td class="cause">api: HTTP 503</td>`,
		},
	}, {
		name: "Korean by query",
		path: "/?lang=ko",
		lang: "ko",
		want: []string{
			"<title>Vigil — 서비스 상태 (kr-central-1)</title>",
			"10월 15일 16:10 기준",
			"<p>데이터센터 pangyo: 기능 3개 장애, 1개 복구 중 (15:33부터)</p>",
			"<span>8월 16일부터 감시</span>",
			`<span class="badge st-down">장애</span>`, `<span class="badge st-recovering">복구 중</span>`,
			`<span class="badge st-degraded">성능 저하</span>`, `<span class="badge st-maintenance">점검 중</span>`,
			`<span class="badge st-unknown">확인 중</span>`, `<span class="badge st-up">정상</span>`,
			"15:33부터 (37분)", "30일: 99.775% (목표 99.9%)", "목표 미달",
			`title="10월 12일: 가용률 95.833%, 장애 1시간"`,
			"진행 중, 현재 37분",
		},
	}, {
		name:   "Korean by Accept-Language",
		path:   "/",
		header: []string{"Accept-Language", "fr-FR, ko-KR;q=0.8, en;q=0.5"},
		lang:   "ko",
		want:   []string{"기능 3개 장애, 1개 복구 중"},
	}, {
		name:   "the query wins over Accept-Language",
		path:   "/?lang=en",
		header: []string{"Accept-Language", "ko"},
		lang:   "en",
		want:   []string{"3 features down, 1 recovering since 15:33"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, s, tt.path, tt.header...)
			body = html.UnescapeString(body) // html/template writes + as &#43;
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
				resp.Header.Get("Content-Language") != tt.lang {
				t.Fatalf("GET %s: %d %q language %q", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Language"))
			}
			if !strings.Contains(body, `<html lang="`+tt.lang+`">`) {
				t.Errorf("no <html lang=%q>", tt.lang)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
}

// TestStatusPageStructure parses the page and checks what accessibility and
// self-containment rest on.
func TestStatusPageStructure(t *testing.T) {
	s := fireServer(t)
	resp, body := get(t, s, "/")
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var headings []int
	var bars, cells, badges int
	var style, script string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
			}
			switch n.Data {
			case "h1", "h2", "h3", "h4":
				headings = append(headings, int(n.Data[1]-'0'))
			case "style":
				style = n.FirstChild.Data
			case "script":
				if attr["src"] != "" {
					t.Errorf("external script %q", attr["src"])
				}
				script = n.FirstChild.Data
			case "link":
				if attr["rel"] == "stylesheet" {
					t.Errorf("external stylesheet %q", attr["href"])
				}
			}
			for _, k := range []string{"src", "href"} {
				if v := attr[k]; strings.Contains(v, "//") {
					t.Errorf("<%s %s=%q> points outside the agent", n.Data, k, v)
				}
			}
			if attr["style"] != "" {
				t.Errorf("<%s> has a style attribute, which the CSP would block", n.Data)
			}
			if strings.Contains(attr["class"], "bar") && attr["role"] == "img" {
				bars++
				if !strings.HasPrefix(attr["aria-label"], "Last 61 days:") {
					t.Errorf("bar without a text alternative: %q", attr["aria-label"])
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					cells++
					if c.Type != html.ElementNode || len(c.Attr) != 2 || c.Attr[1].Key != "title" || c.Attr[1].Val == "" {
						t.Errorf("bar cell without a tooltip: %+v", c.Attr)
					}
				}
			}
			// Every color carries text: badges are words.
			if strings.HasPrefix(attr["class"], "badge ") {
				badges++
				if n.FirstChild == nil || strings.TrimSpace(n.FirstChild.Data) == "" {
					t.Errorf("badge %q has no text", attr["class"])
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if headings[0] != 1 {
		t.Errorf("first heading is h%d, want h1", headings[0])
	}
	for i := 1; i < len(headings); i++ {
		if headings[i] > headings[i-1]+1 {
			t.Errorf("heading h%d follows h%d: levels skipped (%v)", headings[i], headings[i-1], headings)
		}
	}
	// Monitoring began 61 days ago: the bars show those days only.
	if bars != 9 || cells != 9*61 {
		t.Errorf("%d bars with %d cells, want 9 with 61 each", bars, cells)
	}
	if badges != 9+4 { // every feature, and the incident's four
		t.Errorf("%d state badges, want 13", badges)
	}
	// The CSP allows exactly the inline style and script.
	csp := resp.Header.Get("Content-Security-Policy")
	for _, inline := range []string{style, script} {
		sum := sha256.Sum256([]byte(inline))
		if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, h) {
			t.Errorf("CSP %q lacks %s", csp, h)
		}
	}
	if !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q does not deny by default", csp)
	}
	if !regexp.MustCompile(`<meta name="viewport" content="width=device-width, initial-scale=1">`).MatchString(body) {
		t.Error("no viewport meta")
	}
	if !strings.Contains(body, `<noscript><meta http-equiv="refresh" content="10"></noscript>`) {
		t.Error("no refresh fallback for pages without JavaScript")
	}
}

func TestStatusPageRefreshParameter(t *testing.T) {
	s := fireServer(t)
	for _, tt := range []struct{ query, want string }{
		{"", `data-refresh="10"`}, {"?refresh=3", `data-refresh="3"`}, {"?refresh=0", `data-refresh="2"`},
		{"?refresh=99999", `data-refresh="3600"`}, {"?refresh=soon", `data-refresh="10"`},
	} {
		if _, body := get(t, s, "/"+tt.query); !strings.Contains(body, tt.want) {
			t.Errorf("GET /%s: no %s", tt.query, tt.want)
		}
	}
}

func TestStatusPageEmpty(t *testing.T) {
	b := newBackend(t)
	if err := b.engine.Configure(nil); err != nil {
		t.Fatal(err)
	}
	s := New(b, Options{Location: seoul})
	_, body := get(t, s, "/")
	for _, w := range []string{"No features configured.", "No outages recorded.", "<title>Vigil — status (kr-central-1)</title>"} {
		if !strings.Contains(body, w) {
			t.Errorf("empty page lacks %q", w)
		}
	}
	if strings.Contains(body, "Active incidents") {
		t.Error("empty page shows an incident section")
	}
}
