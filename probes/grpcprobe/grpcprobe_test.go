package grpcprobe

import (
	"context"
	"crypto/tls"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vigil-monitoring/vigil/internal/testpki"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// securedService answers only calls that carry "authorization: Bearer t0k".
const securedService = "vigil.Secured"

// serveHealth runs a grpc-go server with the standard health service on
// 127.0.0.1, over TLS when cert is set; the test switches its statuses.
func serveHealth(t *testing.T, cert *tls.Certificate) (string, *health.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := []grpc.ServerOption{grpc.UnaryInterceptor(requireToken)}
	if cert != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{*cert}})))
	}
	srv := grpc.NewServer(opts...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	hs.SetServingStatus("vigil.Talk", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(securedService, healthpb.HealthCheckResponse_SERVING)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String(), hs
}

func requireToken(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if r, ok := req.(*healthpb.HealthCheckRequest); ok && r.Service == securedService {
		md, _ := metadata.FromIncomingContext(ctx)
		if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer t0k" {
			return nil, status.Error(codes.Unauthenticated, "missing token")
		}
	}
	return handler(ctx, req)
}

func TestProbe(t *testing.T) {
	ca := testpki.NewCA(t, "vigil test ca")
	cert := ca.Issue(t).TLS
	addr, hs := serveHealth(t, nil)
	tlsAddr, _ := serveHealth(t, &cert)
	refused := closedPort(t)
	token := map[string]probeconfig.Secret{"Authorization": "Bearer t0k"}

	run := func(t *testing.T, cfg Config) *probes.Result {
		t.Helper()
		p, err := New(&cfg, probes.Options{CheckID: "s/f/c"})
		if err != nil {
			t.Fatal(err)
		}
		return p.Probe(context.Background())
	}
	tests := []struct {
		name          string
		cfg           Config
		before        func() // switches the server's status
		wantErr       string
		serving, code string
		phases        []string
	}{
		{"serving", Config{Target: addr, Service: "vigil.Talk"}, nil, "", "SERVING", "OK", []string{"connect", "check"}},
		{"whole server", Config{Target: addr}, nil, "", "SERVING", "OK", []string{"connect", "check"}},
		{"not serving", Config{Target: addr, Service: "vigil.Talk"},
			func() { hs.SetServingStatus("vigil.Talk", healthpb.HealthCheckResponse_NOT_SERVING) },
			"grpc probe s/f/c: " + addr + `: service "vigil.Talk" is NOT_SERVING`, "NOT_SERVING", "OK", nil},
		{"serving again", Config{Target: addr, Service: "vigil.Talk"},
			func() { hs.SetServingStatus("vigil.Talk", healthpb.HealthCheckResponse_SERVING) }, "", "SERVING", "OK", nil},
		{"unknown service", Config{Target: addr, Service: "vigil.Nope"}, nil,
			"grpc probe s/f/c: " + addr + `: health check of service "vigil.Nope": code NotFound: unknown service`, "", "NotFound", nil},
		{"metadata", Config{Target: addr, Service: securedService, Metadata: token}, nil, "", "SERVING", "OK", nil},
		{"metadata missing", Config{Target: addr, Service: securedService}, nil,
			"grpc probe s/f/c: " + addr + `: health check of service "vigil.Secured": code Unauthenticated: missing token`, "", "Unauthenticated", nil},
		{"tls", Config{Target: tlsAddr, Service: "vigil.Talk", TLS: true, TLSConfig: probeconfig.TLSConfig{CAFile: ca.PEMFile}}, nil,
			"", "SERVING", "OK", []string{"connect", "tls", "check"}},
		{"tls untrusted", Config{Target: tlsAddr, TLS: true}, nil,
			"grpc probe s/f/c: handshake " + tlsAddr + ": tls: certificate signed by unknown authority (issuer vigil test ca)", "", "Unavailable", nil},
		{"host name", Config{Target: "localhost:" + port(addr), Service: "vigil.Talk"}, nil, "", "SERVING", "OK",
			[]string{"resolve", "connect", "check"}},
		{"refused", Config{Target: refused}, nil, "grpc probe s/f/c: connect " + refused + ": connection refused", "", "Unavailable", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			r := run(t, tt.cfg)
			if got := r.ErrorString(); got != tt.wantErr || r.Success != (tt.wantErr == "") {
				t.Fatalf("Probe: success %v, err %q\nwant err %q", r.Success, got, tt.wantErr)
			}
			if r.GRPC == nil || r.GRPC.ServingStatus != tt.serving || r.GRPC.StatusCode != tt.code || codes.Code(r.GRPC.Code).String() != tt.code {
				t.Errorf("GRPC info %+v, want status %q, code %q", r.GRPC, tt.serving, tt.code)
			}
			if tt.phases != nil {
				var names []string
				for _, ph := range r.Phases {
					names = append(names, ph.Name)
				}
				if !slices.Equal(names, tt.phases) {
					t.Errorf("phases %q, want %q", names, tt.phases)
				}
			}
			if tt.cfg.TLS && tt.wantErr == "" && (r.TLS == nil || !r.TLS.CertExpiry.Equal(cert.Leaf.NotAfter)) {
				t.Errorf("TLS info %+v", r.TLS)
			}
		})
	}
}

// TestProbeTimeout: a server that accepts and never answers ends the run at
// its deadline, as a timeout.
func TestProbeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
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
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r := p.Probe(ctx)
	want := "grpc probe s/f/c: " + ln.Addr().String() + ": health check of the server: context deadline exceeded"
	if !r.TimedOut || r.ErrorString() != want {
		t.Errorf("timed out %v, err %q, want %q", r.TimedOut, r.ErrorString(), want)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"ok", Config{Target: "api.example.com:443", TLS: true, Metadata: map[string]probeconfig.Secret{"x-team": "sre"}}, ""},
		{"no port", Config{Target: "api.example.com"}, `target: bad address "api.example.com": want host:port`},
		{"tls_config without tls", Config{Target: "127.0.0.1:50051", TLSConfig: probeconfig.TLSConfig{ServerName: "x"}},
			"tls_config: is only used with tls: true"},
		{"reserved key", Config{Target: "127.0.0.1:50051", Metadata: map[string]probeconfig.Secret{"grpc-timeout": "1S"}},
			`metadata.grpc-timeout: key "grpc-timeout" is reserved by gRPC`},
		{"bad key", Config{Target: "127.0.0.1:50051", Metadata: map[string]probeconfig.Secret{"a b": "1"}},
			`metadata.a b: key "a b" may hold only letters, digits, '-', '_' and '.'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := tt.cfg.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
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
