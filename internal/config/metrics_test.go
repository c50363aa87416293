package config

import (
	"strings"
	"testing"
)

// TestMetricsProfileInherits: metrics.profile is the agent's default
// (standard without one), overridden by a service, a feature or a check, the
// most specific winning; a bad value names its key and line.
func TestMetricsProfileInherits(t *testing.T) {
	const yml = `agent:
  region: r
  metrics: {profile: basic}
  canaries:
    - {name: gw, http: {url: "http://127.0.0.1/"}}
services:
  - name: s
    metrics: {profile: full}
    features:
      - name: f
        checks:
          - {name: a, http: {url: "http://127.0.0.1/"}}
          - {name: b, metrics: {profile: standard}, http: {url: "http://127.0.0.1/"}}
  - name: t
    features:
      - name: f
        checks:
          - {name: a, http: {url: "http://127.0.0.1/"}}
      - name: g
        metrics: {profile: full}
        checks:
          - {name: a, http: {url: "http://127.0.0.1/"}}
`
	cfg, err := Parse("vigil.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ref := range append(cfg.Checks(), cfg.Canaries()...) {
		got[ref.ID] = ref.Check.Metrics.Profile
		got[ref.Service.Name+"/"+ref.Feature.Name] = ref.Feature.Metrics.Profile
	}
	want := map[string]string{
		"s/f/a": "full", "s/f/b": "standard", "s/f": "full",
		"t/f/a": "basic", "t/f": "basic",
		"t/g/a": "full", "t/g": "full",
		"_agent/vantage/gw": "basic",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: profile %q, want %q", k, got[k], v)
		}
	}

	cfg, err = Parse("vigil.yml", []byte(strings.Replace(yml, "  metrics: {profile: basic}\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Services[1].Features[0].Checks[0].Metrics.Profile; p != "standard" {
		t.Errorf("without agent.metrics: profile %q, want standard", p)
	}

	_, err = Parse("vigil.yml", []byte(strings.Replace(yml, "{profile: standard}", "{profile: minimal}", 1)))
	if want := `vigil.yml:13: services[0].features[0].checks[1].metrics.profile: "minimal" must be one of basic, standard, full`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("bad profile: err = %v, want %s", err, want)
	}
}
