package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const globalBase = `agent:
  region: kr-central-1
%s
services:
  - name: talk
    features:
      - name: send
        checks:
          - {name: api, http: {url: "http://127.0.0.1:8080/health"}}
`

func globalConfig(block string) []byte {
	return []byte(strings.Replace(globalBase, "%s", block, 1))
}

// TestGlobalDefaults: the global block's defaults, and agent.replica's in
// the default agent id.
func TestGlobalDefaults(t *testing.T) {
	for _, tc := range []struct {
		block, want string
	}{
		{"global: {url: \"nats://127.0.0.1:4222\"}", "VIGIL vigil 1 kr-central-1-0"},
		{"  replica: b\nglobal: {url: \"nats://127.0.0.1:4222\"}", "VIGIL vigil 1 kr-central-1-b"},
		{"global: {url: \"nats://a:4222,nats://b:4222\", stream: KR, subject_prefix: ops.vigil, replicas: 3, agent_id: pangyo-1}", "KR ops.vigil 3 pangyo-1"},
	} {
		c, err := Parse("vigil.yml", globalConfig(tc.block))
		if err != nil {
			t.Fatalf("%s: %v", tc.block, err)
		}
		g := c.Global
		if got := strings.Join([]string{g.Stream, g.SubjectPrefix, itoa(g.Replicas), g.AgentID}, " "); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.block, got, tc.want)
		}
	}
	c, err := Parse("vigil.yml", globalConfig(""))
	if err != nil {
		t.Fatal(err)
	}
	if c.Global != nil || c.Agent.Replica != "0" {
		t.Errorf("no global block: Global %v, replica %q; want nil, \"0\"", c.Global, c.Agent.Replica)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestGlobalErrors: each mistake in the block is an error naming the file,
// line and key.
func TestGlobalErrors(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		block, want string
	}{
		{"global: {stream: X}", `vigil.yml:3: global.url: is required (nats://host:4222)`},
		{"global: {url: \"http://127.0.0.1:4222\"}", `vigil.yml:3: global.url: "http://127.0.0.1:4222" must be nats://host:port or tls://host:port`},
		{"global:\n  url: nats://127.0.0.1:4222\n  stream: a.b", `vigil.yml:5: global.stream: "a.b" must match [A-Za-z0-9_-]+`},
		{"global:\n  url: nats://127.0.0.1:4222\n  subject_prefix: vigil.>", `vigil.yml:5: global.subject_prefix: "vigil.>" must be tokens`},
		{"global:\n  url: nats://127.0.0.1:4222\n  replicas: 0", `vigil.yml:5: global.replicas: 0 must be between 1 and 5`},
		{"global:\n  url: nats://127.0.0.1:4222\n  agent_id: Pangyo.1", `vigil.yml:5: global.agent_id: "Pangyo.1" must match [a-z0-9_-]+ (it is a subject token)`},
		{"  replica: \"a b\"", `vigil.yml:3: agent.replica: "a b" must match [a-z0-9_-]+`},
		{"global:\n  url: nats://127.0.0.1:4222\n  credentials_file: /nonexistent/vigil.creds", `vigil.yml:5: global.credentials_file: cannot read: `},
		{"global:\n  url: nats://127.0.0.1:4222\n  username: vigil\n  password: x\n  password_file: " + pw, `global.password: set only one of password and password_file`},
		{"global:\n  url: nats://127.0.0.1:4222\n  token: t\n  username: u\n  password: p", `vigil.yml:3: global: set only one of credentials_file, username/password and token (has username/password, token)`},
		{"global:\n  url: nats://127.0.0.1:4222\n  tls_config: {ca_file: /nonexistent/ca.pem}", `vigil.yml:5: global.tls_config.ca_file: `},
		{"global:\n  url: nats://127.0.0.1:4222\n  urls: x", `vigil.yml:5: global.urls: unknown key "urls" (did you mean "url"?)`},
	} {
		_, err := Parse("vigil.yml", globalConfig(tc.block))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.block, err, tc.want)
		}
	}
	// password_file alone is fine and read.
	c, err := Parse("vigil.yml", globalConfig("global:\n  url: nats://127.0.0.1:4222\n  username: vigil\n  password_file: "+pw))
	if err != nil {
		t.Fatal(err)
	}
	if password, _, err := c.Global.Secrets(); err != nil || password.Reveal() != "secret" {
		t.Errorf("Secrets() = %q, %v; want the file's content", password.Reveal(), err)
	}
}
