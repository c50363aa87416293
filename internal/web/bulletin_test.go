package web

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// fs is a FeatureStatus with what the bulletin reads.
func fs(service, serviceTitle, feature, title string, state sla.State) sla.FeatureStatus {
	return sla.FeatureStatus{Service: service, ServiceTitle: serviceTitle, Feature: feature, Title: title, State: state}
}

// kakaoBulletin is the landscape of the 17 October 2022 notice, sorted by
// service and feature as Features() sorts.
var kakaoBulletin = []sla.FeatureStatus{
	fs("daum", "Daum", "mail", "Daum / Kakao mail", sla.StateDegraded),
	fs("daum", "Daum", "news", "News", sla.StateUp),
	fs("daum", "Daum", "search", "Search", sla.StateUp),
	fs("games", "Kakao Games", "a", "Mobile games", sla.StateUp),
	fs("games", "Kakao Games", "b", "PC games", sla.StateUp),
	fs("games", "Kakao Games", "c", "Launcher", sla.StateUp),
	fs("games", "Kakao Games", "d", "Payments", sla.StateUp),
	fs("games", "Kakao Games", "e", "Community", sla.StateUp),
	fs("map", "Kakao Map", "main", "Main functions", sla.StateUp),
	fs("map", "Kakao Map", "roadview", "Road view", sla.StateRecovering),
	fs("pay", "Kakao Pay", "payment", "Online payment", sla.StateDown),
	fs("pay", "Kakao Pay", "transfer", "Account transfer", sla.StateMaintenance),
	fs("style", "", "main", "", sla.StateUnknown),
	fs("talk", "KakaoTalk", "channel", "Talk Channel", sla.StateRecovering),
	fs("talk", "KakaoTalk", "drawer", "Chat rooms: Talk drawer", sla.StateRecovering),
	fs("talk", "KakaoTalk", "message", "Messages: send / receive", sla.StateUp),
	fs("talk", "KakaoTalk", "rooms", "Chat rooms: main functions", sla.StateUp),
	fs("talk", "KakaoTalk", "voice", "Voice and face talk", sla.StateUp),
}

func TestWriteBulletin(t *testing.T) {
	asOf := time.Date(2022, 10, 17, 9, 0, 0, 0, seoul)
	tests := []struct {
		name     string
		features []sla.FeatureStatus
		lang     string
		want     string
	}{{
		name:     "English",
		features: kakaoBulletin,
		lang:     "en",
		want: `As of 17 Oct 09:00 KST —
Daum: News, Search normal (Daum / Kakao mail degraded)
Kakao Games: all 5 features normal
Kakao Map: Main functions normal (Road view recovering)
Kakao Pay: Online payment down, Account transfer maintenance
style: main unknown
KakaoTalk: Voice and face talk normal (Talk Channel recovering); Chat rooms: main functions normal (Talk drawer recovering); Messages: send / receive normal
`,
	}, {
		name:     "Korean",
		features: kakaoBulletin,
		lang:     "ko",
		want: `10월 17일 09:00 KST 기준 —
Daum: News, Search 정상 (Daum / Kakao mail 성능 저하)
Kakao Games: 기능 5개 모두 정상
Kakao Map: Main functions 정상 (Road view 복구 중)
Kakao Pay: Online payment 장애, Account transfer 점검 중
style: main 확인 중
KakaoTalk: Voice and face talk 정상 (Talk Channel 복구 중); Chat rooms: main functions 정상 (Talk drawer 복구 중); Messages: send / receive 정상
`,
	}, {
		name:     "a Korean variant is Korean",
		features: kakaoBulletin[8:10],
		lang:     "ko-KR",
		want:     "10월 17일 09:00 KST 기준 —\nKakao Map: Main functions 정상 (Road view 복구 중)\n",
	}, {
		name:     "an unknown language is English",
		features: kakaoBulletin[8:10],
		lang:     "fr",
		want:     "As of 17 Oct 09:00 KST —\nKakao Map: Main functions normal (Road view recovering)\n",
	}, {
		name:     "four features all normal are still listed",
		features: kakaoBulletin[3:7],
		lang:     "en",
		want:     "As of 17 Oct 09:00 KST —\nKakao Games: Mobile games, PC games, Launcher, Payments normal\n",
	}, {
		name: "nothing configured",
		lang: "en",
		want: "As of 17 Oct 09:00 KST —\nNo features configured.\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteBulletin(&b, tt.features, asOf, tt.lang); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("bulletin:\n%s\nwant:\n%s", b.String(), tt.want)
			}
		})
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteBulletinError(t *testing.T) {
	err := WriteBulletin(failingWriter{}, kakaoBulletin, time.Now(), "en")
	if err == nil || !strings.Contains(err.Error(), "write bulletin: disk full") {
		t.Errorf("WriteBulletin to a failing writer = %v", err)
	}
}

func TestBulletinPage(t *testing.T) {
	s := fireServer(t)
	tests := []struct {
		path, contentType string
		want              []string
	}{
		{"/bulletin?format=text", "text/plain; charset=utf-8", []string{
			"As of 15 Oct 16:10 KST —\n",
			"KakaoTalk: Talk Channel down; Chat rooms: main functions normal (Talk drawer recovering); Messages: send / receive down\n",
			"Kakao Pay: Online / offline payment maintenance, Account transfer unknown\n",
		}},
		{"/bulletin?format=text&lang=ko", "text/plain; charset=utf-8", []string{
			"10월 15일 16:10 KST 기준 —\n",
			"KakaoTalk: Talk Channel 장애; Chat rooms: main functions 정상 (Talk drawer 복구 중); Messages: send / receive 장애\n",
		}},
		{"/bulletin", "text/html; charset=utf-8", []string{
			"<title>Vigil — bulletin (kr-central-1)</title>",
			"<h2>As of 15 Oct 16:10 KST</h2>",
			`<li><strong>KakaoTalk</strong>: Talk Channel <span class="st st-down">down</span>; Chat rooms: main functions normal (Talk drawer <span class="st st-recovering">recovering</span>); Messages: send / receive <span class="st st-down">down</span></li>`,
			`aria-current="page">Bulletin</a>`,
		}},
		{"/bulletin?lang=ko", "text/html; charset=utf-8", []string{
			`<html lang="ko">`, "<title>Vigil — 복구 현황 (kr-central-1)</title>", "<h2>10월 15일 16:10 KST 기준</h2>",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := get(t, s, tt.path)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tt.contentType {
				t.Fatalf("GET %s = %d %q", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s lacks %q:\n%s", tt.path, w, body)
				}
			}
		})
	}
}
