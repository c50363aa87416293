package web

import (
	"encoding/json"
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
)

// parsedBadge is an SVG badge as encoding/xml reads it.
type parsedBadge struct {
	XMLName xml.Name `xml:"http://www.w3.org/2000/svg svg"`
	Width   string   `xml:"width,attr"`
	Label   string   `xml:"aria-label,attr"`
	Title   string   `xml:"http://www.w3.org/2000/svg title"`
	Rects   []struct {
		Width string `xml:"width,attr"`
		Fill  string `xml:"fill,attr"`
	} `xml:"http://www.w3.org/2000/svg rect"`
	Texts []string `xml:"http://www.w3.org/2000/svg g>text"`
}

func readBadge(t *testing.T, s *Server, path string, wantStatus int) parsedBadge {
	t.Helper()
	resp, body := get(t, s, path)
	if resp.StatusCode != wantStatus || resp.Header.Get("Content-Type") != "image/svg+xml; charset=utf-8" ||
		resp.Header.Get("Cache-Control") != "max-age=30" {
		t.Fatalf("GET %s: %d %q %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	var b parsedBadge
	if err := xml.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("GET %s: not SVG: %v\n%s", path, err, body)
	}
	// The two boxes add up to the badge's width.
	w, _ := strconv.Atoi(b.Width)
	l, _ := strconv.Atoi(b.Rects[0].Width)
	v, _ := strconv.Atoi(b.Rects[1].Width)
	if len(b.Rects) != 2 || l+v != w || l <= 0 || v <= 0 {
		t.Errorf("GET %s: width %d from boxes %d + %d", path, w, l, v)
	}
	return b
}

func TestBadges(t *testing.T) {
	s := publicServer(t, fireConfig)
	tests := []struct {
		path, label, value, color string
	}{
		{"/badge/talk/message.svg", "Messages: send / receive", "down", "#b3261e"},
		{"/badge/talk/drawer.svg", "Chat rooms: Talk drawer", "recovering", "#0a5ca8"},
		{"/badge/daum/mail.svg", "Daum / Kakao mail", "degraded", "#8a5300"},
		{"/badge/pay/payment.svg", "Online / offline payment", "maintenance", "#574bbd"},
		{"/badge/daum/news.svg", "News", "normal", "#2e7d32"},
		{"/badge/pay/transfer.svg?label=transfer", "transfer", "unknown", "#616161"},
		{"/badge/talk.svg", "KakaoTalk", "down", "#b3261e"},                       // its worst feature
		{"/badge/pay.svg?lang=ko", "카카오페이", "점검 중", "#574bbd"},                    // maintenance is worse than unknown
		{"/badge/daum/news.svg?lang=ko", "뉴스", "정상", "#2e7d32"},                   // titles per language
		{"/badge/daum/news.svg?metric=availability", "News", "99.93%", "#2e7d32"}, // 10m + 20m of 30 days
		{"/badge/talk/message.svg?metric=availability&window=30d", "Messages: send / receive", "99.775%", "#b3261e"},
		{"/badge/talk/message.svg?metric=availability&window=1d", "Messages: send / receive", "97.43%", "#b3261e"},
		{"/badge/talk.svg?metric=availability&window=7d", "KakaoTalk", "99.037%", "#b3261e"}, // the lowest feature's: messages, 97m of 7 days
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			b := readBadge(t, s, tt.path, 200)
			if len(b.Texts) != 2 || b.Texts[0] != tt.label || b.Texts[1] != tt.value {
				t.Errorf("texts %q, want %q, %q", b.Texts, tt.label, tt.value)
			}
			if b.Rects[1].Fill != tt.color {
				t.Errorf("color %s, want %s", b.Rects[1].Fill, tt.color)
			}
			if b.Title != tt.label+": "+tt.value || b.Label != b.Title {
				t.Errorf("title %q aria-label %q", b.Title, b.Label)
			}
		})
	}
}

func TestBadgeErrors(t *testing.T) {
	s := publicServer(t, fireConfig)
	for _, path := range []string{"/badge/nosuch.svg", "/badge/talk/nosuch.svg", "/badge/talk/message.png"} {
		b := readBadge(t, s, path, 404)
		if b.Texts[1] != "not found" {
			t.Errorf("%s: %q", path, b.Texts)
		}
		resp, body := get(t, s, path, "Accept", "application/json")
		var msg map[string]string
		if resp.StatusCode != 404 || json.Unmarshal([]byte(body), &msg) != nil || msg["error"] == "" {
			t.Errorf("%s as JSON: %d %s", path, resp.StatusCode, body)
		}
	}
	for path, want := range map[string]string{
		"/badge/talk.svg?metric=latency":                           `metric: \"latency\" is not state or availability`,
		"/badge/talk.svg?metric=availability&window=a%20fortnight": `window: \"a fortnight\" is not a positive duration`,
	} {
		if resp, body := get(t, s, path); resp.StatusCode != 400 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}

// TestBadgeTextWidth: widths follow the text, wide letters and Hangul
// wider than narrow ones, so that no text spills out of its box.
func TestBadgeTextWidth(t *testing.T) {
	if a, b := textWidth("illi"), textWidth("mwmw"); a >= b {
		t.Errorf("illi %d px, mwmw %d px", a, b)
	}
	if got := textWidth("카카오톡"); got != 44 {
		t.Errorf("four Hangul syllables: %d px, want 44", got)
	}
	if got := textWidth("normal"); got < 30 || got > 45 {
		t.Errorf("normal: %d px", got)
	}
	if textWidth("") != 0 {
		t.Error("empty text has a width")
	}
}
