package web

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/export"
	"github.com/vigil-monitoring/vigil/internal/testpki"
	"github.com/vigil-monitoring/vigil/sla"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// backend is a real SLA engine on a temp store with a small registry.
type backend struct {
	reg       *prometheus.Registry
	engine    *sla.Engine
	reloadErr error
	reloads   int
}

func (b *backend) Exposition() *expo.Exposition {
	return expo.New(b.reg, nil, export.NewSLAMetrics(b.engine, nil, nil))
}
func (b *backend) Engine() *sla.Engine { return b.engine }
func (b *backend) Ready() bool         { return b.engine.Ready() }
func (b *backend) Reload() error       { b.reloads++; return b.reloadErr }

func newBackend(t *testing.T) *backend {
	t.Helper()
	engine, err := sla.Open(sla.Options{Path: t.TempDir(), Region: "kr-central-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	if err := engine.Configure([]sla.FeatureSpec{{Service: "talk", Feature: "message-send-receive", Title: "Messages",
		Objective: 0.999, Window: 30 * 24 * time.Hour, FailureThreshold: 2, RecoveryThreshold: 3,
		Checks: []sla.CheckSpec{{Name: "api", Kind: "http", Interval: time.Second, Timeout: 500 * time.Millisecond}}}}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_test_gauge", Help: "test"})
	g.Set(42)
	reg.MustRegister(g)
	return &backend{reg: reg, engine: engine}
}

func startServer(t *testing.T, b Backend, webConfig string) *Server {
	t.Helper()
	s := New(b, Options{ListenAddress: "127.0.0.1:0", WebConfigFile: webConfig, Region: "kr-central-1"})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-s.Done()
	})
	return s
}

func TestEndpoints(t *testing.T) {
	b := newBackend(t)
	s := startServer(t, b, "")
	base := "http://" + s.Addr()
	tests := []struct {
		method, path string
		wantCode     int
		wantBody     string
	}{
		{"GET", "/metrics", 200, "vigil_test_gauge 42"},
		{"GET", "/-/healthy", 200, "Vigil is healthy."},
		{"GET", "/-/ready", 200, "Vigil is ready."},
		{"POST", "/-/reload", 200, "config reloaded"},
		{"GET", "/-/reload", 405, ""},
		{"GET", "/api/v1/features", 200, `"feature": "message-send-receive"`},
		{"GET", "/api/v1/outages?service=talk", 200, `"outages"`},
		{"GET", "/api/v1/outages?since=yesterday", 400, `since: cannot read time`},
		{"GET", "/api/v1/report?from=2026-10&to=2026-11", 200, `"features"`},
		{"GET", "/api/v1/report?from=2026-11&to=2026-10", 400, `is not before`},
		{"GET", "/", 200, "Messages"},
		{"GET", "/nope", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, base+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode || !strings.Contains(string(body), tt.wantBody) {
				t.Fatalf("%s %s = %d %q, want %d containing %q", tt.method, tt.path, resp.StatusCode, body, tt.wantCode, tt.wantBody)
			}
		})
	}
	b.reloadErr = errors.New("vigil.yml:3: agent.region: is required")
	resp, err := http.Post(base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(body), "vigil.yml:3: agent.region: is required") {
		t.Fatalf("failed reload = %d %q, want 500 with the error", resp.StatusCode, body)
	}
}

// writeCert issues a certificate for 127.0.0.1 from a new CA and returns its
// files and a pool trusting the CA.
func writeCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	ca := testpki.NewCA(t, "vigil-test CA")
	cert := ca.Issue(t, testpki.CommonName("vigil-test"))
	return cert.CertFile, cert.KeyFile, ca.Pool()
}

func TestTLSAndBasicAuthCoverEveryEndpoint(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeCert(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webConfig, []byte("tls_server_config:\n  cert_file: "+certFile+"\n  key_file: "+keyFile+
		"\nbasic_auth_users:\n  ops: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ValidateWebConfig(webConfig); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, newBackend(t), webConfig)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	base := "https://" + s.Addr()
	for _, path := range []string{"/metrics", "/-/healthy", "/-/ready", "/api/v1/features", "/api/v1/outages", "/api/v1/report", "/"} {
		t.Run(path, func(t *testing.T) {
			do := func(user, pass string) int {
				req, _ := http.NewRequest("GET", base+path, nil)
				if user != "" {
					req.SetBasicAuth(user, pass)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			if code := do("", ""); code != 401 {
				t.Errorf("no credentials: %d, want 401", code)
			}
			if code := do("ops", "wrong"); code != 401 {
				t.Errorf("wrong password: %d, want 401", code)
			}
			if code := do("ops", "s3cret-pass"); code != 200 {
				t.Errorf("right credentials: %d, want 200", code)
			}
		})
	}
	// Plain HTTP to the TLS port does not get through.
	resp, err := http.Get("http://" + s.Addr() + "/metrics")
	if err == nil {
		if resp.StatusCode == 200 {
			t.Error("plain HTTP request to the TLS server succeeded")
		}
		resp.Body.Close()
	}
	// POST /-/reload is covered too.
	req, _ := http.NewRequest("POST", base+"/-/reload", nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("unauthenticated reload: %d, want 401", resp.StatusCode)
	}
}

func TestValidateWebConfigNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(path, []byte("tls_server_config:\n  cert_file: /nonexistent/cert.pem\n  key_file: /nonexistent/key.pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := ValidateWebConfig(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("ValidateWebConfig = %v, want an error naming %s", err, path)
	}
}
