package config

import (
	"strings"
	"testing"
)

// manyErrors has one problem of each kind on its own line; every one must be
// reported by one Parse, decode errors (a bad duration, a bad regexp, a word
// for a number) not hiding the validation of the rest.
const manyErrors = `agent:
  region: kr-central-1
  lables: {datacenter: pangyo}
defaults:
  interval: 5 seconds
  recovery_threshold: 0
services:
  - name: talk
    features:
      - name: send
        require: most
        failure_threshold: 0
        timeout: 0s
        slo: {objective: 0, window: 0s}
        maintenance:
          - {start: "0001-01-01T00:00:00Z", duration: 1h}
          - {cron: "61 4 * * SUN", duration: 30m}
        checks:
          - name: api
            interval: 0s
            http:
              url: http://127.0.0.1:8080/health
              fail_if_body_matches_regexp: ['(unclosed']
              bearer_token: ${VIGIL_TEST_UNSET_VARIABLE}
          - name: api
            timeout: 0s
            dns: {server: "127.0.0.1:53", query_name: talk.example.com}
          - name: nothing
      - name: recv
        recovery_threshold: three
        checks:
          - name: api
            http: {url: "http://127.0.0.1:8080/recv", url: "http://127.0.0.1:8080/other"}
  - name: talk
    features:
      - name: other
        checks:
          - {name: api, interval: 10m, timeout: 20m, http: {url: "http://127.0.0.1/"}}
`

func TestParseReportsEveryErrorInOnePass(t *testing.T) {
	want := []string{
		`vigil.yml:3: agent.lables: unknown key "lables" (did you mean "labels"?)`,
		`vigil.yml:5: defaults.interval: bad duration "5 seconds"`,
		`vigil.yml:6: defaults.recovery_threshold: must be > 0 (leave the key out for the default, 3)`,
		`vigil.yml:11: services[0].features[0].require: require must be all, any or quorum(N), not "most"`,
		`vigil.yml:12: services[0].features[0].failure_threshold: must be > 0 (leave the key out for the default, 2)`,
		`vigil.yml:13: services[0].features[0].timeout: must be > 0 (leave the key out for the default, 10s)`,
		`vigil.yml:14: services[0].features[0].slo.objective: must be a percentage in (0, 100), like 99.9, not 0`,
		`vigil.yml:14: services[0].features[0].slo.window: must be > 0 (leave the key out for the default, 30d)`,
		`vigil.yml:16: services[0].features[0].maintenance[0].start: "0001-01-01T00:00:00Z" is out of range: a window must lie between 1970-01-01T00:00:00Z and`,
		`vigil.yml:17: services[0].features[0].maintenance[1].cron: bad cron expression "61 4 * * SUN"`,
		`vigil.yml:20: services[0].features[0].checks[0].interval: must be > 0 (leave the key out for the default, 30s)`,
		`vigil.yml:23: services[0].features[0].checks[0].http.fail_if_body_matches_regexp[0]: bad regexp "(unclosed"`,
		`vigil.yml:24: services[0].features[0].checks[0].http.bearer_token: environment variable VIGIL_TEST_UNSET_VARIABLE is not set`,
		`vigil.yml:25: services[0].features[0].checks[1].name: duplicate check name "api" (also entry 0)`,
		`vigil.yml:26: services[0].features[0].checks[1].timeout: must be > 0 (leave the key out for the default, 10s)`,
		`vigil.yml:28: services[0].features[0].checks[2]: check "nothing" needs exactly one of http, dns, messaging, tcp, tls, ssh, grpc, icmp, browser, journey (has 0)`,
		"vigil.yml:30: services[0].features[1].recovery_threshold: cannot unmarshal !!str `three` into int",
		`vigil.yml:33: services[0].features[1].checks[0].http.url: key "url" is repeated (first at line 33)`,
		`vigil.yml:34: services[1].name: duplicate service name "talk" (also entry 0)`,
		`vigil.yml:38: services[1].features[0].checks[0].timeout: 20m must be less than interval 10m`,
	}
	_, err := Parse("vigil.yml", []byte(manyErrors))
	if err == nil {
		t.Fatal("Parse accepted a config full of errors")
	}
	wantErrorLines(t, err, want)
}

// wantErrorLines checks that err has one line per entry of want, each
// starting with it.
func wantErrorLines(t *testing.T, err error, want []string) {
	t.Helper()
	got := strings.Split(err.Error(), "\n")
	for i, w := range want {
		if i >= len(got) || !strings.HasPrefix(got[i], w) {
			t.Errorf("error %d:\n got %q\nwant %q...", i, at(got, i), w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(got), len(want), err)
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}
