package parity

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
	"golang.org/x/crypto/ssh"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/vigil-monitoring/vigil/internal/testpki"
)

// targets are the loopback servers both probers check.
type targets struct {
	caFile       string // the CA that signed the good certificates
	httpURL      string // /ok, /status/503, /switch
	httpsURL     string // the same handler over TLS, a certificate of caFile
	httpDown     atomic.Bool
	tlsGood      string // host:port of TLS listeners: trusted, expired, of another CA
	tlsExpired   string
	tlsOtherCA   string
	dnsAddr      string // miekg/dns over UDP
	tcpAddr      string // banner / echo / STARTTLS server
	sshAddr      string // x/crypto/ssh server
	sshOldAddr   string // a server announcing SSH-1.5
	grpcAddr     string // grpc-go health server
	grpcHealth   *health.Server
	closedTCP    string // a port nothing listens on
	closedUDP    string
	ca           *testpki.CA
	serverConfig *tls.Config // the good certificate, for STARTTLS
}

// startTargets starts every target; they stop with the test.
func startTargets(t *testing.T) *targets {
	t.Helper()
	tg := &targets{}
	tg.ca = testpki.NewCA(t, "parity")
	tg.caFile = tg.ca.PEMFile
	good := tg.ca.Issue(t)
	tg.serverConfig = &tls.Config{Certificates: []tls.Certificate{good.TLS}}

	web := httptest.NewServer(tg.httpHandler())
	t.Cleanup(web.Close)
	tg.httpURL = web.URL
	webTLS := httptest.NewUnstartedServer(tg.httpHandler())
	webTLS.TLS = tg.serverConfig
	webTLS.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted rows' handshake errors
	webTLS.StartTLS()
	t.Cleanup(webTLS.Close)
	tg.httpsURL = webTLS.URL

	tg.tlsGood = tlsListener(t, good.TLS)
	tg.tlsExpired = tlsListener(t, tg.ca.Issue(t, testpki.Expired()).TLS)
	tg.tlsOtherCA = tlsListener(t, testpki.NewCA(t, "other").Issue(t).TLS)
	tg.dnsAddr = dnsServer(t)
	tg.tcpAddr = listen(t, func(c net.Conn) { tg.bannerSession(c) })
	tg.sshAddr = sshServer(t)
	tg.sshOldAddr = listen(t, func(c net.Conn) { _, _ = io.WriteString(c, "SSH-1.5-Old_1.0\r\n") })
	tg.grpcAddr, tg.grpcHealth = grpcServer(t)
	tg.closedTCP, tg.closedUDP = closedPorts(t)
	return tg
}

func (tg *targets) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "status: ok\n") })
	mux.HandleFunc("/status/503", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "status: down\n")
	})
	mux.HandleFunc("/switch", func(w http.ResponseWriter, _ *http.Request) {
		if tg.httpDown.Load() {
			_, _ = io.WriteString(w, "status: down\n") // 200, but the body says otherwise
			return
		}
		_, _ = io.WriteString(w, "status: ok\n")
	})
	return mux
}

// listen serves each connection of a new loopback listener with serve,
// closing it afterwards.
func listen(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				serve(c)
			})
		}
	})
	return ln.Addr().String()
}

// tlsListener completes a TLS handshake with cert on each connection.
func tlsListener(t *testing.T, cert tls.Certificate) string {
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	return listen(t, func(c net.Conn) {
		s := tls.Server(c, cfg)
		if s.Handshake() == nil {
			_, _ = io.Copy(io.Discard, s) // until the client closes
		}
	})
}

// bannerSession is a small line protocol: a "220" banner, then "PING x" is
// answered "PONG x", "STARTTLS" with "220 go ahead" and a TLS handshake, and
// "QUIT" with "221 bye" and the end of the connection.
func (tg *targets) bannerSession(c net.Conn) {
	var conn net.Conn = c
	r := bufio.NewReader(conn)
	if _, err := io.WriteString(conn, "220 parity ESMTP ready\r\n"); err != nil {
		return
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "PING "):
			_, _ = fmt.Fprintf(conn, "PONG %s\r\n", strings.TrimPrefix(line, "PING "))
		case line == "STARTTLS":
			_, _ = io.WriteString(conn, "220 go ahead\r\n")
			s := tls.Server(c, tg.serverConfig)
			if s.Handshake() != nil {
				return
			}
			conn, r = s, bufio.NewReader(s)
		case line == "QUIT":
			_, _ = io.WriteString(conn, "221 bye\r\n")
			return
		default:
			_, _ = io.WriteString(conn, "500 what?\r\n")
		}
	}
}

// dnsServer answers A queries for ok.parity.test. with 192.0.2.1 and
// everything else with NXDOMAIN.
func dnsServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if q.Question[0].Name == "ok.parity.test." && q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR("ok.parity.test. 300 IN A 192.0.2.1")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: handler, NotifyStartedFunc: func() { close(started) }}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return pc.LocalAddr().String()
}

// sshServer is an x/crypto/ssh server: it makes the key exchange and lets
// anyone in.
func sshServer(t *testing.T) string {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{NoClientAuth: true, ServerVersion: "SSH-2.0-Parity_1.0"}
	cfg.AddHostKey(signer)
	return listen(t, func(c net.Conn) {
		conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
		if err != nil {
			return
		}
		defer conn.Close()
		go ssh.DiscardRequests(reqs)
		for ch := range chans {
			_ = ch.Reject(ssh.Prohibited, "no channels here")
		}
	})
}

// grpcServer serves the standard health service: "parity" SERVING, "down"
// NOT_SERVING, the server as a whole SERVING.
func grpcServer(t *testing.T) (string, *health.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := health.NewServer()
	h.SetServingStatus("parity", healthpb.HealthCheckResponse_SERVING)
	h.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, h)
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ln) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return ln.Addr().String(), h
}

// closedPorts returns a TCP and a UDP loopback address nothing listens on
// (each was bound, then released).
func closedPorts(t *testing.T) (tcpAddr, udpAddr string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcpAddr = ln.Addr().String()
	ln.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udpAddr = pc.LocalAddr().String()
	pc.Close()
	return tcpAddr, udpAddr
}
