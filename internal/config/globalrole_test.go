package config

import (
	"strings"
	"testing"
	"time"
)

// TestGlobalRoleDefaults: vigil global's file with only nats.url takes
// every default; set values are kept.
func TestGlobalRoleDefaults(t *testing.T) {
	c, err := ParseGlobalRole("global.yml", []byte("nats: {url: \"nats://127.0.0.1:4222\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.NATS.Stream != "VIGIL" || c.NATS.SubjectPrefix != "vigil" || c.MinRegions != 2 || c.Objective != 99.9 ||
		time.Duration(c.StaleAfter) != 30*time.Second || c.File != "global.yml" {
		t.Errorf("defaults: %+v", c)
	}
	c, err = ParseGlobalRole("global.yml", []byte(`nats:
  url: nats://a:4222,nats://b:4222
  stream: KR
  subject_prefix: ops.vigil
  token: t0ken
min_regions: 3
min_regions_for: {talk: 1, talk/send: 2}
objective: 99.5
objectives: {talk/send: 99.95}
stale_after: 1m
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.NATS.Stream != "KR" || c.NATS.SubjectPrefix != "ops.vigil" || c.NATS.Token.Reveal() != "t0ken" || c.MinRegions != 3 ||
		c.MinRegionsFor["talk/send"] != 2 || c.MinRegionsFor["talk"] != 1 || c.Objective != 99.5 ||
		c.Objectives["talk/send"] != 99.95 || time.Duration(c.StaleAfter) != time.Minute {
		t.Errorf("set values: %+v", c)
	}
}

// TestGlobalRoleErrors: each mistake names the file, line and key; the
// nats block is checked as the agent's global block is.
func TestGlobalRoleErrors(t *testing.T) {
	const url = "nats:\n  url: nats://127.0.0.1:4222\n"
	for _, tc := range []struct{ doc, want string }{
		{"", "global.yml: config is empty: it needs at least nats.url"},
		{"min_regions: 2\n", "global.yml: nats: is required: {url: nats://host:4222}"},
		{"nats: {stream: X}\n", "global.yml:1: nats.url: is required (nats://host:4222)"},
		{"nats:\n  url: http://x:4222\n", `global.yml:2: nats.url: "http://x:4222" must be nats://host:port or tls://host:port`},
		{url + "  stream: a.b\n", `global.yml:3: nats.stream: "a.b" must match [A-Za-z0-9_-]+`},
		{url + "  agent_id: x\n", `global.yml:3: nats.agent_id: unknown key "agent_id"`},
		{url + "  token: t\n  username: u\n  password: p\n", "global.yml:1: nats: set only one of credentials_file, username/password and token"},
		{url + "  tls_config: {ca_file: /nonexistent/ca.pem}\n", "global.yml:3: nats.tls_config.ca_file: "},
		{url + "min_region: 2\n", `global.yml:3: min_region: unknown key "min_region" (did you mean "min_regions"?)`},
		{url + "min_regions: 0\n", "global.yml:3: min_regions: 0 must be at least 1"},
		{url + "min_regions_for:\n  Talk.Send: 2\n", `global.yml:4: min_regions_for.Talk.Send: "Talk.Send" must be a service or service/feature`},
		{url + "min_regions_for:\n  talk/send: 0\n", "global.yml:4: min_regions_for.talk/send: 0 must be at least 1"},
		{url + "objective: 100\n", "global.yml:3: objective: must be a percentage in (0, 100), like 99.9, not 100"},
		{url + "objectives:\n  talk: 0\n", "global.yml:4: objectives.talk: must be a percentage in (0, 100)"},
		{url + "stale_after: 10ms\n", "global.yml:3: stale_after: must be at least 1s, not 10ms"},
		{url + "stale_after: soon\n", "global.yml:3: stale_after: "},
	} {
		_, err := ParseGlobalRole("global.yml", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.doc, err, tc.want)
		}
	}
}
