package dnsprobe

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

const testCheckID = "talk/message/dns"

// newProber validates cfg and builds a Prober, failing the test on any error.
func newProber(t testing.TB, cfg *Config) *Prober {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	p, err := New(cfg, probes.Options{CheckID: testCheckID})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// probeWithin runs one probe with the given timeout.
func probeWithin(p *Prober, timeout time.Duration) *probes.Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.Probe(ctx)
}

func boolPtr(b bool) *bool { return &b }

func regexps(patterns ...string) []probeconfig.Regexp {
	out := make([]probeconfig.Regexp, len(patterns))
	for i, p := range patterns {
		out[i] = probeconfig.Regexp{Regexp: regexp.MustCompile(p)}
	}
	return out
}

// checkSuccess fails the test unless r passed with want as its DNS info and a
// sane request phase.
func checkSuccess(t *testing.T, r *probes.Result, want probes.DNSInfo) {
	t.Helper()
	if !r.Success || r.Err != nil || r.TimedOut {
		t.Fatalf("run failed: success=%v timedOut=%v err=%v", r.Success, r.TimedOut, r.Err)
	}
	if r.DNS == nil {
		t.Fatal("Result.DNS is nil")
	}
	if *r.DNS != want {
		t.Errorf("DNS info\n got %+v\nwant %+v", *r.DNS, want)
	}
	request, ok := r.Phase(phaseRequest)
	if !ok || request <= 0 || len(r.Phases) != 1 {
		t.Errorf("phases = %+v, want one positive %q phase", r.Phases, phaseRequest)
	}
	if r.Duration < request {
		t.Errorf("Duration %v is shorter than the request phase %v", r.Duration, request)
	}
	if r.Start.IsZero() || time.Since(r.Start) < r.Duration {
		t.Errorf("Start %v does not precede a run of %v", r.Start, r.Duration)
	}
}

func TestProbeAnswers(t *testing.T) {
	servers := map[string]*testServer{
		transportUDP: startServer(t, serveUDP, nil, testZone().reply),
		transportTCP: startServer(t, serveTCP, nil, testZone().reply),
	}
	tests := []struct {
		name         string
		cfg          Config
		wantQuestion dns.Question
		want         probes.DNSInfo
	}{
		{
			name:         "A records",
			cfg:          Config{QueryName: "talk.example.com"},
			wantQuestion: question("talk.example.com", dns.TypeA, dns.ClassINET),
			want:         probes.DNSInfo{Rcode: "NOERROR", Answer: 2},
		},
		{
			name:         "names in any case, trailing dot",
			cfg:          Config{QueryName: "Talk.Example.COM.", QueryType: "a", QueryClass: "in"},
			wantQuestion: question("Talk.Example.COM", dns.TypeA, dns.ClassINET),
			want:         probes.DNSInfo{Rcode: "NOERROR", Answer: 2},
		},
		{
			name:         "SOA serial",
			cfg:          Config{QueryName: "example.com", QueryType: "SOA"},
			wantQuestion: question("example.com", dns.TypeSOA, dns.ClassINET),
			want:         probes.DNSInfo{Rcode: "NOERROR", Answer: 1, Authority: 1, SOASerial: 2022101501, HasSOA: true},
		},
		{
			name:         "MX with authority and additional",
			cfg:          Config{QueryName: "example.com", QueryType: "MX"},
			wantQuestion: question("example.com", dns.TypeMX, dns.ClassINET),
			want:         probes.DNSInfo{Rcode: "NOERROR", Answer: 2, Authority: 2, Additional: 2},
		},
		{
			name:         "NODATA takes the SOA from authority",
			cfg:          Config{QueryName: "talk.example.com", QueryType: "AAAA"},
			wantQuestion: question("talk.example.com", dns.TypeAAAA, dns.ClassINET),
			want:         probes.DNSInfo{Rcode: "NOERROR", Authority: 1, SOASerial: 2022101501, HasSOA: true},
		},
		{
			name:         "HTTPS",
			cfg:          Config{QueryName: "talk.example.com", QueryType: "HTTPS"},
			wantQuestion: question("talk.example.com", dns.TypeHTTPS, dns.ClassINET),
			want:         probes.DNSInfo{Rcode: "NOERROR", Answer: 1},
		},
		{
			name:         "NXDOMAIN accepted by valid_rcodes",
			cfg:          Config{QueryName: "gone.example.com", ValidRcodes: []string{"NOERROR", "nxdomain"}},
			wantQuestion: question("gone.example.com", dns.TypeA, dns.ClassINET),
			want:         probes.DNSInfo{Rcode: "NXDOMAIN", Authority: 1, SOASerial: 2022101501, HasSOA: true},
		},
		{
			name: "CHAOS class version.bind",
			cfg: Config{
				QueryName: "version.bind", QueryType: "TXT", QueryClass: "CH",
				ValidateAnswerRRs: RRValidator{FailIfNotMatchesRegexp: regexps(`\tCH\tTXT\t"vigil-test-dns"$`)},
			},
			wantQuestion: question("version.bind", dns.TypeTXT, dns.ClassCHAOS),
			want:         probes.DNSInfo{Rcode: "NOERROR", Answer: 1},
		},
	}
	for _, transport := range []string{transportUDP, transportTCP} {
		for _, tt := range tests {
			t.Run(transport+"/"+tt.name, func(t *testing.T) {
				srv := servers[transport]
				before := len(srv.queries())
				cfg := tt.cfg
				cfg.Server, cfg.TransportProtocol = srv.addr, transport
				r := probeWithin(newProber(t, &cfg), 2*time.Second)
				want := tt.want
				want.Transport = transport
				checkSuccess(t, r, want)
				seen := srv.queries()[before:]
				if len(seen) != 1 || seen[0].question != tt.wantQuestion || seen[0].network != transport {
					t.Errorf("server saw %+v, want one %s query for %v", seen, transport, tt.wantQuestion)
				}
			})
		}
	}
}

func TestProbeRcodes(t *testing.T) {
	srv := startServer(t, serveUDP, nil, testZone().reply)
	prefix := "dns probe " + testCheckID + ": query "
	tests := []struct {
		name        string
		queryName   string
		validRcodes []string
		wantRcode   string
		wantErr     string // exact; "" for success
	}{
		{"SERVFAIL fails by default", "broken.example.com", nil, "SERVFAIL",
			prefix + "broken.example.com A @" + srv.addr + "/udp: rcode SERVFAIL not in valid_rcodes [NOERROR]"},
		{"SERVFAIL accepted when listed", "broken.example.com", []string{"NOERROR", "SERVFAIL"}, "SERVFAIL", ""},
		{"NXDOMAIN fails by default", "gone.example.com", nil, "NXDOMAIN",
			prefix + "gone.example.com A @" + srv.addr + "/udp: rcode NXDOMAIN not in valid_rcodes [NOERROR]"},
		{"NXDOMAIN fails when only SERVFAIL is listed", "gone.example.com", []string{"servfail"}, "NXDOMAIN",
			prefix + "gone.example.com A @" + srv.addr + "/udp: rcode NXDOMAIN not in valid_rcodes [SERVFAIL]"},
		{"REFUSED accepted when listed", "closed.example.com", []string{"REFUSED"}, "REFUSED", ""},
		{"NOERROR fails when not listed", "talk.example.com", []string{"NXDOMAIN", "SERVFAIL"}, "NOERROR",
			prefix + "talk.example.com A @" + srv.addr + "/udp: rcode NOERROR not in valid_rcodes [NXDOMAIN SERVFAIL]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProber(t, &Config{Server: srv.addr, QueryName: tt.queryName, ValidRcodes: tt.validRcodes})
			r := probeWithin(p, 2*time.Second)
			if r.DNS == nil || r.DNS.Rcode != tt.wantRcode {
				t.Fatalf("DNS = %+v, want rcode %s", r.DNS, tt.wantRcode)
			}
			if r.Success != (tt.wantErr == "") || r.ErrorString() != tt.wantErr {
				t.Errorf("success=%v err=%q\nwant err %q", r.Success, r.ErrorString(), tt.wantErr)
			}
			if r.TimedOut {
				t.Error("TimedOut is set on an answered query")
			}
		})
	}
}

// TestProbeValidateRRs drives every validation option both ways over every
// section of one MX answer: answer (2 MX), authority (2 NS), additional (2 A).
func TestProbeValidateRRs(t *testing.T) {
	srv := startServer(t, serveUDP, nil, testZone().reply)
	// Per section: a regexp that every RR matches, one that only the first does,
	// and one that none does.
	patterns := []struct {
		section         string
		all, some, none string
	}{
		{"answer", `\tIN\tMX\t`, `mx1\.example\.com\.$`, `\tTXT\t`},
		{"authority", `\tIN\tNS\t`, `ns1\.example\.com\.$`, `\tSOA\t`},
		{"additional", `\tIN\tA\t`, `\t192\.0\.2\.1$`, `\tAAAA\t`},
	}
	type option struct {
		key  string
		set  func(v *RRValidator, res []probeconfig.Regexp)
		pass string // which pattern passes: "all", "some" or "none"
		fail string
		why  string // expected failure text after the section name
	}
	options := []option{
		{"fail_if_matches_regexp", func(v *RRValidator, r []probeconfig.Regexp) { v.FailIfMatchesRegexp = r }, "none", "some", "matches"},
		{"fail_if_not_matches_regexp", func(v *RRValidator, r []probeconfig.Regexp) { v.FailIfNotMatchesRegexp = r }, "all", "some", "does not match"},
		{"fail_if_all_match_regexp", func(v *RRValidator, r []probeconfig.Regexp) { v.FailIfAllMatchRegexp = r }, "some", "all", "all 2"},
		{"fail_if_none_matches_regexp", func(v *RRValidator, r []probeconfig.Regexp) { v.FailIfNoneMatchesRegexp = r }, "some", "none", "none of the 2"},
	}
	pick := func(which string, all, some, none string) string {
		return map[string]string{"all": all, "some": some, "none": none}[which]
	}
	for _, sec := range patterns {
		for _, opt := range options {
			for _, wantPass := range []bool{true, false} {
				which := opt.fail
				if wantPass {
					which = opt.pass
				}
				name := fmt.Sprintf("%s/%s/%s_passes=%v", sec.section, opt.key, which, wantPass)
				t.Run(name, func(t *testing.T) {
					cfg := Config{Server: srv.addr, QueryName: "example.com", QueryType: "MX"}
					v := map[string]*RRValidator{
						"answer": &cfg.ValidateAnswerRRs, "authority": &cfg.ValidateAuthorityRRs, "additional": &cfg.ValidateAdditionalRRs,
					}[sec.section]
					opt.set(v, regexps(pick(which, sec.all, sec.some, sec.none)))
					r := probeWithin(newProber(t, &cfg), 2*time.Second)
					if r.Success != wantPass {
						t.Fatalf("success = %v, want %v (err %v)", r.Success, wantPass, r.Err)
					}
					if r.DNS == nil || r.DNS.Answer != 2 || r.DNS.Authority != 2 || r.DNS.Additional != 2 {
						t.Errorf("DNS = %+v, want 2/2/2 RRs", r.DNS)
					}
					if wantPass {
						return
					}
					key := "validate_" + sec.section + "_rrs." + opt.key
					msg := r.ErrorString()
					if !strings.Contains(msg, key) || !strings.Contains(msg, opt.why) || !strings.Contains(msg, "/udp: ") {
						t.Errorf("error %q does not name %s and %q", msg, key, opt.why)
					}
				})
			}
		}
	}

	// blackbox_exporter's rules for an empty section (the A query has no
	// authority RRs): options that need a match, or "all match", fail.
	for _, opt := range options {
		wantPass := opt.key == "fail_if_matches_regexp"
		t.Run("empty_authority/"+opt.key, func(t *testing.T) {
			cfg := Config{Server: srv.addr, QueryName: "talk.example.com"}
			opt.set(&cfg.ValidateAuthorityRRs, regexps(`.`))
			r := probeWithin(newProber(t, &cfg), 2*time.Second)
			if r.Success != wantPass {
				t.Fatalf("success = %v, want %v (err %v)", r.Success, wantPass, r.Err)
			}
			want := "no authority RRs, and validate_authority_rrs." + opt.key + " is set"
			if !wantPass && !strings.HasSuffix(r.ErrorString(), want) {
				t.Errorf("error %q, want it to end with %q", r.ErrorString(), want)
			}
		})
	}

	t.Run("exact message", func(t *testing.T) {
		cfg := Config{Server: srv.addr, QueryName: "talk.example.com",
			ValidateAnswerRRs: RRValidator{FailIfMatchesRegexp: regexps(`192\.0\.2\.2$`)}}
		r := probeWithin(newProber(t, &cfg), 2*time.Second)
		want := `dns probe talk/message/dns: query talk.example.com A @` + srv.addr +
			`/udp: answer RR "talk.example.com.\t300\tIN\tA\t192.0.2.2" matches validate_answer_rrs.fail_if_matches_regexp "192\\.0\\.2\\.2$"`
		if r.ErrorString() != want {
			t.Errorf("error\n got %q\nwant %q", r.ErrorString(), want)
		}
	})
}

// TestProbeDroppedQuery: a server that never answers fails the run at the
// context deadline, not later.
func TestProbeDroppedQuery(t *testing.T) {
	const timeout = 300 * time.Millisecond
	drop := func(*dns.Msg, string) *dns.Msg { return nil }
	for _, tt := range []struct{ kind, transport string }{
		{serveUDP, transportUDP},
		{serveTCP, transportTCP},
	} {
		t.Run(tt.transport, func(t *testing.T) {
			srv := startServer(t, tt.kind, nil, drop)
			p := newProber(t, &Config{Server: srv.addr, QueryName: "talk.example.com", TransportProtocol: tt.transport})
			// Up to three tries for the timing bound: a loaded CI machine can
			// delay the wake-up itself; a probe that ignores its deadline is
			// late every time.
			var r *probes.Result
			var elapsed time.Duration
			for try := 0; try < 3; try++ {
				start := time.Now()
				r = probeWithin(p, timeout)
				elapsed = time.Since(start)
				if r.Success || !r.TimedOut {
					t.Fatalf("success=%v timedOut=%v, want a timed-out failure", r.Success, r.TimedOut)
				}
				if elapsed >= timeout-5*time.Millisecond && elapsed <= timeout+50*time.Millisecond {
					break
				}
			}
			if elapsed < timeout-5*time.Millisecond || elapsed > timeout+50*time.Millisecond {
				t.Errorf("run took %v, want the %v deadline within 50ms", elapsed, timeout)
			}
			want := "dns probe talk/message/dns: query talk.example.com A @" + srv.addr + "/" + tt.transport + ": read answer: i/o timeout"
			if r.ErrorString() != want {
				t.Errorf("error\n got %q\nwant %q", r.ErrorString(), want)
			}
			if !errors.Is(r.Err, os.ErrDeadlineExceeded) {
				t.Errorf("error %v does not wrap os.ErrDeadlineExceeded", r.Err)
			}
			if r.DNS != nil {
				t.Errorf("DNS = %+v, want nil without an answer", r.DNS)
			}
			if n := len(srv.queries()); n < 1 || n > 3 {
				t.Errorf("server saw %d queries, want one per try", n)
			}
		})
	}
}

// TestProbeTruncated: an answer too big for UDP comes back with TC set and is
// fetched again over TCP, unless EDNS0 advertises room for it.
func TestProbeTruncated(t *testing.T) {
	srv := startServer(t, serveUDPTCP, nil, testZone().reply)
	tests := []struct {
		name        string
		ednsSize    uint16
		want        probes.DNSInfo
		wantNetwork []string
	}{
		{"retried over tcp", 0,
			probes.DNSInfo{Rcode: "NOERROR", Answer: 15, Transport: "tcp", Truncated: true}, []string{"udp", "tcp"}},
		{"fits with edns0", 4096,
			probes.DNSInfo{Rcode: "NOERROR", Answer: 15, Transport: "udp"}, []string{"udp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(srv.queries())
			p := newProber(t, &Config{Server: srv.addr, QueryName: "big.example.com", QueryType: "TXT", EDNS0UDPSize: tt.ednsSize})
			checkSuccess(t, probeWithin(p, 2*time.Second), tt.want)
			var networks []string
			for _, q := range srv.queries()[before:] {
				networks = append(networks, q.network)
				if q.udpSize != tt.ednsSize {
					t.Errorf("server saw EDNS0 size %d, want %d", q.udpSize, tt.ednsSize)
				}
			}
			if fmt.Sprint(networks) != fmt.Sprint(tt.wantNetwork) {
				t.Errorf("server saw queries over %v, want %v", networks, tt.wantNetwork)
			}
		})
	}
}

// TestProbeBigAnswers: answers bigger than the pooled read buffer, and a
// broken server that sends UDP answers over the limit without TC.
func TestProbeBigAnswers(t *testing.T) {
	t.Run("22 kB over tcp", func(t *testing.T) {
		srv := startServer(t, serveTCP, nil, testZone().reply)
		p := newProber(t, &Config{Server: srv.addr, QueryName: "huge.example.com", QueryType: "TXT", TransportProtocol: "tcp"})
		checkSuccess(t, probeWithin(p, 2*time.Second), probes.DNSInfo{Rcode: "NOERROR", Answer: 100, Transport: "tcp"})
	})
	l, pc := listenSamePort(t)
	broken := &testServer{addr: l.Addr().String(), reply: testZone().reply, oversizeUDP: true}
	serve(t, &dns.Server{Listener: l, Handler: broken})
	serve(t, &dns.Server{PacketConn: pc, Handler: broken})
	for _, tt := range []struct {
		name     string
		ednsSize uint16
	}{
		{"oversized udp answer without edns0", 0},
		{"oversized udp answer with edns0", 1232},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(broken.queries())
			p := newProber(t, &Config{Server: broken.addr, QueryName: "big.example.com", QueryType: "TXT", EDNS0UDPSize: tt.ednsSize})
			checkSuccess(t, probeWithin(p, 2*time.Second), probes.DNSInfo{Rcode: "NOERROR", Answer: 15, Transport: "tcp", Truncated: true})
			if seen := broken.queries()[before:]; len(seen) != 2 || seen[0].network != "udp" || seen[1].network != "tcp" {
				t.Errorf("server saw %+v, want a udp then a tcp query", seen)
			}
		})
	}
}

func TestProbeDNSOverTLS(t *testing.T) {
	// The case without ca_file verifies against the system's roots, which Go
	// loads on first use: seconds under -race on a busy 2-core machine,
	// which a run's 2 s budget would take for a timeout (seen in CI).
	if _, err := x509.SystemCertPool(); err != nil {
		t.Logf("no system roots: %v", err)
	}
	cert, caFile := serverCert(t)
	srv := startServer(t, serveTLS, &cert, testZone().reply)
	tests := []struct {
		name    string
		tls     probeconfig.TLSConfig
		wantErr string // substring; "" for success
	}{
		{"trusted by ca_file", probeconfig.TLSConfig{CAFile: caFile}, ""},
		{"server_name in the certificate", probeconfig.TLSConfig{CAFile: caFile, ServerName: "dns.test"}, ""},
		{"unknown authority without ca_file", probeconfig.TLSConfig{}, "/tcp-tls: connect: tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{"server_name not in the certificate", probeconfig.TLSConfig{CAFile: caFile, ServerName: "other.test"}, "not other.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProber(t, &Config{Server: srv.addr, QueryName: "talk.example.com", TransportProtocol: "tcp-tls", TLSConfig: tt.tls})
			r := probeWithin(p, 2*time.Second)
			if tt.wantErr == "" {
				checkSuccess(t, r, probes.DNSInfo{Rcode: "NOERROR", Answer: 2, Transport: "tcp-tls"})
				return
			}
			if r.Success || r.TimedOut || !strings.Contains(r.ErrorString(), tt.wantErr) {
				t.Errorf("success=%v timedOut=%v err=%q, want an error containing %q", r.Success, r.TimedOut, r.ErrorString(), tt.wantErr)
			}
		})
	}
}

func TestProbeQueryFlags(t *testing.T) {
	srv := startServer(t, serveUDPTCP, nil, testZone().reply)
	tests := []struct {
		name      string
		cfg       Config
		wantRD    bool
		wantFrom  netip.Addr
		wantOverN string
	}{
		{"recursion desired by default", Config{}, true, netip.Addr{}, "udp"},
		{"recursion desired", Config{RecursionDesired: boolPtr(true)}, true, netip.Addr{}, "udp"},
		{"recursion not desired", Config{RecursionDesired: boolPtr(false)}, false, netip.Addr{}, "udp"},
		{"recursion not desired over tcp", Config{RecursionDesired: boolPtr(false), TransportProtocol: "tcp"}, false, netip.Addr{}, "tcp"},
		{"source address over udp", Config{SourceIPAddress: "127.0.0.1"}, true, netip.MustParseAddr("127.0.0.1"), "udp"},
		{"source address over tcp", Config{SourceIPAddress: "127.0.0.1", TransportProtocol: "tcp"}, true, netip.MustParseAddr("127.0.0.1"), "tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(srv.queries())
			cfg := tt.cfg
			cfg.Server, cfg.QueryName = srv.addr, "talk.example.com"
			checkSuccess(t, probeWithin(newProber(t, &cfg), 2*time.Second),
				probes.DNSInfo{Rcode: "NOERROR", Answer: 2, Transport: tt.wantOverN})
			seen := srv.queries()[before:]
			if len(seen) != 1 {
				t.Fatalf("server saw %d queries, want 1", len(seen))
			}
			if seen[0].rd != tt.wantRD || seen[0].network != tt.wantOverN {
				t.Errorf("server saw rd=%v over %s, want rd=%v over %s", seen[0].rd, seen[0].network, tt.wantRD, tt.wantOverN)
			}
			if tt.wantFrom.IsValid() && seen[0].remote != tt.wantFrom {
				t.Errorf("query came from %v, want %v", seen[0].remote, tt.wantFrom)
			}
		})
	}
}

// TestProbeServerName resolves a host name with the system resolver (the
// "localhost" entry of /etc/hosts).
func TestProbeServerName(t *testing.T) {
	srv := startServer(t, serveUDP, nil, testZone().reply)
	_, port, _ := net.SplitHostPort(srv.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v4, err4 := net.DefaultResolver.LookupNetIP(ctx, "ip4", "localhost")
	v6, _ := net.DefaultResolver.LookupNetIP(ctx, "ip6", "localhost")
	if err4 != nil || len(v4) == 0 || v4[0].Unmap() != netip.MustParseAddr("127.0.0.1") {
		t.Skipf("SKIPPED: localhost does not resolve to 127.0.0.1 here (%v, %v)", v4, err4)
	}
	hasV6 := len(v6) > 0

	t.Run("ip4 preferred", func(t *testing.T) {
		p := newProber(t, &Config{Server: "localhost:" + port, QueryName: "talk.example.com"})
		checkSuccess(t, probeWithin(p, 2*time.Second), probes.DNSInfo{Rcode: "NOERROR", Answer: 2, Transport: "udp"})
	})
	t.Run("ip6 preferred, falls back to ip4", func(t *testing.T) {
		if hasV6 {
			t.Skip("localhost has an IPv6 address here, so there is nothing to fall back from")
		}
		p := newProber(t, &Config{Server: "localhost:" + port, QueryName: "talk.example.com", PreferredIPProtocol: "ip6"})
		checkSuccess(t, probeWithin(p, 2*time.Second), probes.DNSInfo{Rcode: "NOERROR", Answer: 2, Transport: "udp"})
	})
	t.Run("ip6 only", func(t *testing.T) {
		if hasV6 {
			t.Skip("localhost has an IPv6 address here")
		}
		p := newProber(t, &Config{Server: "localhost:" + port, QueryName: "talk.example.com",
			PreferredIPProtocol: "ip6", IPProtocolFallback: boolPtr(false)})
		r := probeWithin(p, 2*time.Second)
		if r.Success || r.DNS != nil || !strings.Contains(r.ErrorString(), "@localhost:"+port+"/udp: resolve localhost: ") {
			t.Errorf("success=%v err=%q, want a resolve failure naming localhost:%s", r.Success, r.ErrorString(), port)
		}
	})
	t.Run("failure names the server and its address", func(t *testing.T) {
		p := newProber(t, &Config{Server: "localhost:" + port, QueryName: "broken.example.com"})
		r := probeWithin(p, 2*time.Second)
		want := "@127.0.0.1:" + port + " (localhost)/udp: rcode SERVFAIL"
		if !strings.Contains(r.ErrorString(), want) {
			t.Errorf("error %q does not contain %q", r.ErrorString(), want)
		}
	})
}

func TestProbeUnreachable(t *testing.T) {
	// A port nobody listens on: the kernel answers the UDP query with ICMP port
	// unreachable, which must fail the run at once, not at the deadline.
	pc := listenUDP(t, "127.0.0.1:0")
	addr := pc.LocalAddr().String()
	_ = pc.Close()
	p := newProber(t, &Config{Server: addr, QueryName: "talk.example.com"})
	start := time.Now()
	r := probeWithin(p, 2*time.Second)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("run took %v, want a prompt failure", elapsed)
	}
	want := "dns probe talk/message/dns: query talk.example.com A @" + addr + "/udp: read answer: connection refused"
	if r.Success || r.TimedOut || r.ErrorString() != want {
		t.Errorf("success=%v timedOut=%v err=%q\nwant err %q", r.Success, r.TimedOut, r.ErrorString(), want)
	}
}

// TestProbeCanceled: cancelling the run (agent shutdown) ends it at once and is
// not reported as a timeout.
func TestProbeCanceled(t *testing.T) {
	srv := startServer(t, serveUDP, nil, func(*dns.Msg, string) *dns.Msg { return nil })
	p := newProber(t, &Config{Server: srv.addr, QueryName: "talk.example.com"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	timer := time.AfterFunc(100*time.Millisecond, cancel)
	defer timer.Stop()
	start := time.Now()
	r := p.Probe(ctx)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("run took %v after a cancel at 100ms", elapsed)
	}
	if r.Success || r.TimedOut || !strings.HasSuffix(r.ErrorString(), "/udp: run canceled: context canceled") {
		t.Errorf("success=%v timedOut=%v err=%q, want a canceled run", r.Success, r.TimedOut, r.ErrorString())
	}
}

func TestProbeTruncatedRetryFails(t *testing.T) {
	// A UDP-only server: the TCP retry finds the port closed.
	srv := startServer(t, serveUDP, nil, testZone().reply)
	p := newProber(t, &Config{Server: srv.addr, QueryName: "big.example.com", QueryType: "TXT"})
	r := probeWithin(p, 2*time.Second)
	want := "@" + srv.addr + "/tcp: retry of a truncated udp answer: connect: connection refused"
	if r.Success || r.TimedOut || !strings.HasSuffix(r.ErrorString(), want) {
		t.Errorf("success=%v timedOut=%v err=%q, want it to end with %q", r.Success, r.TimedOut, r.ErrorString(), want)
	}
}

func TestProbeMalformedAnswer(t *testing.T) {
	// The answer ends in the middle of its last record.
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		wire, err := testZone().reply(req, "udp").Pack()
		if err != nil {
			panic(err)
		}
		_, _ = w.Write(wire[:len(wire)-2])
	})
	pc := listenUDP(t, "127.0.0.1:0")
	serve(t, &dns.Server{PacketConn: pc, Handler: handler})
	p := newProber(t, &Config{Server: pc.LocalAddr().String(), QueryName: "talk.example.com"})
	r := probeWithin(p, 2*time.Second)
	if r.Success || r.TimedOut || r.DNS != nil || !strings.Contains(r.ErrorString(), "/udp: malformed answer: dns: ") {
		t.Errorf("success=%v timedOut=%v dns=%+v err=%q, want a malformed answer failure", r.Success, r.TimedOut, r.DNS, r.ErrorString())
	}
}

// TestProbeStrayDatagrams: UDP datagrams that do not answer our query are
// skipped, a bounded number of times.
func TestProbeStrayDatagrams(t *testing.T) {
	wrongID := func(req *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Id = req.Id + 1
		m.Rcode = dns.RcodeServerFailure
		return m
	}
	otherQuestion := func(req *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Question[0].Name = "other.example.com."
		m.Rcode = dns.RcodeServerFailure
		return m
	}
	zoneReply := testZone().reply
	tests := []struct {
		name    string
		strays  []func(*dns.Msg) *dns.Msg
		answer  bool
		wantErr string // suffix; "" for success
	}{
		{"wrong id first", []func(*dns.Msg) *dns.Msg{wrongID}, true, ""},
		{"other question first", []func(*dns.Msg) *dns.Msg{otherQuestion, wrongID}, true, ""},
		{"only strays", []func(*dns.Msg) *dns.Msg{wrongID, wrongID, wrongID, wrongID, wrongID, wrongID, wrongID, otherQuestion}, false,
			"/udp: read answer: 8 datagrams did not answer the query, the last: answer is for another question"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// This server writes several datagrams per query, the strays first.
			handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
				for _, stray := range tt.strays {
					_ = w.WriteMsg(stray(req))
				}
				if tt.answer {
					_ = w.WriteMsg(zoneReply(req, "udp"))
				}
			})
			pc := listenUDP(t, "127.0.0.1:0")
			serve(t, &dns.Server{PacketConn: pc, Handler: handler})
			p := newProber(t, &Config{Server: pc.LocalAddr().String(), QueryName: "talk.example.com"})
			r := probeWithin(p, 2*time.Second)
			if tt.wantErr == "" {
				checkSuccess(t, r, probes.DNSInfo{Rcode: "NOERROR", Answer: 2, Transport: "udp"})
				return
			}
			if r.Success || r.TimedOut || !strings.HasSuffix(r.ErrorString(), tt.wantErr) {
				t.Errorf("success=%v timedOut=%v err=%q, want it to end with %q", r.Success, r.TimedOut, r.ErrorString(), tt.wantErr)
			}
		})
	}
}

// TestProbeConcurrent: one Prober may serve overlapping runs (the scheduler
// does not do that, but nothing may break if someone does).
func TestProbeConcurrent(t *testing.T) {
	srv := startServer(t, serveUDP, nil, testZone().reply)
	p := newProber(t, &Config{Server: srv.addr, QueryName: "talk.example.com"})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 4 {
		wg.Go(func() {
			for range 10 {
				r := probeWithin(p, 2*time.Second)
				if !r.Success || r.DNS.Answer != 2 {
					errs <- fmt.Errorf("success=%v dns=%+v err=%v", r.Success, r.DNS, r.Err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(srv.queries()); got != 40 {
		t.Errorf("server saw %d queries, want 40", got)
	}
}
