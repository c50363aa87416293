package tlsprobe

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

func yamlString(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"ok with default port", Config{Target: "talk.example.com"}, ""},
		{"ok ipv6", Config{Target: "[::1]:8443", RequiredSANs: []string{"::1"}}, ""},
		{"no target", Config{}, "target: required"},
		{"bad port", Config{Target: "a.example.com:99999"}, `target: bad port "99999" in "a.example.com:99999": want 1 to 65535`},
		{"bad host", Config{Target: "a b:443"}, `target: bad host "a b": want an IP address or a host name`},
		{"negative days", Config{Target: "a.example.com", MinDaysRemaining: -1}, "min_days_remaining: -1 is negative"},
		{"empty SAN", Config{Target: "a.example.com", RequiredSANs: []string{" "}}, "required_sans[0]: empty name"},
		{"bad ip protocol", Config{Target: "a.example.com", IPConfig: probeconfig.IPConfig{PreferredIPProtocol: "ip5"}},
			`preferred_ip_protocol: unknown IP protocol "ip5": want ip4 or ip6`},
		{"source family", Config{Target: "127.0.0.1:443", IPConfig: probeconfig.IPConfig{SourceIPAddress: "::1"}},
			"source_ip_address: ::1 and target 127.0.0.1 are of different IP families"},
		{"bad tls version", Config{Target: "a.example.com", TLSConfig: probeconfig.TLSConfig{MinVersion: "TLS14"}},
			`tls_config.min_version: unknown TLS version "TLS14": want TLS10, TLS11, TLS12 or TLS13`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDecodeStrict: the block decodes from YAML with the IP keys inline, and
// an unknown key is refused.
func TestDecodeStrict(t *testing.T) {
	src := "target: 127.0.0.1:443\nmin_days_remaining: 14\npreferred_ip_protocol: ip6\nsource_ip_address: 127.0.0.1\n"
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.Target != "127.0.0.1:443" || c.MinDaysRemaining != 14 || c.PreferredIPProtocol != "ip6" || c.SourceIPAddress != "127.0.0.1" {
		t.Errorf("decoded %+v", c)
	}
	dec = yaml.NewDecoder(strings.NewReader("target: a:1\nmin_days: 3\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err == nil || !strings.Contains(err.Error(), "field min_days not found") {
		t.Errorf("unknown key: %v", err)
	}
}
