package dnsprobe

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Config is the `dns` block of a check. Keys follow blackbox_exporter's dns
// module where the meaning is the same. A zero field means its documented
// default, so a Config built in Go behaves like one decoded from YAML (a custom
// UnmarshalYAML would lose the config package's unknown-key check).
type Config struct {
	// Server is "host:port" or "host"; the port defaults to 53, or 853 for tcp-tls.
	// A host name is resolved on every run, honouring PreferredIPProtocol.
	Server string `yaml:"server" json:"server"`
	// QueryName is the name asked about, e.g. talk.example.com.
	QueryName string `yaml:"query_name" json:"query_name"`
	// QueryType is a type name miekg/dns knows (A, AAAA, MX, SOA, HTTPS, ...) or
	// TYPEn; default A.
	QueryType string `yaml:"query_type,omitempty" json:"query_type,omitempty"`
	// QueryClass is IN (default), CH, HS, NONE, ANY or CLASSn.
	QueryClass string `yaml:"query_class,omitempty" json:"query_class,omitempty"`
	// TransportProtocol is udp (default), tcp or tcp-tls (DNS over TLS).
	TransportProtocol string `yaml:"transport_protocol,omitempty" json:"transport_protocol,omitempty"`
	// RecursionDesired sets the RD flag of the query; default true.
	RecursionDesired *bool `yaml:"recursion_desired,omitempty" json:"recursion_desired,omitempty"`
	// ValidRcodes lists the rcode names that pass; default [NOERROR].
	ValidRcodes []string `yaml:"valid_rcodes,omitempty" json:"valid_rcodes,omitempty"`
	// ValidateAnswerRRs checks the answer section.
	ValidateAnswerRRs RRValidator `yaml:"validate_answer_rrs,omitempty" json:"validate_answer_rrs,omitzero"`
	// ValidateAuthorityRRs checks the authority section.
	ValidateAuthorityRRs RRValidator `yaml:"validate_authority_rrs,omitempty" json:"validate_authority_rrs,omitzero"`
	// ValidateAdditionalRRs checks the additional section (an EDNS0 OPT record
	// counts as one of its RRs, as in blackbox_exporter).
	ValidateAdditionalRRs RRValidator `yaml:"validate_additional_rrs,omitempty" json:"validate_additional_rrs,omitzero"`
	// TLSConfig is used with transport tcp-tls only. Its server_name defaults to
	// the server's host.
	TLSConfig probeconfig.TLSConfig `yaml:"tls_config,omitempty" json:"tls_config,omitzero"`
	// PreferredIPProtocol is ip4 (default) or ip6: the address family used when
	// Server is a host name.
	PreferredIPProtocol string `yaml:"preferred_ip_protocol,omitempty" json:"preferred_ip_protocol,omitempty"`
	// IPProtocolFallback allows the other family when the name has no address of
	// the preferred one; default true.
	IPProtocolFallback *bool `yaml:"ip_protocol_fallback,omitempty" json:"ip_protocol_fallback,omitempty"`
	// SourceIPAddress is the local address queries are sent from; optional.
	SourceIPAddress string `yaml:"source_ip_address,omitempty" json:"source_ip_address,omitempty"`
	// EDNS0UDPSize, when set (512 or more), adds an EDNS0 OPT record advertising
	// this UDP payload size; 0 sends a plain query (512-byte UDP answers).
	EDNS0UDPSize uint16 `yaml:"edns0_udp_size,omitempty" json:"edns0_udp_size,omitempty"`
}

// RRValidator checks the resource records of one section, each matched in its
// text form (rr.String(), e.g. "talk.example.com.\t300\tIN\tA\t192.0.2.1"), with
// blackbox_exporter's semantics.
type RRValidator struct {
	// FailIfMatchesRegexp fails the run if any RR matches any of the regexps.
	FailIfMatchesRegexp []probeconfig.Regexp `yaml:"fail_if_matches_regexp,omitempty" json:"fail_if_matches_regexp,omitempty"`
	// FailIfAllMatchRegexp fails the run if every RR matches every regexp (also
	// when the section is empty).
	FailIfAllMatchRegexp []probeconfig.Regexp `yaml:"fail_if_all_match_regexp,omitempty" json:"fail_if_all_match_regexp,omitempty"`
	// FailIfNotMatchesRegexp fails the run if some RR does not match one of the
	// regexps, or if the section is empty.
	FailIfNotMatchesRegexp []probeconfig.Regexp `yaml:"fail_if_not_matches_regexp,omitempty" json:"fail_if_not_matches_regexp,omitempty"`
	// FailIfNoneMatchesRegexp fails the run if no RR matches any of the regexps,
	// or if the section is empty.
	FailIfNoneMatchesRegexp []probeconfig.Regexp `yaml:"fail_if_none_matches_regexp,omitempty" json:"fail_if_none_matches_regexp,omitempty"`
}

func (v *RRValidator) empty() bool {
	return len(v.FailIfMatchesRegexp) == 0 && len(v.FailIfAllMatchRegexp) == 0 &&
		len(v.FailIfNotMatchesRegexp) == 0 && len(v.FailIfNoneMatchesRegexp) == 0
}

// Validate checks the block; errors are probeconfig.FieldErrors relative to it.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

// Transports, as in transport_protocol and in DNSInfo.Transport.
const (
	transportUDP = "udp"
	transportTCP = "tcp"
	transportTLS = "tcp-tls"
)

// plan is a Config checked and turned into the values a run needs.
type plan struct {
	host string         // server host, without brackets
	port uint16         // server port, defaulted
	addr netip.AddrPort // the server when host is an IP literal; invalid for a name

	qname          string // fully qualified
	qtype, qclass  uint16
	transport      string
	recursion      bool
	ednsSize       uint16
	validRcodes    []int
	validRcodeText string // "[NOERROR]" for errors
	sections       [3]sectionCheck
	tlsConfig      *tls.Config // for tcp-tls only
	preferIP6      bool
	fallback       bool
	source         netip.Addr // invalid when unset
}

// sectionCheck is one section's validator with its config path, for errors.
type sectionCheck struct {
	name string // "answer", "authority", "additional"
	v    *RRValidator
}

// compile checks c and returns the plan; all problems are reported at once.
func (c *Config) compile() (*plan, error) {
	p := &plan{
		qtype:     dns.TypeA,
		qclass:    dns.ClassINET,
		transport: transportUDP,
		recursion: c.RecursionDesired == nil || *c.RecursionDesired,
		fallback:  c.IPProtocolFallback == nil || *c.IPProtocolFallback,
		ednsSize:  c.EDNS0UDPSize,
	}
	// In this order: the server's default port needs the transport, the
	// source address and TLS the server.
	err := errors.Join(
		c.compileServer(p),
		c.compileQuery(p),
		c.compileRcodes(p),
		c.compileSections(p),
		c.compileConnection(p),
	)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// compileServer resolves transport_protocol and server.
func (c *Config) compileServer(p *plan) error {
	var errs []error
	switch t := strings.ToLower(c.TransportProtocol); t {
	case "", transportUDP:
	case transportTCP, transportTLS:
		p.transport = t
	default:
		errs = append(errs, probeconfig.Errorf("transport_protocol", "unknown transport %q: want udp, tcp or tcp-tls", c.TransportProtocol))
	}

	if err := p.parseServer(c.Server); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// compileQuery resolves query_name, query_type and query_class.
func (c *Config) compileQuery(p *plan) error {
	var errs []error
	switch {
	case c.QueryName == "":
		errs = append(errs, probeconfig.Errorf("query_name", "required"))
	default:
		if _, ok := dns.IsDomainName(c.QueryName); !ok {
			errs = append(errs, probeconfig.Errorf("query_name", "%q is not a valid domain name", c.QueryName))
		}
		p.qname = dns.Fqdn(c.QueryName)
	}

	if c.QueryType != "" {
		t, ok := parseCode(c.QueryType, dns.StringToType, "TYPE")
		if !ok {
			errs = append(errs, probeconfig.Errorf("query_type", "unknown query type %q: want a type name such as A, AAAA, MX, TXT, SOA, SRV, HTTPS or TYPEn", c.QueryType))
		}
		p.qtype = t
	}
	if c.QueryClass != "" {
		cl, ok := parseCode(c.QueryClass, dns.StringToClass, "CLASS")
		if !ok {
			errs = append(errs, probeconfig.Errorf("query_class", "unknown query class %q: want IN, CH, HS, NONE, ANY or CLASSn", c.QueryClass))
		}
		p.qclass = cl
	}
	return errors.Join(errs...)
}

// compileRcodes resolves valid_rcodes (default NOERROR).
func (c *Config) compileRcodes(p *plan) error {
	var errs []error
	rcodes := c.ValidRcodes
	if len(rcodes) == 0 {
		rcodes = []string{"NOERROR"}
	}
	names := make([]string, 0, len(rcodes))
	for i, name := range rcodes {
		rc, ok := dns.StringToRcode[strings.ToUpper(name)]
		if !ok {
			errs = append(errs, probeconfig.Errorf(fmt.Sprintf("valid_rcodes[%d]", i), "unknown rcode %q: want a name such as NOERROR, NXDOMAIN, SERVFAIL or REFUSED", name))
			continue
		}
		p.validRcodes = append(p.validRcodes, rc)
		names = append(names, dns.RcodeToString[rc])
	}
	p.validRcodeText = "[" + strings.Join(names, " ") + "]"
	return errors.Join(errs...)
}

// compileSections checks the validate_*_rrs blocks.
func (c *Config) compileSections(p *plan) error {
	var errs []error
	p.sections = [3]sectionCheck{
		{"answer", &c.ValidateAnswerRRs},
		{"authority", &c.ValidateAuthorityRRs},
		{"additional", &c.ValidateAdditionalRRs},
	}
	for _, s := range p.sections {
		errs = append(errs, probeconfig.Prefix("validate_"+s.name+"_rrs", s.v.check()))
	}
	return errors.Join(errs...)
}

// compileConnection resolves preferred_ip_protocol, source_ip_address,
// edns0_udp_size and tls_config.
func (c *Config) compileConnection(p *plan) error {
	var errs []error
	switch strings.ToLower(c.PreferredIPProtocol) {
	case "", "ip4":
	case "ip6":
		p.preferIP6 = true
	default:
		errs = append(errs, probeconfig.Errorf("preferred_ip_protocol", "unknown IP protocol %q: want ip4 or ip6", c.PreferredIPProtocol))
	}

	if c.SourceIPAddress != "" {
		src, err := netip.ParseAddr(c.SourceIPAddress)
		switch {
		case err != nil:
			errs = append(errs, probeconfig.Errorf("source_ip_address", "%q is not an IP address", c.SourceIPAddress))
		case p.addr.IsValid() && src.Unmap().Is4() != p.addr.Addr().Is4():
			errs = append(errs, probeconfig.Errorf("source_ip_address", "%s and server %s are of different IP families", src, p.addr.Addr()))
		default:
			p.source = src.Unmap()
		}
	}

	if c.EDNS0UDPSize != 0 && c.EDNS0UDPSize < dns.MinMsgSize {
		errs = append(errs, probeconfig.Errorf("edns0_udp_size", "%d is below the minimum of %d bytes", c.EDNS0UDPSize, dns.MinMsgSize))
	}

	switch {
	case p.transport == transportTLS:
		cfg, err := c.TLSConfig.Build()
		if err != nil {
			errs = append(errs, probeconfig.Prefix("tls_config", err))
			break
		}
		if cfg.ServerName == "" {
			// An IP literal works too: crypto/tls then checks the IP SANs.
			cfg.ServerName = p.host
		}
		p.tlsConfig = cfg
	case c.TLSConfig != (probeconfig.TLSConfig{}):
		errs = append(errs, probeconfig.Errorf("tls_config", "is only used with transport_protocol tcp-tls"))
	}
	return errors.Join(errs...)
}

// parseServer fills host, port and (for an IP literal) addr from server.
func (p *plan) parseServer(server string) error {
	if server == "" {
		return probeconfig.Errorf("server", "required")
	}
	host, portText, hasPort := server, "", false
	// An IPv6 literal has colons of its own, so only split off a port when the
	// text is not a bare (or bracketed) address.
	if _, err := netip.ParseAddr(strings.Trim(server, "[]")); err != nil && strings.Contains(server, ":") {
		var splitErr error
		host, portText, splitErr = net.SplitHostPort(server)
		if splitErr != nil {
			return probeconfig.Errorf("server", "bad address %q: want host or host:port", server)
		}
		hasPort = true
	}
	host = strings.Trim(host, "[]")
	p.port = 53
	if p.transport == transportTLS {
		p.port = 853
	}
	if hasPort {
		port, err := strconv.ParseUint(portText, 10, 16)
		if err != nil || port == 0 {
			return probeconfig.Errorf("server", "bad port %q in %q: want 1 to 65535", portText, server)
		}
		p.port = uint16(port)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		p.host = host
		p.addr = netip.AddrPortFrom(ip.Unmap(), p.port)
		return nil
	}
	if _, ok := dns.IsDomainName(host); !ok || host == "" || strings.ContainsAny(host, " /\\") {
		return probeconfig.Errorf("server", "bad host %q in %q: want an IP address or a host name", host, server)
	}
	p.host = host
	return nil
}

// check reports empty regexps: they match every RR, which makes each option
// either always or never fail, so they are mistakes.
func (v *RRValidator) check() error {
	var errs []error
	for _, list := range v.lists() {
		for i, re := range list.regexps {
			if re.Regexp == nil || re.String() == "" {
				errs = append(errs, probeconfig.Errorf(fmt.Sprintf("%s[%d]", list.key, i), "empty regexp: it matches every RR"))
			}
		}
	}
	return errors.Join(errs...)
}

// parseCode looks name up in known (case-insensitively), also accepting the
// RFC 3597 generic form such as TYPE65 or CLASS3.
func parseCode(name string, known map[string]uint16, generic string) (uint16, bool) {
	upper := strings.ToUpper(name)
	if v, ok := known[upper]; ok {
		return v, true
	}
	if rest, ok := strings.CutPrefix(upper, generic); ok {
		if v, err := strconv.ParseUint(rest, 10, 16); err == nil {
			return uint16(v), true
		}
	}
	return 0, false
}
