package parity

import (
	"fmt"

	"golang.org/x/net/icmp"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// parityCases is the table: per kind a passing row, a row failing on an
// assertion and a row failing on the connection, and more where the kind has
// more to tell apart.
func parityCases(tg *targets) []parityCase {
	var cs []parityCase
	for _, kind := range []func(*targets) []parityCase{httpCases, tlsCases, dnsCases, tcpCases, sshCases, grpcCases, icmpCases} {
		cs = append(cs, kind(tg)...)
	}
	return cs
}

// module is a blackbox module's body: prober, the shared timeout and the
// prober's block.
func module(prober, block string) string {
	return fmt.Sprintf("{prober: %s, timeout: %s, %s: {preferred_ip_protocol: ip4, ip_protocol_fallback: false%s}}",
		prober, moduleTimeout, prober, block)
}

func httpCases(tg *targets) []parityCase {
	ok := `, valid_status_codes: [200], fail_if_body_not_matches_regexp: ["status: ok"]`
	ca := fmt.Sprintf(`, tls_config: {ca_file: %q}`, tg.caFile)
	row := func(name, what, url, block string, want bool) parityCase {
		return parityCase{kind: "http", name: name, what: what, module: module("http", block), target: url,
			check: fmt.Sprintf("http: {url: %q%s}", url, block), want: want}
	}
	cs := []parityCase{
		row("http-ok", "200 and the body matches `status: ok`", tg.httpURL+"/ok", ok, true),
		row("http-status", "503 where 200 is valid", tg.httpURL+"/status/503", ok, false),
		row("http-body", "200, but `fail_if_body_matches_regexp` matches", tg.httpURL+"/ok", `, fail_if_body_matches_regexp: ["status: ok"]`, false),
		row("http-refused", "nothing listens on the port", "http://"+tg.closedTCP+"/ok", ok, false),
		row("http-switch-up", "the switch target while up", tg.httpURL+"/switch", ok, true),
		row("http-switch-down", "the switch target while down: 200, body `status: down`", tg.httpURL+"/switch", ok, false),
		row("https-ok", "https, a certificate of the CA in `tls_config.ca_file`", tg.httpsURL+"/ok", ok+ca, true),
		row("https-untrusted", "https without the CA: verification fails", tg.httpsURL+"/ok", ok, false),
		row("https-not-ssl", "`fail_if_not_ssl` on plain http", tg.httpURL+"/ok", ok+", fail_if_not_ssl: true", false),
		{kind: "http", name: "http-v6-only", what: "ip6 only, no fallback, to an IPv4 address", target: tg.httpURL + "/ok",
			module: fmt.Sprintf("{prober: http, timeout: %s, http: {preferred_ip_protocol: ip6, ip_protocol_fallback: false}}", moduleTimeout),
			check:  fmt.Sprintf("http: {url: %q, preferred_ip_protocol: ip6, ip_protocol_fallback: false}", tg.httpURL+"/ok")},
	}
	cs[5].setup = func() func() {
		tg.httpDown.Store(true)
		return func() { tg.httpDown.Store(false) }
	}
	return cs
}

// tlsCases compare Vigil's tls kind with blackbox's tcp prober with tls: true.
func tlsCases(tg *targets) []parityCase {
	ca := fmt.Sprintf("tls_config: {ca_file: %q}", tg.caFile)
	row := func(name, what, addr string, want bool) parityCase {
		return parityCase{kind: "tls", name: name, what: what, module: module("tcp", ", tls: true, "+ca), target: addr,
			check: fmt.Sprintf("tls: {target: %q, preferred_ip_protocol: ip4, %s}", addr, ca), want: want}
	}
	return []parityCase{
		row("tls-ok", "handshake, a certificate of the trusted CA", tg.tlsGood, true),
		row("tls-expired", "the certificate expired a day ago", tg.tlsExpired, false),
		row("tls-other-ca", "a certificate of another CA", tg.tlsOtherCA, false),
		row("tls-refused", "nothing listens on the port", tg.closedTCP, false),
	}
}

func dnsCases(tg *targets) []parityCase {
	row := func(name, what, server, block string, want bool) parityCase {
		return parityCase{kind: "dns", name: name, what: what, module: module("dns", ", transport_protocol: udp"+block), target: server,
			check: fmt.Sprintf("dns: {server: %q, transport_protocol: udp, preferred_ip_protocol: ip4%s}", server, block), want: want}
	}
	a := ", query_name: ok.parity.test, query_type: A, valid_rcodes: [NOERROR]"
	return []parityCase{
		row("dns-ok", "A record, NOERROR, the answer matches `192.0.2.1`", tg.dnsAddr, a+`, validate_answer_rrs: {fail_if_not_matches_regexp: ["192\\.0\\.2\\.1"]}`, true),
		row("dns-nxdomain", "NXDOMAIN where NOERROR is valid", tg.dnsAddr, ", query_name: missing.parity.test, query_type: A, valid_rcodes: [NOERROR]", false),
		row("dns-answer", "NOERROR, but the answer does not match `192.0.2.99`", tg.dnsAddr, a+`, validate_answer_rrs: {fail_if_not_matches_regexp: ["192\\.0\\.2\\.99"]}`, false),
		row("dns-refused", "nothing listens on the UDP port", tg.closedUDP, a, false),
	}
}

func tcpCases(tg *targets) []parityCase {
	ca := fmt.Sprintf(", tls_config: {ca_file: %q}", tg.caFile)
	row := func(name, what, addr, block string, want bool) parityCase {
		return parityCase{kind: "tcp", name: name, what: what, module: module("tcp", block), target: addr,
			check: fmt.Sprintf("tcp: {target: %q, preferred_ip_protocol: ip4%s}", addr, block), want: want}
	}
	return []parityCase{
		row("tcp-connect", "connect only", tg.tcpAddr, "", true),
		row("tcp-banner", "expect the `220` banner, send `PING 42`, expect `PONG 42`", tg.tcpAddr,
			`, query_response: [{expect: "^220 "}, {send: "PING 42"}, {expect: "^PONG 42$"}, {send: "QUIT"}]`, true),
		row("tcp-starttls", "STARTTLS, then PING over TLS", tg.tcpAddr,
			`, query_response: [{expect: "^220 "}, {send: "STARTTLS"}, {expect: "^220 go ahead"}, {starttls: true}, {send: "PING tls"}, {expect: "^PONG tls$"}, {send: "QUIT"}]`+ca, true),
		row("tcp-expect", "the server says `221 bye` and closes where `^PONG` is expected", tg.tcpAddr,
			`, query_response: [{expect: "^220 "}, {send: "QUIT"}, {expect: "^PONG"}]`, false),
		row("tcp-starttls-untrusted", "STARTTLS without the CA: verification fails", tg.tcpAddr,
			`, query_response: [{expect: "^220 "}, {send: "STARTTLS"}, {expect: "^220 go ahead"}, {starttls: true}, {send: "QUIT"}]`, false),
		row("tcp-refused", "nothing listens on the port", tg.closedTCP, "", false),
		{kind: "tcp", name: "tcp-v6-only", what: "ip6 only, no fallback, to an IPv4 address", target: tg.tcpAddr,
			module: fmt.Sprintf("{prober: tcp, timeout: %s, tcp: {preferred_ip_protocol: ip6, ip_protocol_fallback: false}}", moduleTimeout),
			check:  fmt.Sprintf("tcp: {target: %q, preferred_ip_protocol: ip6, ip_protocol_fallback: false}", tg.tcpAddr)},
	}
}

// sshCases compare Vigil's ssh kind with Debian's ssh_banner module.
func sshCases(tg *targets) []parityCase {
	banner := module("tcp", `, query_response: [{expect: "^SSH-2.0-"}, {send: "SSH-2.0-blackbox-ssh-check"}]`)
	row := func(name, what, addr string, want bool) parityCase {
		return parityCase{kind: "ssh", name: name, what: what, module: banner, target: addr,
			check: fmt.Sprintf(`ssh: {target: %q, preferred_ip_protocol: ip4, fail_if_banner_not_matches_regexp: "^SSH-2.0-"}`, addr), want: want}
	}
	return []parityCase{
		row("ssh-ok", "an x/crypto/ssh server: `SSH-2.0-Parity_1.0`", tg.sshAddr, true),
		row("ssh-old", "a server announcing `SSH-1.5-Old_1.0`", tg.sshOldAddr, false),
		row("ssh-refused", "nothing listens on the port", tg.closedTCP, false),
	}
}

func grpcCases(tg *targets) []parityCase {
	row := func(name, what, service, addr string, want bool) parityCase {
		return parityCase{kind: "grpc", name: name, what: what, target: addr,
			module: module("grpc", fmt.Sprintf(", service: %q, tls: false", service)),
			check:  fmt.Sprintf("grpc: {target: %q, service: %q, preferred_ip_protocol: ip4}", addr, service), want: want}
	}
	cs := []parityCase{
		row("grpc-server", "the server as a whole (service `\"\"`) SERVING", "", tg.grpcAddr, true),
		row("grpc-serving", "service `parity` SERVING", "parity", tg.grpcAddr, true),
		row("grpc-not-serving", "service `down` NOT_SERVING", "down", tg.grpcAddr, false),
		row("grpc-switched", "service `parity` switched to NOT_SERVING", "parity", tg.grpcAddr, false),
		row("grpc-unknown", "a service the server does not know (NotFound)", "nosuch", tg.grpcAddr, false),
		row("grpc-refused", "nothing listens on the port", "parity", tg.closedTCP, false),
	}
	cs[3].setup = func() func() {
		tg.grpcHealth.SetServingStatus("parity", healthpb.HealthCheckResponse_NOT_SERVING)
		return func() { tg.grpcHealth.SetServingStatus("parity", healthpb.HealthCheckResponse_SERVING) }
	}
	return cs
}

func icmpCases(*targets) []parityCase {
	row := func(name, what, target, proto string, want bool) parityCase {
		return parityCase{kind: "icmp", name: name, what: what, target: target, icmp: true,
			module: fmt.Sprintf("{prober: icmp, timeout: %s, icmp: {preferred_ip_protocol: %s, ip_protocol_fallback: false}}", moduleTimeout, proto),
			check:  fmt.Sprintf("icmp: {target: %q, preferred_ip_protocol: %s, ip_protocol_fallback: false}", target, proto), want: want}
	}
	cs := []parityCase{
		row("icmp-v4", "echo to 127.0.0.1", "127.0.0.1", "ip4", true),
		row("icmp-v6", "echo to ::1", "::1", "ip6", true),
		row("icmp-v6-only", "ip6 only, no fallback, to an IPv4 address", "127.0.0.1", "ip6", false),
		row("icmp-v4-only", "ip4 only, no fallback, to an IPv6 address", "::1", "ip4", false),
	}
	return cs
}

// literalFamily explains the rows where an IP literal of the other family
// meets preferred_ip_protocol without fallback.

// icmpAvailable reports whether this process may send ICMP echoes to
// 127.0.0.1 and ::1, through ping sockets (net.ipv4.ping_group_range) or raw
// sockets (root), as both probers need.
func icmpAvailable() bool {
	opens := func(network, addr string) bool {
		c, err := icmp.ListenPacket(network, addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	ping := opens("udp4", "127.0.0.1") && opens("udp6", "::1")
	raw := opens("ip4:icmp", "127.0.0.1") && opens("ip6:ipv6-icmp", "::1")
	return ping || raw
}
