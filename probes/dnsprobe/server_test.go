package dnsprobe

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/internal/testpki"
)

// benchServerEnv makes the test binary serve DNS for a benchmark in another
// process instead of running tests.
const benchServerEnv = "VIGIL_DNSPROBE_BENCH_SERVER"

// childServer serves DNS until stdin closes; set by bench_test.go (unix only).
var childServer func() int

func TestMain(m *testing.M) {
	if os.Getenv(benchServerEnv) != "" && childServer != nil {
		os.Exit(childServer())
	}
	goleak.VerifyTestMain(m)
}

// seenQuery is what a test server noted about one query it got.
type seenQuery struct {
	network  string // "udp" or "tcp" (also for tcp-tls)
	question dns.Question
	rd       bool
	udpSize  uint16 // advertised in EDNS0; 0 without an OPT record
	remote   netip.Addr
}

// replyFunc builds the answer to req arriving over network ("udp" or "tcp");
// nil drops the query.
type replyFunc func(req *dns.Msg, network string) *dns.Msg

// testServer is a real miekg/dns server on 127.0.0.1 that records its queries.
type testServer struct {
	addr  string // "127.0.0.1:port"
	reply replyFunc
	// oversizeUDP makes the server send UDP answers whole, over the client's
	// limit and without TC, like a broken server.
	oversizeUDP bool

	mu   sync.Mutex
	seen []seenQuery
}

func (s *testServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	q := seenQuery{network: w.LocalAddr().Network(), rd: req.RecursionDesired}
	if len(req.Question) > 0 {
		q.question = req.Question[0]
	}
	if opt := req.IsEdns0(); opt != nil {
		q.udpSize = opt.UDPSize()
	}
	if ap, err := netip.ParseAddrPort(w.RemoteAddr().String()); err == nil {
		q.remote = ap.Addr().Unmap()
	}
	s.mu.Lock()
	s.seen = append(s.seen, q)
	s.mu.Unlock()

	resp := s.reply(req, q.network)
	if resp == nil {
		return
	}
	if q.network == "udp" && !s.oversizeUDP {
		// Like a real server: an answer over the client's UDP limit is cut and
		// flagged TC.
		limit := dns.MinMsgSize
		if q.udpSize > dns.MinMsgSize {
			limit = int(q.udpSize)
		}
		resp.Truncate(limit)
	}
	_ = w.WriteMsg(resp)
}

// queries returns a copy of the queries seen so far.
func (s *testServer) queries() []seenQuery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenQuery(nil), s.seen...)
}

// Server kinds for startServer.
const (
	serveUDP    = "udp"
	serveTCP    = "tcp"
	serveUDPTCP = "udp+tcp" // both on the same port, for the TCP retry
	serveTLS    = "tcp-tls"
)

// startServer runs a miekg/dns server of the given kind on 127.0.0.1:0 until the
// test ends. tlsCert is used for serveTLS only.
func startServer(t testing.TB, kind string, tlsCert *tls.Certificate, reply replyFunc) *testServer {
	t.Helper()
	s := &testServer{reply: reply}
	switch kind {
	case serveUDP:
		pc := listenUDP(t, "127.0.0.1:0")
		s.addr = pc.LocalAddr().String()
		serve(t, &dns.Server{PacketConn: pc, Handler: s})
	case serveTCP, serveTLS:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen tcp: %v", err)
		}
		s.addr = l.Addr().String()
		if kind == serveTLS {
			l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{*tlsCert}, MinVersion: tls.VersionTLS12})
		}
		serve(t, &dns.Server{Listener: l, Handler: s})
	case serveUDPTCP:
		l, pc := listenSamePort(t)
		s.addr = l.Addr().String()
		serve(t, &dns.Server{Listener: l, Handler: s})
		serve(t, &dns.Server{PacketConn: pc, Handler: s})
	default:
		t.Fatalf("unknown server kind %q", kind)
	}
	return s
}

func listenUDP(t testing.TB, addr string) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("listen udp %s: %v", addr, err)
	}
	return pc
}

// listenSamePort opens TCP and UDP on one free loopback port.
func listenSamePort(t testing.TB) (net.Listener, net.PacketConn) {
	t.Helper()
	l, pc, err := listenSamePortErr()
	if err != nil {
		t.Fatal(err)
	}
	return l, pc
}

// listenSamePortErr opens TCP and UDP on one free loopback port, trying a few
// ports in case the UDP one is taken.
func listenSamePortErr() (net.Listener, net.PacketConn, error) {
	var lastErr error
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("listen tcp: %w", err)
		}
		pc, err := net.ListenPacket("udp", l.Addr().String())
		if err == nil {
			return l, pc, nil
		}
		lastErr = err
		_ = l.Close()
	}
	return nil, nil, fmt.Errorf("no loopback port free for both tcp and udp: %w", lastErr)
}

// serve starts srv and stops it, waiting for its goroutines, when the test ends.
func serve(t testing.TB, srv *dns.Server) {
	t.Helper()
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("dns server did not start: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("dns server did not start within 5s")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.ShutdownContext(ctx); err != nil {
			t.Errorf("dns server shutdown: %v", err)
		}
		select {
		case <-done:
		case <-ctx.Done():
			t.Error("dns server did not stop within 5s")
		}
	})
}

// zone is a tiny authoritative zone: fixed answers per question, and NXDOMAIN
// with the zone's SOA for anything else.
type zone map[dns.Question]zoneAnswer

// zoneAnswer is the reply to one question.
type zoneAnswer struct {
	rcode             int
	answer, ns, extra []dns.RR
}

const zoneSOA = "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 2022101501 7200 900 1209600 300"

func (z zone) reply(req *dns.Msg, _ string) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	q := req.Question[0]
	q.Name = strings.ToLower(q.Name)
	a, ok := z[q]
	if !ok {
		resp.Rcode = dns.RcodeNameError
		resp.Ns = []dns.RR{mustRR(zoneSOA)}
		return resp
	}
	resp.Rcode, resp.Answer, resp.Ns, resp.Extra = a.rcode, a.answer, a.ns, a.extra
	return resp
}

// mustRR parses a record in zone file form; the inputs are constants.
func mustRR(text string) dns.RR {
	rr, err := dns.NewRR(text)
	if err != nil {
		panic("bad test record " + text + ": " + err.Error())
	}
	return rr
}

func mustRRs(texts ...string) []dns.RR {
	rrs := make([]dns.RR, len(texts))
	for i, text := range texts {
		rrs[i] = mustRR(text)
	}
	return rrs
}

func question(name string, qtype, qclass uint16) dns.Question {
	return dns.Question{Name: dns.Fqdn(name), Qtype: qtype, Qclass: qclass}
}

// testZone is the zone most tests query.
func testZone() zone {
	in := func(name string, qtype uint16) dns.Question { return question(name, qtype, dns.ClassINET) }
	txts := func(name string, n int) []dns.RR {
		rrs := make([]dns.RR, n)
		for i := range rrs {
			rrs[i] = mustRR(name + ` 60 IN TXT "` + strings.Repeat("x", 200) + `"`)
		}
		return rrs
	}
	return zone{
		in("talk.example.com", dns.TypeA): {answer: mustRRs(
			"talk.example.com. 300 IN A 192.0.2.1",
			"talk.example.com. 300 IN A 192.0.2.2",
		)},
		in("talk.example.com", dns.TypeAAAA): {ns: mustRRs(zoneSOA)}, // NODATA
		in("example.com", dns.TypeSOA): {
			answer: mustRRs(zoneSOA),
			ns:     mustRRs("example.com. 3600 IN NS ns1.example.com."),
		},
		in("example.com", dns.TypeMX): {
			answer: mustRRs("example.com. 300 IN MX 10 mx1.example.com.", "example.com. 300 IN MX 20 mx2.example.com."),
			ns:     mustRRs("example.com. 3600 IN NS ns1.example.com.", "example.com. 3600 IN NS ns2.example.com."),
			extra:  mustRRs("mx1.example.com. 300 IN A 192.0.2.1", "mx2.example.com. 300 IN A 192.0.2.2"),
		},
		in("talk.example.com", dns.TypeHTTPS):                 {answer: mustRRs("talk.example.com. 300 IN HTTPS 1 . alpn=h2,h3")},
		in("broken.example.com", dns.TypeA):                   {rcode: dns.RcodeServerFailure},
		in("closed.example.com", dns.TypeA):                   {rcode: dns.RcodeRefused},
		in("big.example.com", dns.TypeTXT):                    {answer: txts("big.example.com.", 15)},   // 3.3 kB: over 512, under 4096
		in("huge.example.com", dns.TypeTXT):                   {answer: txts("huge.example.com.", 100)}, // 22 kB: TCP only
		question("version.bind", dns.TypeTXT, dns.ClassCHAOS): {answer: mustRRs(`version.bind. 0 CH TXT "vigil-test-dns"`)},
	}
}

// serverCert issues a certificate for 127.0.0.1 and dns.test from a new CA
// and returns it with the CA's file.
func serverCert(t testing.TB) (tls.Certificate, string) {
	t.Helper()
	ca := testpki.NewCA(t, "vigil test dns CA")
	return ca.Issue(t, testpki.DNSNames("dns.test")).TLS, ca.PEMFile
}
