package tlsprobe

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testpki"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// serveTLS runs a TLS server on network's loopback that completes handshakes
// with cert and closes; it returns the address.
func serveTLS(t *testing.T, network string, cert *testpki.Cert) string {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	ln, err := tls.Listen(network, addr, &tls.Config{Certificates: []tls.Certificate{cert.TLS}})
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				_ = conn.(*tls.Conn).Handshake()
			}()
		}
	}()
	return ln.Addr().String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestProbe(t *testing.T) {
	ca := testpki.NewCA(t, "vigil test ca")
	good := ca.Issue(t)
	expiring := ca.Issue(t, testpki.CommonName("expiring"), testpki.ExpiresIn(5*24*time.Hour))
	expired := ca.Issue(t, testpki.CommonName("expired"), testpki.Expired())
	goodAddr := serveTLS(t, "tcp", good)
	expiringAddr := serveTLS(t, "tcp", expiring)
	expiredAddr := serveTLS(t, "tcp", expired)
	refused := closedPort(t)
	trust := probeconfig.TLSConfig{CAFile: ca.PEMFile}

	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" for a pass
		leaf    *testpki.Cert
	}{
		{"valid", Config{Target: goodAddr, TLSConfig: trust, MinDaysRemaining: 29,
			RequiredSANs: []string{"127.0.0.1", "::1"}, FailIfIssuerNotMatchesRegexp: re(t, `^CN=vigil test ca$`)}, "", good},
		{"expiring chain", Config{Target: expiringAddr, TLSConfig: trust, MinDaysRemaining: 10},
			fmt.Sprintf("tls probe s/f/c: certificate of %s: chain expires at %s, in 5.0 days, fewer than min_days_remaining 10",
				expiringAddr, expiring.TLS.Leaf.NotAfter.UTC().Format(time.RFC3339)), expiring},
		{"expiring but enough days", Config{Target: expiringAddr, TLSConfig: trust, MinDaysRemaining: 4}, "", expiring},
		{"expired", Config{Target: expiredAddr, TLSConfig: trust},
			fmt.Sprintf("tls probe s/f/c: handshake %s: tls: certificate expired at %s",
				expiredAddr, expired.TLS.Leaf.NotAfter.UTC().Format(time.RFC3339)), nil},
		{"unknown authority", Config{Target: goodAddr},
			"tls probe s/f/c: handshake " + goodAddr + ": tls: certificate signed by unknown authority (issuer vigil test ca)", nil},
		{"insecure skip verify", Config{Target: goodAddr, TLSConfig: probeconfig.TLSConfig{InsecureSkipVerify: true}}, "", good},
		{"missing SAN", Config{Target: goodAddr, TLSConfig: trust, RequiredSANs: []string{"talk.example.com"}},
			"tls probe s/f/c: certificate of " + goodAddr + ": leaf has no SAN talk.example.com (has 127.0.0.1, ::1)", good},
		{"issuer mismatch", Config{Target: goodAddr, TLSConfig: trust, FailIfIssuerNotMatchesRegexp: re(t, `Let's Encrypt`)},
			"tls probe s/f/c: certificate of " + goodAddr + `: issuer "CN=vigil test ca" does not match fail_if_issuer_not_matches_regexp "Let's Encrypt"`, good},
		{"refused", Config{Target: refused}, "tls probe s/f/c: connect " + refused + ": connection refused", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(&tt.cfg, probes.Options{CheckID: "s/f/c"})
			if err != nil {
				t.Fatal(err)
			}
			if tt.leaf != nil {
				// Measure min_days_remaining from a fixed point: 5 days before the
				// expiring leaf's end exactly.
				p.now = func() time.Time { return expiring.TLS.Leaf.NotAfter.Add(-5 * day) }
			}
			r := p.Probe(context.Background())
			if got := r.ErrorString(); got != tt.wantErr || r.Success != (tt.wantErr == "") {
				t.Fatalf("Probe: success %v, err %q\nwant err %q", r.Success, got, tt.wantErr)
			}
			if _, ok := r.Phase(phaseConnect); !ok {
				t.Errorf("no connect phase in %v", r.Phases)
			}
			if tt.leaf != nil {
				checkInfo(t, r.TLS, tt.leaf)
			}
		})
	}
}

func checkInfo(t *testing.T, info *probes.TLSInfo, leaf *testpki.Cert) {
	t.Helper()
	if info == nil {
		t.Fatal("no TLS info")
	}
	if info.Version != "TLS 1.3" || !strings.HasPrefix(info.CipherSuite, "TLS_") {
		t.Errorf("version %q, cipher %q", info.Version, info.CipherSuite)
	}
	if !info.CertExpiry.Equal(leaf.TLS.Leaf.NotAfter) {
		t.Errorf("CertExpiry %s, want the leaf's NotAfter %s (the chain's earliest)", info.CertExpiry, leaf.TLS.Leaf.NotAfter)
	}
	if info.Subject != "CN="+leaf.TLS.Leaf.Subject.CommonName || info.Issuer != "CN=vigil test ca" {
		t.Errorf("subject %q, issuer %q", info.Subject, info.Issuer)
	}
	if strings.Join(info.SANs, " ") != "127.0.0.1 ::1" {
		t.Errorf("SANs %q", info.SANs)
	}
}

// TestProbeIPv6AndName: an ::1 target, and a host name (localhost, which
// has only 127.0.0.1 here) resolved with preferred_ip_protocol ip6 falling
// back to ip4, whose run has a resolve phase.
func TestProbeIPv6AndName(t *testing.T) {
	ca := testpki.NewCA(t, "vigil test ca")
	cert := ca.Issue(t, testpki.DNSNames("localhost"))
	addr6 := serveTLS(t, "tcp6", cert)
	_, port4, _ := net.SplitHostPort(serveTLS(t, "tcp", cert))
	for _, cfg := range []Config{
		{Target: addr6, TLSConfig: probeconfig.TLSConfig{CAFile: ca.PEMFile}},
		{Target: "localhost:" + port4, TLSConfig: probeconfig.TLSConfig{CAFile: ca.PEMFile},
			IPConfig: probeconfig.IPConfig{PreferredIPProtocol: "ip6"}},
	} {
		p, err := New(&cfg, probes.Options{CheckID: "s/f/c"})
		if err != nil {
			t.Fatal(err)
		}
		r := p.Probe(context.Background())
		if !r.Success {
			t.Fatalf("%s: %v", cfg.Target, r.Err)
		}
		_, resolved := r.Phase(probes.PhaseResolve)
		if resolved != strings.HasPrefix(cfg.Target, "localhost") {
			t.Errorf("%s: resolve phase %v in %v", cfg.Target, resolved, r.Phases)
		}
	}
}

// TestProbeCanceled: a canceled run says so and is not a timeout; a run past
// its deadline is one.
func TestProbeCanceled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts and never answers the handshake
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
		}
	}()
	p, err := New(&Config{Target: ln.Addr().String()}, probes.Options{CheckID: "s/f/c"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := p.Probe(ctx)
	if !r.TimedOut || !strings.HasPrefix(r.ErrorString(), "tls probe s/f/c: handshake "+ln.Addr().String()+": ") {
		t.Errorf("deadline: timed out %v, err %v", r.TimedOut, r.Err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	r = p.Probe(ctx)
	if r.TimedOut || !strings.HasSuffix(r.ErrorString(), "run canceled: context canceled") {
		t.Errorf("canceled: timed out %v, err %v", r.TimedOut, r.Err)
	}
}

func re(t *testing.T, s string) probeconfig.Regexp {
	t.Helper()
	var r probeconfig.Regexp
	if err := r.UnmarshalYAML(yamlString(s)); err != nil {
		t.Fatal(err)
	}
	return r
}
