package globalrole

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestGlobalBulletin: talk/send down from a and b, talk/drawer from a
// only, talk/inbox normal, region c silent since 00:00:20: the bulletin
// says so in English and Korean, as text and HTML, and the status page
// links it.
func TestGlobalBulletin(t *testing.T) {
	f := newRecordFeed(t)
	features := []string{"talk/send", "talk/drawer", "talk/inbox"}
	f.agent("a-0", "a", 120, features...)
	f.agent("b-0", "b", 120, features...)
	f.agent("c-0", "c", 20, features...)
	f.both("talk/send", 1, 60, -1)
	f.outage("a-0", "a", "talk/drawer", 2, 60, -1)
	srv := httptest.NewServer(f.role(120).Handler())
	defer srv.Close()
	for _, tc := range []struct{ query, want string }{
		{"?format=text", "As of 1 Nov 00:02 UTC —\n" +
			"No data from c since 00:00; not counted.\n" +
			"talk: inbox normal (send down from a, b; drawer down from a only)\n"},
		{"?format=text&lang=ko", "11월 1일 00:02 UTC 기준 —\n" +
			"데이터 없음: c(00:00 이후), 집계에서 제외.\n" +
			"talk: inbox 정상 (send a, b에서 장애; drawer a에서만 장애)\n"},
	} {
		code, body := get(t, srv.URL+"/bulletin"+tc.query)
		if code != 200 || body != tc.want {
			t.Errorf("/bulletin%s: %d\n%s\nwant:\n%s", tc.query, code, body, tc.want)
		}
	}
	_, page := get(t, srv.URL+"/bulletin?lang=ko")
	for _, s := range []string{`<html lang="ko">`, "<strong>11월 1일 00:02 UTC 기준 —</strong>",
		`<strong>talk</strong>: inbox 정상 (<span class="st-down">send a, b에서 장애</span>; <span class="st-regional">drawer a에서만 장애</span>)`,
		`<a href="./?lang=ko">서비스 상태</a>`} {
		if !strings.Contains(page, s) {
			t.Errorf("Korean bulletin lacks %q:\n%s", s, page)
		}
	}
	_, page = get(t, srv.URL+"/")
	if want := `<a href="bulletin?lang=en">Bulletin</a>`; !strings.Contains(page, want) {
		t.Errorf("status page lacks %q:\n%s", want, page)
	}
}

// TestGlobalBulletinAllNormal: a service with more than 4 features and
// nothing wrong is summed up, as an agent's bulletin does.
func TestGlobalBulletinAllNormal(t *testing.T) {
	f := newRecordFeed(t)
	f.agent("a-0", "a", 120, incidentFeatures...)
	f.agent("b-0", "b", 120, incidentFeatures...)
	f.agent("a-0x", "a", 120, "shop/a", "shop/b", "shop/c", "shop/d", "shop/e")
	srv := httptest.NewServer(f.role(120).Handler())
	defer srv.Close()
	_, body := get(t, srv.URL+"/bulletin?format=text")
	want := "As of 1 Nov 00:02 UTC —\n" +
		"pay: card, refund normal\n" +
		"shop: all 5 features normal\n" +
		"talk: drawer, inbox, send normal\n"
	if body != want {
		t.Errorf("bulletin:\n%s\nwant:\n%s", body, want)
	}
}
