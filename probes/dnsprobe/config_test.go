package dnsprobe

import (
	"encoding/json"
	"errors"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// fieldErrors flattens err into its FieldErrors, path -> message.
func fieldErrors(t *testing.T, err error) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(error)
	walk = func(err error) {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *probeconfig.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("error %q is not a *probeconfig.FieldError", err)
			return
		}
		out[fe.Path] = fe.Err.Error()
	}
	if err != nil {
		walk(err)
	}
	return out
}

func TestValidateErrors(t *testing.T) {
	missingCA := filepath.Join(t.TempDir(), "missing.pem")
	valid := func(edit func(c *Config)) Config {
		c := Config{Server: "127.0.0.1:53", QueryName: "talk.example.com"}
		edit(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		want map[string]string // path -> message substring
	}{
		{"empty block", Config{}, map[string]string{
			"server": "required", "query_name": "required",
		}},
		{"unknown query type", valid(func(c *Config) { c.QueryType = "BOGUS" }), map[string]string{
			"query_type": `unknown query type "BOGUS"`,
		}},
		{"unknown query class", valid(func(c *Config) { c.QueryClass = "XX" }), map[string]string{
			"query_class": `unknown query class "XX"`,
		}},
		{"bad transport", valid(func(c *Config) { c.TransportProtocol = "quic" }), map[string]string{
			"transport_protocol": `unknown transport "quic": want udp, tcp or tcp-tls`,
		}},
		{"port out of range", valid(func(c *Config) { c.Server = "127.0.0.1:99999" }), map[string]string{
			"server": `bad port "99999"`,
		}},
		{"empty port", valid(func(c *Config) { c.Server = "127.0.0.1:" }), map[string]string{
			"server": `bad port ""`,
		}},
		{"port zero", valid(func(c *Config) { c.Server = "[::1]:0" }), map[string]string{
			"server": `bad port "0"`,
		}},
		{"bad host", valid(func(c *Config) { c.Server = "dns server/1:53" }), map[string]string{
			"server": `bad host "dns server/1"`,
		}},
		{"too many colons", valid(func(c *Config) { c.Server = "a:b:c" }), map[string]string{
			"server": `bad address "a:b:c"`,
		}},
		{"bad query name", valid(func(c *Config) { c.QueryName = strings.Repeat("a", 64) + ".example.com" }), map[string]string{
			"query_name": "is not a valid domain name",
		}},
		{"unknown rcode", valid(func(c *Config) { c.ValidRcodes = []string{"NOERROR", "NOPE"} }), map[string]string{
			"valid_rcodes[1]": `unknown rcode "NOPE"`,
		}},
		{"null regexps", valid(func(c *Config) {
			c.ValidateAnswerRRs.FailIfMatchesRegexp = []probeconfig.Regexp{{}} // built in Go, never compiled
			c.ValidateAdditionalRRs.FailIfNoneMatchesRegexp = append(regexps(`ok`), probeconfig.Regexp{})
		}), map[string]string{
			"validate_answer_rrs.fail_if_matches_regexp[0]":          "empty regexp",
			"validate_additional_rrs.fail_if_none_matches_regexp[1]": "empty regexp",
		}},
		{"unreadable ca_file", valid(func(c *Config) {
			c.TransportProtocol = "tcp-tls"
			c.TLSConfig.CAFile = missingCA
		}), map[string]string{
			"tls_config.ca_file": "cannot read: " + missingCA,
		}},
		{"tls_config without tls", valid(func(c *Config) { c.TLSConfig.ServerName = "dns.example.com" }), map[string]string{
			"tls_config": "only used with transport_protocol tcp-tls",
		}},
		{"unknown ip protocol", valid(func(c *Config) { c.PreferredIPProtocol = "ip5" }), map[string]string{
			"preferred_ip_protocol": `unknown IP protocol "ip5"`,
		}},
		{"bad source address", valid(func(c *Config) { c.SourceIPAddress = "localhost" }), map[string]string{
			"source_ip_address": `"localhost" is not an IP address`,
		}},
		{"source family differs from server", valid(func(c *Config) { c.SourceIPAddress = "::1" }), map[string]string{
			"source_ip_address": "::1 and server 127.0.0.1 are of different IP families",
		}},
		{"edns0 size too small", valid(func(c *Config) { c.EDNS0UDPSize = 100 }), map[string]string{
			"edns0_udp_size": "100 is below the minimum of 512 bytes",
		}},
		{"several at once", Config{Server: "127.0.0.1", QueryName: "x.example", QueryType: "NOPE", TransportProtocol: "sctp", ValidRcodes: []string{"BAD"}}, map[string]string{
			"query_type": "unknown query type", "transport_protocol": "unknown transport", "valid_rcodes[0]": "unknown rcode",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			got := fieldErrors(t, err)
			if len(got) != len(tt.want) {
				t.Errorf("got errors %v, want paths %v", got, slices.Sorted(maps.Keys(tt.want)))
			}
			for path, msg := range tt.want {
				if !strings.Contains(got[path], msg) {
					t.Errorf("%s: got %q, want it to contain %q", path, got[path], msg)
				}
			}
			if _, err := New(&tt.cfg, probes.Options{CheckID: testCheckID}); err == nil || !strings.HasPrefix(err.Error(), "dns probe "+testCheckID+": ") {
				t.Errorf("New error = %v, want one naming the check", err)
			}
		})
	}
}

func TestValidateDefaults(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantHost  string
		wantPort  uint16
		wantAddr  string // "" for a host name
		wantQtype uint16
		wantClass uint16
	}{
		{"IPv4 with port", Config{Server: "127.0.0.1:5353"}, "127.0.0.1", 5353, "127.0.0.1:5353", dns.TypeA, dns.ClassINET},
		{"IPv4 without port", Config{Server: "127.0.0.1"}, "127.0.0.1", 53, "127.0.0.1:53", dns.TypeA, dns.ClassINET},
		{"bare IPv6", Config{Server: "::1"}, "::1", 53, "[::1]:53", dns.TypeA, dns.ClassINET},
		{"bracketed IPv6", Config{Server: "[::1]"}, "::1", 53, "[::1]:53", dns.TypeA, dns.ClassINET},
		{"IPv6 with port", Config{Server: "[::1]:5353"}, "::1", 5353, "[::1]:5353", dns.TypeA, dns.ClassINET},
		{"name, tls default port", Config{Server: "dns.example.com", TransportProtocol: "tcp-tls"}, "dns.example.com", 853, "", dns.TypeA, dns.ClassINET},
		{"name with port", Config{Server: "dns.example.com:5300"}, "dns.example.com", 5300, "", dns.TypeA, dns.ClassINET},
		{"generic type and class", Config{Server: "127.0.0.1", QueryType: "TYPE65", QueryClass: "class3"}, "127.0.0.1", 53, "127.0.0.1:53", dns.TypeHTTPS, dns.ClassCHAOS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.QueryName = "talk.example.com"
			p, err := cfg.compile()
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			addr := ""
			if p.addr.IsValid() {
				addr = p.addr.String()
			}
			if p.host != tt.wantHost || p.port != tt.wantPort || addr != tt.wantAddr || p.qtype != tt.wantQtype || p.qclass != tt.wantClass {
				t.Errorf("got host %q port %d addr %q type %d class %d", p.host, p.port, addr, p.qtype, p.qclass)
			}
			if !p.recursion || !p.fallback || p.preferIP6 || !slices.Equal(p.validRcodes, []int{dns.RcodeSuccess}) || p.qname != "talk.example.com." {
				t.Errorf("defaults: recursion=%v fallback=%v ip6=%v rcodes=%v qname=%q", p.recursion, p.fallback, p.preferIP6, p.validRcodes, p.qname)
			}
			if tt.wantHost == "dns.example.com" && cfg.TransportProtocol == "tcp-tls" && p.tlsConfig.ServerName != "dns.example.com" {
				t.Errorf("TLS server name = %q, want the server host", p.tlsConfig.ServerName)
			}
		})
	}
}

// TestConfigYAML decodes a block the way the config package does (unknown keys
// rejected) and checks every key lands in its field.
func TestConfigYAML(t *testing.T) {
	const block = `
server: 10.0.0.53:53
query_name: talk.example.com
query_type: MX
query_class: IN
transport_protocol: tcp-tls
recursion_desired: false
valid_rcodes: [NOERROR, NXDOMAIN]
validate_answer_rrs:
  fail_if_matches_regexp: ['^bad']
  fail_if_all_match_regexp: ['\tMX\t']
validate_authority_rrs:
  fail_if_not_matches_regexp: ['\tNS\t']
validate_additional_rrs:
  fail_if_none_matches_regexp: ['\tA\t', '\tAAAA\t']
tls_config: {insecure_skip_verify: true, server_name: dns.example.com}
preferred_ip_protocol: ip6
ip_protocol_fallback: false
source_ip_address: 10.0.0.1
edns0_udp_size: 1232
`
	var cfg Config
	dec := yaml.NewDecoder(strings.NewReader(block))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	checks := []struct {
		key       string
		got, want any
	}{
		{"server", cfg.Server, "10.0.0.53:53"},
		{"query_name", cfg.QueryName, "talk.example.com"},
		{"query_type", cfg.QueryType, "MX"},
		{"query_class", cfg.QueryClass, "IN"},
		{"transport_protocol", cfg.TransportProtocol, "tcp-tls"},
		{"recursion_desired", *cfg.RecursionDesired, false},
		{"valid_rcodes", strings.Join(cfg.ValidRcodes, ","), "NOERROR,NXDOMAIN"},
		{"validate_answer_rrs.fail_if_matches_regexp", cfg.ValidateAnswerRRs.FailIfMatchesRegexp[0].String(), "^bad"},
		{"validate_answer_rrs.fail_if_all_match_regexp", cfg.ValidateAnswerRRs.FailIfAllMatchRegexp[0].String(), `\tMX\t`},
		{"validate_authority_rrs.fail_if_not_matches_regexp", cfg.ValidateAuthorityRRs.FailIfNotMatchesRegexp[0].String(), `\tNS\t`},
		{"validate_additional_rrs.fail_if_none_matches_regexp", len(cfg.ValidateAdditionalRRs.FailIfNoneMatchesRegexp), 2},
		{"tls_config", cfg.TLSConfig, probeconfig.TLSConfig{InsecureSkipVerify: true, ServerName: "dns.example.com"}},
		{"preferred_ip_protocol", cfg.PreferredIPProtocol, "ip6"},
		{"ip_protocol_fallback", *cfg.IPProtocolFallback, false},
		{"source_ip_address", cfg.SourceIPAddress, "10.0.0.1"},
		{"edns0_udp_size", cfg.EDNS0UDPSize, uint16(1232)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}

	// JSON (for the API) uses the same lower snake names.
	out, err := json.Marshal(&cfg)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	for _, key := range []string{`"query_name":"talk.example.com"`, `"validate_answer_rrs":{"fail_if_matches_regexp":["^bad"]`, `"edns0_udp_size":1232`, `"recursion_desired":false`} {
		if !strings.Contains(string(out), key) {
			t.Errorf("JSON %s lacks %s", out, key)
		}
	}

	t.Run("unknown key", func(t *testing.T) {
		dec := yaml.NewDecoder(strings.NewReader("server: 127.0.0.1\nquery_name: a.example\ndns_over_tls: true\n"))
		dec.KnownFields(true)
		var cfg Config
		if err := dec.Decode(&cfg); err == nil || !strings.Contains(err.Error(), "dns_over_tls") {
			t.Errorf("decode error = %v, want one naming dns_over_tls", err)
		}
	})
	t.Run("empty regexp", func(t *testing.T) {
		var cfg Config
		if err := yaml.Unmarshal([]byte("server: 127.0.0.1\nquery_name: a.example\nvalidate_answer_rrs: {fail_if_matches_regexp: ['x', '']}\n"), &cfg); err != nil {
			t.Fatalf("decode: %v", err)
		}
		got := fieldErrors(t, cfg.Validate())
		if len(got) != 1 || !strings.HasPrefix(got["validate_answer_rrs.fail_if_matches_regexp[1]"], "empty regexp") {
			t.Errorf("Validate errors = %v, want an empty regexp at validate_answer_rrs.fail_if_matches_regexp[1]", got)
		}
	})
}

// TestQueryPacking: the query is built once with the configured flags, and the
// per-run copy only changes the id.
func TestQueryPacking(t *testing.T) {
	p := newProber(t, &Config{Server: "127.0.0.1", QueryName: "version.bind", QueryType: "TXT", QueryClass: "CH",
		RecursionDesired: boolPtr(false), EDNS0UDPSize: 1232})
	if got := binaryLen(p.query); got != len(p.query)-2 {
		t.Fatalf("length prefix %d, want %d", got, len(p.query)-2)
	}
	var m dns.Msg
	if err := m.Unpack(p.query[2:]); err != nil {
		t.Fatalf("unpack query: %v", err)
	}
	if m.Id != 0 || m.RecursionDesired || len(m.Question) != 1 ||
		m.Question[0] != question("version.bind", dns.TypeTXT, dns.ClassCHAOS) ||
		m.IsEdns0() == nil || m.IsEdns0().UDPSize() != 1232 {
		t.Errorf("query = %v", &m)
	}
	if p.what != "version.bind CH TXT" {
		t.Errorf("what = %q", p.what)
	}
	if p.literalTarget != netip.MustParseAddrPort("127.0.0.1:53").String() {
		t.Errorf("literalTarget = %q", p.literalTarget)
	}
}

func binaryLen(b []byte) int { return int(b[0])<<8 | int(b[1]) }
