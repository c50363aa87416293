package config

import (
	"strings"
	"testing"

	"github.com/vigil-monitoring/vigil/probes"
)

// journeyErrors has one journey problem per line; each must be reported with
// its file, line and key.
const journeyErrors = `agent: {region: kr-central-1}
services:
  - name: talk
    features:
      - name: send
        checks:
          - name: flow
            journey:
              vars: {user: alice, bad-name: x}
              steps:
                - name: login
                  http: {url: "http://127.0.0.1:8080/login", methd: POST}
                  extract:
                    - {var: token, json: "$.[", secret: true}
                    - {var: run.x, header: X}
                - name: post
                  http:
                    url: http://127.0.0.1:8080/messages
                    headers: {Authorization: "Bearer ${tokn}"}
                    body: '${msg_id}'
                  extract: [{var: msg_id, json: "$.id"}]
                - name: post
                  timeout: -1s
                  dns: {server: "127.0.0.1:53", query_name: "${user}.example.com"}
                  extract: [{var: x, regexp: "a"}]
                - name: Nested
                  journey: {steps: [{name: x, http: {url: "http://127.0.0.1/"}}]}
                - name: none
                - name: bad-url
                  http: {url: "ftp://${user}/"}
`

func TestJourneyErrorsNameFileLineAndKey(t *testing.T) {
	t.Setenv("VIGIL_TEST_JOURNEY_UNSET", "")
	want := []string{
		`vigil.yml:9: services[0].features[0].checks[0].journey.vars.bad-name: variable name "bad-name" must be letters, digits and _`,
		`vigil.yml:12: services[0].features[0].checks[0].journey.steps[0].http.methd: unknown key "methd" (did you mean "method"?)`,
		`vigil.yml:14: services[0].features[0].checks[0].journey.steps[0].extract[0].json: bad JSONPath "$.["`,
		`vigil.yml:15: services[0].features[0].checks[0].journey.steps[0].extract[1].var: variable name "run.x" must be letters, digits and _`,
		`vigil.yml:19: services[0].features[0].checks[0].journey.steps[1].http.headers.Authorization: unknown variable ${tokn} in step "post": not in vars, not a builtin (run.token, run.time, run.unix), not extracted by an earlier step, and not set in the environment`,
		`vigil.yml:20: services[0].features[0].checks[0].journey.steps[1].http.body: unknown variable ${msg_id} in step "post"`,
		`vigil.yml:22: services[0].features[0].checks[0].journey.steps[2].name: step name "post" is repeated (first at steps[1])`,
		`vigil.yml:23: services[0].features[0].checks[0].journey.steps[2].timeout: bad duration "-1s"`,
		`vigil.yml:25: services[0].features[0].checks[0].journey.steps[2].extract[0]: a dns step has nothing to extract from: extract works on http and messaging (await) steps`,
		`vigil.yml:26: services[0].features[0].checks[0].journey.steps[3].name: step name "Nested" must be lower-case letters, digits, _ and -`,
		`vigil.yml:27: services[0].features[0].checks[0].journey.steps[3].journey: a journey step cannot be a journey`,
		`vigil.yml:28: services[0].features[0].checks[0].journey.steps[4]: a step needs exactly one of http, dns, messaging, tcp, tls, ssh, grpc, icmp, browser (has 0)`,
		`vigil.yml:30: services[0].features[0].checks[0].journey.steps[5].http.url: `,
	}
	_, err := Parse("vigil.yml", []byte(journeyErrors))
	if err == nil {
		t.Fatal("Parse accepted a journey full of errors")
	}
	wantErrorLines(t, err, want)
}

// TestJourneyExampleBuilds loads examples/journey.yml and builds its check as
// the agent would (no network I/O): steps with variables are kept for each
// run, the others built once.
func TestJourneyExampleBuilds(t *testing.T) {
	t.Setenv("JOURNEY_PASSWORD", "example-password")
	cfg, err := Load("../../examples/journey.yml")
	if err != nil {
		t.Fatal(err)
	}
	checks := cfg.Checks()
	if len(checks) != 1 {
		t.Fatalf("%d checks, want 1", len(checks))
	}
	ch := cfg.Services[0].Features[0].Checks[0]
	if ch.Kind() != "journey" || len(ch.Journey.Steps) != 5 || !ch.Journey.Steps[4].Always {
		t.Fatalf("check = kind %q, %d steps; want a journey of 5 ending in an always step", ch.Kind(), len(ch.Journey.Steps))
	}
	p, err := ch.Build(probes.Options{CheckID: "talk/message-send-receive/flow"})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := p.(probes.Closer); ok {
		c.Close()
	}
}

// TestJourneyExampleNeedsItsPassword: the example's password comes from the
// environment; without it the config names the key and the variable.
func TestJourneyExampleNeedsItsPassword(t *testing.T) {
	_, err := Load("../../examples/journey.yml")
	want := `journey.steps[0].http.body: unknown variable ${JOURNEY_PASSWORD} in step "login"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Load = %v, want an error containing %q", err, want)
	}
}
