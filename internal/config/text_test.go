package config

import (
	"encoding/json"
	"strings"
	"testing"
)

// titledConfig is a config whose service and feature titles are title.
func titledConfig(serviceTitle, featureTitle, web string) string {
	return `agent: {region: kr-central-1}
` + web + `services:
  - name: talk
    title: ` + serviceTitle + `
    features:
      - name: send
        title: ` + featureTitle + `
        checks:
          - {name: api, http: {url: "http://127.0.0.1:8080/"}}
`
}

func TestTitlesPerLanguage(t *testing.T) {
	tests := []struct {
		name                  string
		service, feature      string
		wantService, wantFeat string
		wantKo, wantKoKR      string
		wantJSON              string
	}{
		{name: "plain strings", service: "KakaoTalk", feature: "Messages",
			wantService: "KakaoTalk", wantFeat: "Messages", wantKo: "Messages", wantKoKR: "Messages", wantJSON: `"Messages"`},
		{name: "per language", service: "{en: KakaoTalk, ko: 카카오톡}", feature: "{ko: 메시지, en: Messages}",
			wantService: "KakaoTalk", wantFeat: "Messages", wantKo: "메시지", wantKoKR: "메시지", wantJSON: `{"en":"Messages","ko":"메시지"}`},
		{name: "no English: the first written", service: "{ko: 카카오톡}", feature: "{ko: 메시지, ja: メッセージ}",
			wantService: "카카오톡", wantFeat: "메시지", wantKo: "메시지", wantKoKR: "메시지", wantJSON: `{"ja":"メッセージ","ko":"메시지"}`},
		{name: "region tags kept", service: "x", feature: "{en: Messages, ko-KR: 메시지}",
			wantService: "x", wantFeat: "Messages", wantKo: "메시지", wantKoKR: "메시지", wantJSON: `{"en":"Messages","ko-KR":"메시지"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("vigil.yml", []byte(titledConfig(tt.service, tt.feature, "")))
			if err != nil {
				t.Fatal(err)
			}
			s, f := cfg.Services[0], cfg.Services[0].Features[0]
			if s.Title != tt.wantService || f.Title != tt.wantFeat {
				t.Errorf("titles %q, %q; want %q, %q", s.Title, f.Title, tt.wantService, tt.wantFeat)
			}
			if got := f.Titles.In("ko"); got != tt.wantKo {
				t.Errorf("In(ko) = %q, want %q", got, tt.wantKo)
			}
			if got := f.Titles.In("ko-KR"); got != tt.wantKoKR {
				t.Errorf("In(ko-KR) = %q, want %q", got, tt.wantKoKR)
			}
			if got := f.Titles.In("fr"); got != tt.wantFeat {
				t.Errorf("In(fr) = %q, want the default %q", got, tt.wantFeat)
			}
			b, err := json.Marshal(f.Titles)
			if err != nil || string(b) != tt.wantJSON {
				t.Errorf("JSON %s (%v), want %s", b, err, tt.wantJSON)
			}
		})
	}
}

func TestTitleAndWebErrors(t *testing.T) {
	tests := []struct {
		name, service, feature, web, want string
	}{
		{"bad language", "x", "{en: Messages, 'not a tag!': y}", "", `vigil.yml:7: services[0].features[0].title: "not a tag!" is not a language tag`},
		{"empty text", "x", "{en: Messages, ko: ''}", "", "vigil.yml:7: services[0].features[0].title: the ko text must be a non-empty string"},
		{"empty mapping", "{}", "y", "", "vigil.yml:4: services[0].title: an empty mapping"},
		{"a list", "[a, b]", "y", "", "vigil.yml:4: services[0].title: must be a string or a mapping of languages"},
		{"bad zone", "x", "y", "web: {timezone: Mars/Olympus}\n", `vigil.yml:2: web.timezone: unknown time zone "Mars/Olympus"`},
		{"unknown web key", "x", "y", "web: {pubic: true}\n", `vigil.yml:2: web.pubic: unknown key "pubic" (did you mean "public"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("vigil.yml", []byte(titledConfig(tt.service, tt.feature, tt.web)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestWebBlock(t *testing.T) {
	cfg, err := Parse("vigil.yml", []byte(titledConfig("x", "y", "web: {public: true, timezone: Asia/Seoul}\n")))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Web.Public || cfg.Web.Location == nil || cfg.Web.Location.String() != "Asia/Seoul" {
		t.Errorf("web %+v", cfg.Web)
	}
	cfg, err = Parse("vigil.yml", []byte(titledConfig("x", "y", "")))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Web.Public || cfg.Web.Location != nil {
		t.Errorf("web without a block %+v, want the zero value", cfg.Web)
	}
}
