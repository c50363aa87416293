package config

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// confirmations sets the new keys at every level they may be set, so that
// each way a check resolves them is seen once.
const confirmations = `agent:
  region: kr-central-1
  canary_require: quorum(1)
  canaries:
    - name: gateway
      tcp: {target: "127.0.0.1:1"}
      failure_threshold: 1
    - name: resolver
      interval: 5s
      dns: {server: "127.0.0.1:53", query_name: example.com}
defaults:
  failure_window: {failures: 3, runs: 5}
  recovery_threshold: 4
  flap: {changes: 10}
services:
  - name: talk
    features:
      - name: send
        failure_threshold: 3
        flap: {window: 1h}
        checks:
          - name: a
            http: {url: "http://127.0.0.1:8080/a"}
          - name: b
            failure_window: {failures: 2, runs: 4}
            recovery_threshold: 2
            http: {url: "http://127.0.0.1:8080/b"}
      - name: recv
        checks:
          - name: a
            http: {url: "http://127.0.0.1:8080/a"}
          - name: b
            failure_threshold: 5
            http: {url: "http://127.0.0.1:8080/b"}
`

// resolved is a check's confirmation settings as validation leaves them.
type resolved struct {
	failure, recovery int
	window            FailureWindow // zero: the threshold applies
}

func resolvedOf(ch *Check) resolved {
	r := resolved{failure: ch.FailureThreshold, recovery: ch.RecoveryThreshold}
	if ch.FailureWindow != nil {
		r.window = *ch.FailureWindow
	}
	return r
}

// TestConfirmationInheritance: failure_threshold, recovery_threshold and
// failure_window resolve check -> feature -> defaults -> package default; of
// the first two keys the most specific level that sets either decides; flap
// inherits field by field; canaries inherit from the defaults.
func TestConfirmationInheritance(t *testing.T) {
	cfg, err := Parse("vigil.yml", []byte(confirmations))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := map[string]resolved{
		// The feature's failure_threshold beats the defaults' window.
		"talk/send/a": {failure: 3, recovery: 4},
		// The check's window beats the feature's threshold.
		"talk/send/b": {failure: 3, recovery: 2, window: FailureWindow{Failures: 2, Runs: 4}},
		// Nothing below the defaults: their window, the package threshold.
		"talk/recv/a": {failure: 2, recovery: 4, window: FailureWindow{Failures: 3, Runs: 5}},
		"talk/recv/b": {failure: 5, recovery: 4},
		// Canaries inherit from the defaults as checks do from their feature.
		"_agent/vantage/gateway":  {failure: 1, recovery: 4},
		"_agent/vantage/resolver": {failure: 2, recovery: 4, window: FailureWindow{Failures: 3, Runs: 5}},
	}
	refs := append(cfg.Checks(), cfg.Canaries()...)
	if len(refs) != len(want) {
		t.Fatalf("got %d checks and canaries, want %d", len(refs), len(want))
	}
	for _, ref := range refs {
		if got := resolvedOf(ref.Check); got != want[ref.ID] {
			t.Errorf("%s resolves to %+v, want %+v", ref.ID, got, want[ref.ID])
		}
	}
	flaps := map[string]Flap{
		"send": {Changes: 10, Window: probeconfig.Duration(time.Hour)},
		"recv": {Changes: 10, Window: probeconfig.Duration(30 * time.Minute)},
	}
	for _, f := range cfg.Services[0].Features {
		if f.Flap == nil || *f.Flap != flaps[f.Name] {
			t.Errorf("feature %s flap = %+v, want %+v", f.Name, f.Flap, flaps[f.Name])
		}
	}
	if d := cfg.Defaults; d.FailureThreshold != 2 || d.RecoveryThreshold != 4 || *d.Flap != (Flap{10, probeconfig.Duration(30 * time.Minute)}) {
		t.Errorf("defaults = %d/%d flap %+v, want 2/4 flap {10 30m}", d.FailureThreshold, d.RecoveryThreshold, *d.Flap)
	}
}

// TestCanaryRefs: canaries are listed apart from the services' checks, under
// service _agent and feature vantage, with their interval and require.
func TestCanaryRefs(t *testing.T) {
	cfg, err := Parse("vigil.yml", []byte(confirmations))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for _, ref := range cfg.Checks() {
		if ref.Canary || ref.Service.Name == CanaryService {
			t.Errorf("Checks lists canary %s", ref.ID)
		}
	}
	c := cfg.Canaries()
	if len(c) != 2 {
		t.Fatalf("got %d canaries, want 2", len(c))
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"id", c[0].ID, "_agent/vantage/gateway"},
		{"canary", c[0].Canary, true},
		{"service", c[1].Service.Name, "_agent"},
		{"feature", c[1].Feature.Name, "vantage"},
		{"kind", c[0].Check.Kind(), "tcp"},
		{"default interval", c[0].Interval, 30 * time.Second},
		{"default timeout", c[0].Timeout, 10 * time.Second},
		{"own interval", c[1].Interval, 5 * time.Second},
		{"inherited timeout halves a shorter interval", c[1].Timeout, 2500 * time.Millisecond},
		{"require", c[0].Feature.Require, Require{Mode: "quorum", N: 1}},
		{"vantage failure threshold", c[0].Feature.FailureThreshold, 2},
		{"vantage recovery threshold", c[0].Feature.RecoveryThreshold, 4},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if c[0].Check.Fingerprint == "" || c[0].Check.Fingerprint == c[1].Check.Fingerprint {
		t.Errorf("canary fingerprints must be set and distinct: %q %q", c[0].Check.Fingerprint, c[1].Check.Fingerprint)
	}

	// No canaries: none listed, and canary_require defaults to all.
	cfg, err = Parse("vigil.yml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cfg.Canaries()); n != 0 || cfg.Agent.CanaryRequire.Mode != "all" {
		t.Errorf("without canaries: %d canaries, require %q; want 0, all", n, cfg.Agent.CanaryRequire)
	}
}

// TestPackageDefaultsOfNewKeys: a config that sets none of the new keys gets
// 2 failed runs in a row, 3 passing runs, no window, and flap 6 in 30m.
func TestPackageDefaultsOfNewKeys(t *testing.T) {
	cfg, err := Parse("vigil.yml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range cfg.Checks() {
		if got, want := resolvedOf(ref.Check), (resolved{failure: 2, recovery: 3}); got != want {
			t.Errorf("%s resolves to %+v, want %+v", ref.ID, got, want)
		}
		if f := ref.Feature.Flap; f == nil || *f != (Flap{Changes: 6, Window: probeconfig.Duration(30 * time.Minute)}) {
			t.Errorf("%s flap = %+v, want {6 30m}", ref.ID, f)
		}
	}
}

// TestConfirmationErrors: bad values of the new keys are reported at their
// file, line and key.
func TestConfirmationErrors(t *testing.T) {
	check := "          - name: a\n            http: {url: \"http://127.0.0.1:8080/a\"}\n"
	base := func(agent, defaults, feature, checkKeys string) string {
		return "agent:\n  region: kr-central-1\n" + agent +
			"defaults:\n  interval: 30s\n" + defaults +
			"services:\n  - name: talk\n    features:\n      - name: send\n" + feature +
			"        checks:\n" + check + checkKeys
	}
	// Lines: agent keys from 3; when the levels above add none, defaults keys
	// from 5, feature keys from 9, check keys from 12.
	tests := []struct {
		name                             string
		agent, defaults, feature, checks string
		want                             string
	}{
		{"threshold and window on one check", "", "", "",
			"            failure_threshold: 3\n            failure_window: {failures: 2, runs: 4}\n",
			`vigil.yml:13: services[0].features[0].checks[0].failure_window: set either failure_threshold (failed runs in a row) or failure_window (failed runs of the last N), not both`},
		{"threshold and window in defaults", "", "  failure_window: {failures: 2, runs: 4}\n  failure_threshold: 3\n", "", "",
			`vigil.yml:5: defaults.failure_window: set either failure_threshold`},
		{"failures over runs", "", "", "        failure_window: {failures: 5, runs: 4}\n", "",
			`vigil.yml:9: services[0].features[0].failure_window.failures: 5 must not be more than runs (4)`},
		{"runs over 64", "", "  failure_window: {failures: 2, runs: 65}\n", "", "",
			`vigil.yml:5: defaults.failure_window.runs: must be between 1 and 64, not 65`},
		{"zero failures", "", "", "", "            failure_window: {failures: 0, runs: 4}\n",
			`vigil.yml:12: services[0].features[0].checks[0].failure_window.failures: must be between 1 and 64, not 0`},
		{"failures left out", "", "", "", "            failure_window: {runs: 4}\n",
			`vigil.yml:12: services[0].features[0].checks[0].failure_window: needs failures`},
		{"unknown window key", "", "", "", "            failure_window: {failure: 2, runs: 4}\n",
			`vigil.yml:12: services[0].features[0].checks[0].failure_window.failure: unknown key "failure" (did you mean "failures"?)`},
		{"check threshold over 64", "", "", "", "            failure_threshold: 65\n",
			`vigil.yml:12: services[0].features[0].checks[0].failure_threshold: must be between 1 and 64 runs, not 65`},
		{"check recovery zero", "", "", "", "            recovery_threshold: 0\n",
			`vigil.yml:12: services[0].features[0].checks[0].recovery_threshold: must be > 0 (leave the key out for the default, 3)`},
		{"flap changes zero", "", "  flap: {changes: 0}\n", "", "",
			`vigil.yml:5: defaults.flap.changes: must be > 0 (leave the key out for the default, 6)`},
		{"flap window zero", "", "", "        flap: {window: 0s}\n", "",
			`vigil.yml:9: services[0].features[0].flap.window: must be > 0 (leave the key out for the default, 30m)`},
		{"flap changes negative", "", "", "        flap: {changes: -1}\n", "",
			`vigil.yml:9: services[0].features[0].flap.changes: must be at least 1, not -1`},
		{"flap on a check", "", "", "", "            flap: {changes: 3}\n",
			`vigil.yml:12: services[0].features[0].checks[0].flap: unknown key "flap"`},
		{"canary without a kind", "  canaries:\n    - name: gw\n", "", "", "",
			`vigil.yml:4: agent.canaries[0]: check "gw" needs exactly one of http, dns`},
		{"duplicate canary", "  canaries:\n    - {name: gw, tcp: {target: \"127.0.0.1:1\"}}\n    - {name: gw, tcp: {target: \"127.0.0.1:2\"}}\n", "", "", "",
			`vigil.yml:5: agent.canaries[1].name: duplicate canary name "gw" (also entry 0)`},
		{"canary unknown key", "  canaries:\n    - {name: gw, tcp: {target: \"127.0.0.1:1\"}, flap: {changes: 3}}\n", "", "", "",
			`vigil.yml:4: agent.canaries[0].flap: unknown key "flap"`},
		{"canary zero interval", "  canaries:\n    - {name: gw, interval: 0s, tcp: {target: \"127.0.0.1:1\"}}\n", "", "", "",
			`vigil.yml:4: agent.canaries[0].interval: must be > 0 (leave the key out for the default, 30s)`},
		{"canary bad threshold", "  canaries:\n    - {name: gw, failure_threshold: 100, tcp: {target: \"127.0.0.1:1\"}}\n", "", "", "",
			`vigil.yml:4: agent.canaries[0].failure_threshold: must be between 1 and 64 runs, not 100`},
		{"canary quorum too large", "  canary_require: quorum(2)\n  canaries:\n    - {name: gw, tcp: {target: \"127.0.0.1:1\"}}\n", "", "", "",
			`vigil.yml:3: agent.canary_require: quorum(2) needs between 1 and 1 canaries (agent.canaries has 1)`},
		{"canary require word", "  canary_require: most\n  canaries:\n    - {name: gw, tcp: {target: \"127.0.0.1:1\"}}\n", "", "", "",
			`vigil.yml:3: agent.canary_require: require must be all, any or quorum(N), not "most"`},
		{"canary require without canaries", "  canary_require: any\n", "", "", "",
			`vigil.yml:3: agent.canary_require: applies to agent.canaries, which is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("vigil.yml", []byte(base(tt.agent, tt.defaults, tt.feature, tt.checks)))
			if err == nil {
				t.Fatalf("Parse succeeded, want %s", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n%v\ndoes not contain\n%s", err, tt.want)
			}
		})
	}
}

// TestReservedServiceNames: service names starting with "_" are the agent's.
func TestReservedServiceNames(t *testing.T) {
	_, err := Parse("vigil.yml", []byte(strings.Replace(minimal, "name: talk", "name: _agent", 1)))
	want := `vigil.yml:9: services[0].name: service names starting with "_" are reserved for the agent itself (its canaries are exported as service "_agent")`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

// TestCanaryFingerprints: a canary's fingerprint changes with what it
// resolves to (its own keys, the defaults) and nothing else; the services'
// checks do not change with the canaries.
func TestCanaryFingerprints(t *testing.T) {
	prints := func(yml string) (checks, canaries []string) {
		t.Helper()
		cfg, err := Parse("vigil.yml", []byte(yml))
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range cfg.Checks() {
			checks = append(checks, ref.Check.Fingerprint)
		}
		for _, ref := range cfg.Canaries() {
			canaries = append(canaries, ref.Check.Fingerprint)
		}
		return checks, canaries
	}
	checks, canaries := prints(confirmations)
	tests := []struct {
		name                 string
		from, to             string
		checks, gw, resolver bool // changed
	}{
		{"a canary's target", `target: "127.0.0.1:1"`, `target: "127.0.0.1:2"`, false, true, false},
		{"a canary's threshold", "      failure_threshold: 1", "      failure_threshold: 2", false, true, false},
		{"canary_require", "quorum(1)", "all", false, false, false},
		{"the defaults", "recovery_threshold: 4", "recovery_threshold: 5", true, true, true},
		{"a feature", "flap: {window: 1h}", "flap: {window: 2h}", true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yml := strings.Replace(confirmations, tt.from, tt.to, 1)
			if yml == confirmations {
				t.Fatalf("%q not in the config", tt.from)
			}
			c, k := prints(yml)
			if got := c[0] != checks[0]; got != tt.checks {
				t.Errorf("check talk/send/a changed: %v, want %v", got, tt.checks)
			}
			if got := k[0] != canaries[0]; got != tt.gw {
				t.Errorf("canary gateway changed: %v, want %v", got, tt.gw)
			}
			if got := k[1] != canaries[1]; got != tt.resolver {
				t.Errorf("canary resolver changed: %v, want %v", got, tt.resolver)
			}
		})
	}
}
