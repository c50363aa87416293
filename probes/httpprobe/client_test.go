package httpprobe

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testpki"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// tokenServer is an OAuth2 token endpoint (client-credentials grant) that
// issues token to clientID:secret when the request asks for scope and carries
// audience=vigil (an endpoint_params entry); it counts the tokens issued.
func tokenServer(t *testing.T, clientID, secret, token string) (*atomic.Int64, string) {
	t.Helper()
	var issued atomic.Int64
	ts := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, pw, _ := r.BasicAuth()
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case id != clientID || pw != secret:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
		case r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != "health:read" || r.PostForm.Get("audience") != "vigil":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_request"}`)
		default:
			issued.Add(1)
			_, _ = io.WriteString(w, `{"access_token":"`+token+`","token_type":"Bearer","expires_in":3600}`)
		}
	}))
	return &issued, ts.URL + "/oauth/token"
}

// wantAuthorization answers 200 only to requests with Authorization want.
func wantAuthorization(want string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != want {
			http.Error(w, "Authorization "+got, http.StatusForbidden)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}
}

func TestOAuth2(t *testing.T) {
	issued, tokenURL := tokenServer(t, "vigil", "s3cret-client", "tok-42")
	target := newServer(t, wantAuthorization("Bearer tok-42"))
	secretFile := writeFile(t, "client_secret", []byte("s3cret-client\n"))
	oauth := func(secret probeconfig.Secret, file string) *OAuth2 {
		return &OAuth2{ClientID: "vigil", ClientSecret: secret, ClientSecretFile: file, TokenURL: tokenURL,
			Scopes: []string{"health:read"}, EndpointParams: map[string]string{"audience": "vigil"}}
	}

	t.Run("token from client_secret_file, cached across runs", func(t *testing.T) {
		p := newProber(t, &Config{URL: target.URL + "/health", OAuth2: oauth("", secretFile)})
		for range 2 {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			wantSuccess(t, p.Probe(ctx))
			cancel()
		}
		if n := issued.Load(); n != 1 {
			t.Errorf("token endpoint issued %d tokens for two runs, want 1 (cached)", n)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		r := runProbe(t, &Config{URL: target.URL + "/health", OAuth2: oauth("not-the-secret", "")})
		wantError(t, r, "oauth2 token from "+tokenURL+": 401 Unauthorized", `"invalid_client"`)
		if strings.Contains(r.Err.Error(), "not-the-secret") {
			t.Errorf("error shows the client secret: %v", r.Err)
		}
	})
	t.Run("token endpoint down", func(t *testing.T) {
		cfg := &Config{URL: target.URL + "/health", OAuth2: oauth("s3cret-client", "")}
		cfg.OAuth2.TokenURL = "http://" + closedPort(t) + "/oauth/token"
		r := runProbe(t, cfg)
		wantError(t, r, "oauth2 token from "+cfg.OAuth2.TokenURL+": ", "connection refused")
	})
}

// TestOAuth2TokenEndpointHangs: prometheus/common fetches the token without
// the run's context; the run's deadline must still bound it.
func TestOAuth2TokenEndpointHangs(t *testing.T) {
	release := make(chan struct{})
	hang := newServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	target := newServer(t, reply(200, "ok"))
	p := newProber(t, &Config{URL: target.URL, OAuth2: &OAuth2{ClientID: "vigil", ClientSecret: "x", TokenURL: hang.URL}})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := p.Probe(ctx)
	wantError(t, r, "oauth2 token from "+hang.URL)
	if !r.TimedOut || time.Since(start) > 3*time.Second {
		t.Fatalf("run took %v, timed out %v: want the 300ms deadline to end it", time.Since(start), r.TimedOut)
	}
}

// TestOAuth2TokenStaysOnHost: a redirect to another host gets no token.
func TestOAuth2TokenStaysOnHost(t *testing.T) {
	_, tokenURL := tokenServer(t, "vigil", "s", "tok-1")
	var leaked atomic.Value
	other := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization"))
	}))
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	target := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-1" {
			http.Error(w, "no token", http.StatusForbidden)
			return
		}
		http.Redirect(w, r, otherURL+"/elsewhere", http.StatusFound)
	}))
	r := runProbe(t, &Config{URL: target.URL, OAuth2: &OAuth2{ClientID: "vigil", ClientSecret: "s", TokenURL: tokenURL,
		Scopes: []string{"health:read"}, EndpointParams: map[string]string{"audience": "vigil"}}})
	wantSuccess(t, r)
	if got, ok := leaked.Load().(string); !ok || got != "" {
		t.Fatalf("other host saw Authorization %q (reached: %v), want none", got, ok)
	}
}

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

func TestAuthorization(t *testing.T) {
	credentials := writeFile(t, "token", []byte("tok-from-file\n"))
	tests := []struct {
		name string
		auth Authorization
		want string
	}{
		{"Bearer from credentials_file", Authorization{CredentialsFile: credentials}, "Bearer tok-from-file"},
		{"other type", Authorization{Type: "Token", Credentials: "abc"}, "Token abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newServer(t, wantAuthorization(tt.want))
			p := newProber(t, &Config{URL: ts.URL, Authorization: &tt.auth})
			wantSuccess(t, p.Probe(t.Context()))
			if p.transport != nil {
				t.Error("authorization took the transport: a plain-http check must keep the direct path")
			}
		})
	}
}

func TestEnableHTTP2(t *testing.T) {
	ca := testpki.NewCA(t, "Vigil Test CA")
	var proto atomic.Value
	ts := newTLSServer(t, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { proto.Store(r.Proto) }),
		serverLeaf(t, ca), func(s *httptest.Server) { s.EnableHTTP2 = true })
	tests := []struct {
		enable *bool
		want   string
	}{
		{nil, "HTTP/2.0"},
		{ptr(true), "HTTP/2.0"},
		{ptr(false), "HTTP/1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			proto.Store("")
			r := runProbe(t, &Config{URL: ts.URL, EnableHTTP2: tt.enable, TLSConfig: probeconfig.TLSConfig{CAFile: ca.PEMFile}})
			wantSuccess(t, r)
			if got := proto.Load(); got != tt.want || r.HTTP.Version != tt.want {
				t.Fatalf("target saw %v, result says %s; want %s", got, r.HTTP.Version, tt.want)
			}
		})
	}
}

// forwardProxy is an HTTP proxy on loopback: CONNECT tunnels and absolute-form
// requests, every host sent to backend (the one address the test serves). It
// records each request's method, host and Proxy-Authorization.
type forwardProxy struct {
	url     string
	backend string
	mu      sync.Mutex
	seen    []string // "CONNECT vigil.test:443 auth=..."
}

func newForwardProxy(t *testing.T, backend string) *forwardProxy {
	fp := &forwardProxy{backend: backend}
	forward := &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, backend)
		}}
	t.Cleanup(forward.CloseIdleConnections)
	reverse := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.Out.URL = r.In.URL }, Transport: forward}
	ts := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fp.mu.Lock()
		fp.seen = append(fp.seen, r.Method+" "+r.Host+" auth="+r.Header.Get("Proxy-Authorization"))
		fp.mu.Unlock()
		if r.Method != http.MethodConnect {
			reverse.ServeHTTP(w, r)
			return
		}
		fp.tunnel(w)
	}))
	fp.url = ts.URL
	return fp
}

// tunnel answers a CONNECT and copies bytes both ways until either side closes.
func (fp *forwardProxy) tunnel(w http.ResponseWriter) {
	upstream, err := net.Dial("tcp", fp.backend)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer upstream.Close()
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(upstream, bufio.NewReader(buf))
		_ = upstream.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	_, _ = io.Copy(conn, upstream)
	_ = conn.Close()
	<-done
}

func (fp *forwardProxy) requests() []string {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return append([]string(nil), fp.seen...)
}

func TestProxyKeys(t *testing.T) {
	ca := testpki.NewCA(t, "Vigil Test CA")
	tlsTarget := newTLSServer(t, reply(200, "ok"), serverLeaf(t, ca), nil)
	plainTarget := newServer(t, http.HandlerFunc(echo))
	_, tlsPort, _ := net.SplitHostPort(tlsTarget.Listener.Addr().String())
	_, plainPort, _ := net.SplitHostPort(plainTarget.Listener.Addr().String())
	// Not a loopback name: Go's NO_PROXY rules never proxy those.
	httpsURL, httpURL := "https://vigil.test:"+tlsPort+"/", "http://vigil.test:"+plainPort+"/"
	resolver := startDNS(t, map[string][]netip.Addr{"vigil.test.": {netip.MustParseAddr("127.0.0.1")}})
	tlsConfig := probeconfig.TLSConfig{CAFile: ca.PEMFile}
	connectHeader := map[string][]probeconfig.Secret{"Proxy-Authorization": {"Basic cHJveHk6cHc="}}

	tests := []struct {
		name  string
		cfg   func(proxy string) Config
		env   bool // HTTP_PROXY and HTTPS_PROXY name the proxy
		proxy []string
	}{
		{"https via proxy_url with proxy_connect_header", func(proxy string) Config {
			return Config{URL: httpsURL, TLSConfig: tlsConfig, ProxyURL: proxy, NoProxy: "example.com", ProxyConnectHeader: connectHeader}
		}, false, []string{"CONNECT vigil.test:" + tlsPort + " auth=Basic cHJveHk6cHc="}},
		{"https skipped by no_proxy", func(proxy string) Config {
			return Config{URL: httpsURL, TLSConfig: tlsConfig, ProxyURL: proxy, NoProxy: "example.com,vigil.test", ProxyConnectHeader: connectHeader}
		}, false, nil},
		{"http via proxy_url and no_proxy elsewhere", func(proxy string) Config {
			return Config{URL: httpURL, ProxyURL: proxy, NoProxy: "10.0.0.0/8", FailIfBodyNotMatchesRegexp: mustRegexps("^method=GET host=vigil.test:")}
		}, false, []string{"GET vigil.test:" + plainPort + " auth="}},
		{"http via proxy_from_environment", func(string) Config {
			return Config{URL: httpURL, ProxyFromEnvironment: true}
		}, true, []string{"GET vigil.test:" + plainPort + " auth="}},
		{"https via proxy_from_environment with proxy_connect_header", func(string) Config {
			return Config{URL: httpsURL, TLSConfig: tlsConfig, ProxyFromEnvironment: true, ProxyConnectHeader: connectHeader}
		}, true, []string{"CONNECT vigil.test:" + tlsPort + " auth=Basic cHJveHk6cHc="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backend := plainTarget.Listener.Addr().String()
			if strings.HasPrefix(tt.cfg("").URL, "https") {
				backend = tlsTarget.Listener.Addr().String()
			}
			fp := newForwardProxy(t, backend)
			for _, name := range []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"} {
				t.Setenv(name, "")
			}
			if tt.env {
				t.Setenv("HTTP_PROXY", fp.url)
				t.Setenv("HTTPS_PROXY", fp.url)
			}
			cfg := tt.cfg(fp.url)
			p := newProber(t, &cfg)
			p.resolver = resolver
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			wantSuccess(t, p.Probe(ctx))
			if got := fp.requests(); strings.Join(got, "\n") != strings.Join(tt.proxy, "\n") {
				t.Fatalf("proxy saw %q, want %q", got, tt.proxy)
			}
		})
	}
}

// TestRedirectCookies: a cookie set by the first hop of a redirect chain goes
// with the next hops, after a configured Cookie header.
func TestRedirectCookies(t *testing.T) {
	ts := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "abc123", Path: "/"})
			http.Redirect(w, r, "/middle", http.StatusFound)
		case "/middle":
			http.Redirect(w, r, "/final", http.StatusSeeOther)
		case "/final":
			if got := r.Header.Get("Cookie"); got != "pref=dark; session=abc123" {
				http.Error(w, "Cookie "+got, http.StatusForbidden)
			}
		}
	}))
	p := newProber(t, &Config{URL: ts.URL + "/login", Headers: map[string]string{"Cookie": "pref=dark"}})
	r := p.Probe(t.Context())
	wantSuccess(t, r)
	if r.HTTP.Redirects != 2 {
		t.Errorf("redirects = %d, want 2", r.HTTP.Redirects)
	}
	if p.plan.header.Get("Cookie") != "pref=dark" {
		t.Errorf("the shared header changed: Cookie %q", p.plan.header.Get("Cookie"))
	}
	// Each run starts with no cookie: a second run logs in again.
	wantSuccess(t, p.Probe(t.Context()))
}

// TestClientKeysRedacted: the secrets of the new keys never show in /api's
// JSON nor in validation errors.
func TestClientKeysRedacted(t *testing.T) {
	cfg := Config{
		URL:                "https://vigil.test/",
		Authorization:      &Authorization{Credentials: "cred-SECRET"},
		ProxyURL:           "http://127.0.0.1:3128",
		ProxyConnectHeader: map[string][]probeconfig.Secret{"Proxy-Authorization": {"proxy-SECRET"}},
		OAuth2:             &OAuth2{ClientID: "vigil", ClientSecret: "client-SECRET", TokenURL: "https://idp.test/token"},
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "SECRET") || strings.Count(string(out), `\u003csecret\u003e`) != 3 {
		t.Errorf("JSON %s: want three redacted secrets", out)
	}
	cfg.ProxyConnectHeader["Proxy-Authorization"][0] = "bad\nSECRET"
	err = cfg.Validate()
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("Validate() = %v: want an error without the secrets", err)
	}
	var fe *probeconfig.FieldError
	if !errors.As(err, &fe) {
		t.Errorf("Validate() = %v: want FieldErrors", err)
	}
}
