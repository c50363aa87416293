package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const minimal = `
agent:
  region: kr-central-1
  labels: {datacenter: pangyo}
defaults:
  interval: 10s
  timeout: 2s
services:
  - name: talk
    title: KakaoTalk
    features:
      - name: message-send-receive
        require: quorum(1)
        slo: {objective: 99.95, latency: 800ms}
        maintenance:
          - {start: "2026-12-01T02:00:00+09:00", duration: 1h}
          - {cron: "0 4 * * SUN", duration: 30m, timezone: Asia/Seoul}
        checks:
          - name: api
            interval: 5s
            http: {url: "http://127.0.0.1:8080/health"}
          - name: dns
            dns: {server: "127.0.0.1:53", query_name: talk.example.com}
`

func TestParseAppliesDefaults(t *testing.T) {
	cfg, err := Parse("vigil.yml", []byte(minimal))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checks := cfg.Checks()
	if len(checks) != 2 {
		t.Fatalf("got %d checks, want 2", len(checks))
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"api id", checks[0].ID, "talk/message-send-receive/api"},
		{"api interval", checks[0].Interval, 5 * time.Second},
		{"api timeout", checks[0].Timeout, 2 * time.Second},
		{"dns interval", checks[1].Interval, 10 * time.Second},
		{"dns kind", checks[1].Check.Kind(), "dns"},
		{"require", checks[0].Feature.Require, Require{Mode: "quorum", N: 1}},
		{"objective", checks[0].Feature.SLO.Objective, 99.95},
		{"window default", checks[0].Feature.SLO.Window.Rolling, 30 * 24 * time.Hour},
		{"latency", time.Duration(checks[0].Feature.SLO.Latency), 800 * time.Millisecond},
		{"failure threshold", checks[0].Feature.FailureThreshold, 2},
		{"recovery threshold", checks[0].Feature.RecoveryThreshold, 3},
		{"maintenance start", checks[0].Feature.Maintenance[0].StartTime.UTC(), time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC)},
		{"maintenance tz", checks[0].Feature.Maintenance[1].Location.String(), "Asia/Seoul"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if checks[0].Check.Fingerprint == "" || checks[0].Check.Fingerprint == checks[1].Check.Fingerprint {
		t.Errorf("fingerprints must be set and distinct: %q %q", checks[0].Check.Fingerprint, checks[1].Check.Fingerprint)
	}
}

func TestParseErrorsNameFileLineAndKey(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error, each "line: key: message" parts
	}{
		{"empty", "", []string{"vigil.yml: config is empty"}},
		{"only comments", "# nothing\n", []string{"vigil.yml: config is empty"}},
		{"binary", "agent:\x00\x01\x02", []string{"vigil.yml: config is not YAML text (binary data at byte 6)"}},
		{"not yaml", "agent: [unclosed\n", []string{"vigil.yml:"}},
		{"misspelled key", strings.Replace(minimal, "interval: 5s", "intervall: 5s", 1),
			[]string{`vigil.yml:20: services[0].features[0].checks[0].intervall: unknown key "intervall" (did you mean "interval"?)`}},
		{"misspelled top key", "agnet: {region: x}\n", []string{`vigil.yml:1: agnet: unknown key "agnet" (did you mean "agent"?)`}},
		{"bad duration", strings.Replace(minimal, "interval: 5s", "interval: 5 seconds", 1),
			[]string{`vigil.yml:20: services[0].features[0].checks[0].interval: bad duration "5 seconds"`}},
		{"timeout not below interval", strings.Replace(minimal, "timeout: 2s", "timeout: 20s", 1),
			[]string{`vigil.yml:7: defaults.timeout: 20s must be less than interval 10s`}},
		{"duplicate check", strings.Replace(minimal, "name: dns", "name: api", 1),
			[]string{`vigil.yml:22: services[0].features[0].checks[1].name: duplicate check name "api"`}},
		{"missing region", strings.Replace(minimal, "region: kr-central-1", "region: ''", 1),
			[]string{`vigil.yml:3: agent.region: is required`}},
		{"bad require", strings.Replace(minimal, "quorum(1)", "quorum(5)", 1),
			[]string{`vigil.yml:13: services[0].features[0].require: quorum(5) needs between 1 and 2 checks`}},
		{"bad require word", strings.Replace(minimal, "quorum(1)", "most", 1),
			[]string{`vigil.yml:13: services[0].features[0].require: require must be all, any or quorum(N), not "most"`}},
		{"bad cron", strings.Replace(minimal, "0 4 * * SUN", "61 4 * * SUN", 1),
			[]string{`vigil.yml:17: services[0].features[0].maintenance[1].cron: bad cron expression`}},
		{"bad timezone", strings.Replace(minimal, "Asia/Seoul", "Asia/Pangyo", 1),
			[]string{`vigil.yml:17: services[0].features[0].maintenance[1].timezone: unknown time zone "Asia/Pangyo"`}},
		{"two kinds", strings.Replace(minimal, `http: {url: "http://127.0.0.1:8080/health"}`, "http: {url: \"http://127.0.0.1:8080/health\"}\n            dns: {server: \"127.0.0.1:53\", query_name: a.example}", 1),
			[]string{`vigil.yml:19: services[0].features[0].checks[0]: check "api" needs exactly one of http, dns, messaging, tcp, tls, ssh, grpc, icmp, browser, journey (has 2)`}},
		{"bad service name", strings.Replace(minimal, "name: talk", "name: Talk!", 1),
			[]string{`vigil.yml:9: services[0].name: service name "Talk!" must match [a-z0-9_-]+`}},
		{"reserved label", strings.Replace(minimal, "datacenter: pangyo", "region: pangyo", 1),
			[]string{`vigil.yml:4: agent.labels.region: label name "region" is set by vigil itself`}},
		{"wrong shape", strings.Replace(minimal, "labels: {datacenter: pangyo}", "labels: [pangyo]", 1),
			[]string{`vigil.yml:4: agent.labels: must be a mapping`}},
		{"several errors at once", strings.Replace(strings.Replace(minimal, "intervall", "x", 1), "timeout: 2s", "timeoutt: 2s", 1) + "extra: 1\n",
			[]string{`vigil.yml:7: defaults.timeoutt: unknown key`, `extra: unknown key "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("vigil.yml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, w)
				}
			}
		})
	}
}

func TestLoadUnreadableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.yml")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path+": cannot read config") {
		t.Fatalf("err = %v, want cannot read naming %s", err, path)
	}
}

func TestFingerprintChangesOnlyForChangedChecks(t *testing.T) {
	a, err := Parse("a.yml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b.yml", []byte(strings.Replace(minimal, "interval: 5s", "interval: 6s", 1)))
	if err != nil {
		t.Fatal(err)
	}
	ac, bc := a.Checks(), b.Checks()
	if ac[0].Check.Fingerprint == bc[0].Check.Fingerprint {
		t.Error("changed check kept its fingerprint")
	}
	if ac[1].Check.Fingerprint != bc[1].Check.Fingerprint {
		t.Error("unchanged check got a new fingerprint")
	}
}

// TestExampleConfigsAreValid loads every config under examples/: each is
// valid, runs in a region and has checks; the two the docs point to are there
// with the checks they describe.
func TestExampleConfigsAreValid(t *testing.T) {
	wantChecks := map[string]int{"minimal.yml": 1, "vigil.yml": 15}
	files, err := filepath.Glob("../../examples/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAY_HEALTH_TOKEN", "example-token")
	t.Setenv("JOURNEY_PASSWORD", "example-password")
	seen := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		seen[name] = true
		cfg, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if cfg.Agent.Region == "" {
			t.Errorf("%s: no agent.region", f)
		}
		n := len(cfg.Checks())
		if want, ok := wantChecks[name]; ok && n != want {
			t.Errorf("%s: %d checks, want %d", f, n, want)
		} else if n == 0 {
			t.Errorf("%s: no checks", f)
		}
	}
	for name := range wantChecks {
		if !seen[name] {
			t.Errorf("examples/%s is missing", name)
		}
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }
