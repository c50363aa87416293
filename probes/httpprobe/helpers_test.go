package httpprobe

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/internal/testpki"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testCheckID = "talk/api/http"

func ptr[T any](v T) *T { return &v }

// mustRegexps compiles patterns into the config's type.
func mustRegexps(patterns ...string) []probeconfig.Regexp {
	var out []probeconfig.Regexp
	for _, p := range patterns {
		out = append(out, mustRegexp(p))
	}
	return out
}

func mustRegexp(pattern string) probeconfig.Regexp {
	return probeconfig.Regexp{Regexp: regexp.MustCompile(pattern)}
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// runProbe builds a prober for cfg and runs it once with a 5 s budget.
func runProbe(t *testing.T, cfg *Config) *probes.Result {
	t.Helper()
	p := newProber(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	return p.Probe(ctx)
}

func newProber(t testing.TB, cfg *Config) *Prober {
	t.Helper()
	p, err := New(cfg, probes.Options{CheckID: testCheckID})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// newServer starts a plain HTTP server on 127.0.0.1 for the test.
func newServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// wantPhases checks that the result lists the five http phases in order.
func wantPhases(t *testing.T, r *probes.Result) {
	t.Helper()
	want := []string{"resolve", "connect", "tls", "processing", "transfer"}
	if len(r.Phases) != len(want) {
		t.Fatalf("phases = %v, want %v", r.Phases, want)
	}
	for i, name := range want {
		if r.Phases[i].Name != name {
			t.Fatalf("phase %d = %q, want %q", i, r.Phases[i].Name, name)
		}
		if r.Phases[i].Duration < 0 {
			t.Fatalf("phase %s negative: %v", name, r.Phases[i].Duration)
		}
	}
}

func phase(r *probes.Result, name string) time.Duration {
	d, _ := r.Phase(name)
	return d
}

// wantError checks that the run failed with an error containing every part.
func wantError(t *testing.T, r *probes.Result, parts ...string) {
	t.Helper()
	if r.Success || r.Err == nil {
		t.Fatalf("run passed, want failure containing %q", parts)
	}
	for _, part := range parts {
		if !strings.Contains(r.Err.Error(), part) {
			t.Fatalf("error %q does not contain %q", r.Err, part)
		}
	}
}

func wantSuccess(t *testing.T, r *probes.Result) {
	t.Helper()
	if !r.Success || r.Err != nil {
		t.Fatalf("run failed: %v", r.Err)
	}
}

// serverLeaf issues a certificate for 127.0.0.1, ::1 and vigil.test from ca.
func serverLeaf(t testing.TB, ca *testpki.CA, opts ...testpki.Option) tls.Certificate {
	t.Helper()
	return ca.Issue(t, append([]testpki.Option{testpki.DNSNames("vigil.test")}, opts...)...).TLS
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newTLSServer starts an https server on 127.0.0.1 with the given certificate
// and server settings (client auth, versions, HTTP/2).
func newTLSServer(t testing.TB, h http.Handler, cert tls.Certificate, edit func(*httptest.Server)) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	// The server logs every failed handshake; those failures are the point.
	ts.Config.ErrorLog = discardLogger()
	if edit != nil {
		edit(ts)
	}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

// startDNS serves A and AAAA records from records on 127.0.0.1 (miekg/dns) and
// returns a resolver that asks only it.
func startDNS(t testing.TB, records map[string][]netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		for _, q := range req.Question {
			addrs, ok := records[strings.ToLower(q.Name)]
			if !ok {
				m.Rcode = dns.RcodeNameError
				continue
			}
			for _, a := range addrs {
				hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 60}
				switch {
				case q.Qtype == dns.TypeA && a.Is4():
					hdr.Rrtype = dns.TypeA
					m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
				case q.Qtype == dns.TypeAAAA && a.Is6():
					hdr.Rrtype = dns.TypeAAAA
					m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
				}
			}
		}
		_ = w.WriteMsg(m)
	})
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: handler, NotifyStartedFunc: func() { close(started) }}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.ActivateAndServe()
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("dns server did not start within 5s")
	}
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-served
	})
	addr := pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
}
