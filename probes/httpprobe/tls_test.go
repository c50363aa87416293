package httpprobe

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testpki"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

func TestTLS(t *testing.T) {
	ca := testpki.NewCA(t, "Vigil Test CA")
	good := serverLeaf(t, ca)
	expired := serverLeaf(t, ca, testpki.ValidBetween(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)))
	selfSigned := testpki.NewCA(t, "Self Signed")
	selfLeaf := serverLeaf(t, selfSigned)
	client := ca.Issue(t, testpki.DNSNames("vigil.test"), testpki.CommonName("vigil-agent"), testpki.ClientAuth())
	clientCert, clientKey := client.CertFile, client.KeyFile

	requireClientCert := func(ts *httptest.Server) {
		ts.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		ts.TLS.ClientCAs = ca.Pool()
	}
	http2 := func(ts *httptest.Server) { ts.EnableHTTP2 = true }

	tests := []struct {
		name    string
		cert    tls.Certificate
		server  func(*httptest.Server)
		config  func(*Config)
		wantErr []string
		check   func(*testing.T, *probes.Result)
	}{
		{
			name:   "success with ca_file",
			cert:   good,
			config: func(c *Config) { c.TLSConfig.CAFile = ca.PEMFile },
			check: func(t *testing.T, r *probes.Result) {
				h := r.HTTP
				if !h.SSL || h.Version != "HTTP/1.1" || h.StatusCode != 200 {
					t.Errorf("HTTP = %+v", *h)
				}
				// The leaf expires before the CA: it is the chain's earliest.
				if !h.CertExpiry.Equal(good.Leaf.NotAfter) {
					t.Errorf("CertExpiry %v, want the leaf's %v", h.CertExpiry, good.Leaf.NotAfter)
				}
				// The handshake's version and cipher, for vigil_tls_version_info.
				if r.TLS == nil || r.TLS.Version != "TLS 1.3" || r.TLS.CipherSuite == "" || !r.TLS.CertExpiry.Equal(h.CertExpiry) {
					t.Errorf("TLS = %+v, want TLS 1.3, a cipher and the chain's expiry", r.TLS)
				}
				if phase(r, "tls") <= 0 || phase(r, "connect") <= 0 {
					t.Errorf("phases %v", r.Phases)
				}
			},
		},
		{
			name:    "self-signed without ca_file",
			cert:    selfLeaf,
			wantErr: []string{"tls: certificate signed by unknown authority (issuer Self Signed)"},
		},
		{
			name: "self-signed with insecure_skip_verify",
			cert: selfLeaf,
			config: func(c *Config) {
				c.TLSConfig.InsecureSkipVerify = true
			},
			check: func(t *testing.T, r *probes.Result) {
				if !r.HTTP.CertExpiry.Equal(selfLeaf.Leaf.NotAfter) {
					t.Errorf("CertExpiry %v, want the presented leaf's %v", r.HTTP.CertExpiry, selfLeaf.Leaf.NotAfter)
				}
			},
		},
		{
			name:    "expired certificate",
			cert:    expired,
			config:  func(c *Config) { c.TLSConfig.CAFile = ca.PEMFile },
			wantErr: []string{"tls: certificate expired at 2021-01-01T00:00:00Z"},
		},
		{
			name: "wrong server name",
			cert: good,
			config: func(c *Config) {
				c.TLSConfig.CAFile = ca.PEMFile
				c.TLSConfig.ServerName = "api.other.test"
			},
			wantErr: []string{"tls: certificate is valid for vigil.test, not api.other.test"},
		},
		{
			name: "server name from the Host header",
			cert: good,
			config: func(c *Config) {
				c.TLSConfig.CAFile = ca.PEMFile
				c.Headers = map[string]string{"Host": "vigil.test"}
			},
		},
		{
			name:   "client certificate required and given",
			cert:   good,
			server: requireClientCert,
			config: func(c *Config) {
				c.TLSConfig = probeconfig.TLSConfig{CAFile: ca.PEMFile, CertFile: clientCert, KeyFile: clientKey}
			},
		},
		{
			name:    "client certificate required and missing",
			cert:    good,
			server:  requireClientCert,
			config:  func(c *Config) { c.TLSConfig.CAFile = ca.PEMFile },
			wantErr: []string{"certificate required"},
		},
		{
			name:   "HTTP/2",
			cert:   good,
			server: http2,
			config: func(c *Config) {
				c.TLSConfig.CAFile = ca.PEMFile
				c.ValidHTTPVersions = []string{"HTTP/2.0"}
			},
			check: func(t *testing.T, r *probes.Result) {
				if r.HTTP.Version != "HTTP/2.0" || phase(r, "tls") <= 0 {
					t.Errorf("HTTP = %+v, phases %v", *r.HTTP, r.Phases)
				}
			},
		},
		{
			name:   "HTTP/2 not in valid_http_versions",
			cert:   good,
			server: http2,
			config: func(c *Config) {
				c.TLSConfig.CAFile = ca.PEMFile
				c.ValidHTTPVersions = []string{"HTTP/1.1"}
			},
			wantErr: []string{"version HTTP/2.0 not in valid_http_versions [HTTP/1.1]"},
		},
		{
			name: "fail_if_ssl",
			cert: good,
			config: func(c *Config) {
				c.TLSConfig.CAFile = ca.PEMFile
				c.FailIfSSL = true
			},
			wantErr: []string{"final response came over TLS and fail_if_ssl is set"},
		},
		{
			name: "fail_if_not_ssl over TLS passes",
			cert: good,
			config: func(c *Config) {
				c.TLSConfig.CAFile = ca.PEMFile
				c.FailIfNotSSL = true
			},
		},
		{
			name:   "min_version above the server's",
			cert:   good,
			server: func(ts *httptest.Server) { ts.TLS.MaxVersion = tls.VersionTLS12 },
			config: func(c *Config) {
				c.TLSConfig = probeconfig.TLSConfig{CAFile: ca.PEMFile, MinVersion: "TLS13"}
			},
			wantErr: []string{"protocol version"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTLSServer(t, reply(200, "ok"), tt.cert, tt.server)
			cfg := &Config{URL: ts.URL + "/"}
			if tt.config != nil {
				tt.config(cfg)
			}
			r := runProbe(t, cfg)
			wantPhases(t, r)
			if tt.wantErr == nil {
				wantSuccess(t, r)
			} else {
				wantError(t, r, tt.wantErr...)
				t.Logf("error: %v", r.Err)
				wantError(t, r, "http probe "+testCheckID+": GET "+ts.URL+"/: ")
				if r.TimedOut {
					t.Errorf("TimedOut for a TLS failure")
				}
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestHTTPSRedirectToHTTPFailsIfNotSSL(t *testing.T) {
	plain := newServer(t, reply(200, "plain"))
	ca := testpki.NewCA(t, "Vigil Test CA")
	ts := newTLSServer(t, http.RedirectHandler(plain.URL+"/insecure", http.StatusFound), serverLeaf(t, ca), nil)
	r := runProbe(t, &Config{
		URL:          ts.URL + "/",
		FailIfNotSSL: true,
		TLSConfig:    probeconfig.TLSConfig{CAFile: ca.PEMFile},
	})
	wantError(t, r, "GET "+plain.URL+"/insecure: final response did not come over TLS")
	if r.HTTP.Redirects != 1 || r.HTTP.SSL || !r.HTTP.CertExpiry.IsZero() || phase(r, "tls") != 0 {
		t.Errorf("HTTP = %+v, phases %v: want those of the final, plain request", *r.HTTP, r.Phases)
	}
}
