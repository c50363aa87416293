package httpprobe

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/internal/testpki"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// fieldPaths lists the paths of every FieldError in err.
func fieldPaths(err error) []string {
	var paths []string
	var walk func(error)
	walk = func(err error) {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *probeconfig.FieldError
		if errors.As(err, &fe) {
			paths = append(paths, fe.Path)
		}
	}
	walk(err)
	slices.Sort(paths)
	return paths
}

func TestValidate(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name      string
		config    Config
		wantPaths []string // nil: valid
	}{
		{"minimal", Config{URL: "http://127.0.0.1:8080/health"}, nil},
		{"missing url", Config{}, []string{"url"}},
		{"bad scheme", Config{URL: "ftp://127.0.0.1/"}, []string{"url"}},
		{"no host", Config{URL: "http:///path"}, []string{"url"}},
		{"credentials in url", Config{URL: "http://vigil:pw@127.0.0.1/"}, []string{"url"}},
		{"bad method", Config{URL: "http://h/", Method: "GE T"}, []string{"method"}},
		{
			"both password and password_file",
			Config{URL: "http://h/", BasicAuth: &BasicAuth{Username: "u", Password: "p", PasswordFile: "/etc/pw"}},
			[]string{"basic_auth.password"},
		},
		{
			"unreadable password_file",
			Config{URL: "http://h/", BasicAuth: &BasicAuth{Username: "u", PasswordFile: missing}},
			[]string{"basic_auth.password_file"},
		},
		{"basic_auth without username", Config{URL: "http://h/", BasicAuth: &BasicAuth{Password: "p"}}, []string{"basic_auth.username"}},
		{
			"basic_auth and bearer_token",
			Config{URL: "http://h/", BasicAuth: &BasicAuth{Username: "u", Password: "p"}, BearerToken: "t"},
			[]string{"bearer_token"},
		},
		{"both bearer_token and file", Config{URL: "http://h/", BearerToken: "t", BearerTokenFile: "/t"}, []string{"bearer_token"}},
		{"unreadable ca_file", Config{URL: "https://h/", TLSConfig: probeconfig.TLSConfig{CAFile: missing}}, []string{"tls_config.ca_file"}},
		{"unknown min_version", Config{URL: "https://h/", TLSConfig: probeconfig.TLSConfig{MinVersion: "TLS14"}}, []string{"tls_config.min_version"}},
		{"cert_file without key_file", Config{URL: "https://h/", TLSConfig: probeconfig.TLSConfig{CertFile: "/c.pem"}}, []string{"tls_config.key_file"}},
		{"body and body_file", Config{URL: "http://h/", Body: "x", BodyFile: "/b"}, []string{"body_file"}},
		{"unreadable body_file", Config{URL: "http://h/", BodyFile: missing}, []string{"body_file"}},
		{"bad status code", Config{URL: "http://h/", ValidStatusCodes: []int{200, 999}}, []string{"valid_status_codes[1]"}},
		{"unknown http version", Config{URL: "http://h/", ValidHTTPVersions: []string{"HTTP/3"}}, []string{"valid_http_versions[0]"}},
		{"fail_if_ssl and fail_if_not_ssl", Config{URL: "http://h/", FailIfSSL: true, FailIfNotSSL: true}, []string{"fail_if_not_ssl"}},
		{
			"empty body regexp",
			Config{URL: "http://h/", FailIfBodyMatchesRegexp: []probeconfig.Regexp{mustRegexp("a"), {}}},
			[]string{"fail_if_body_matches_regexp[1]"},
		},
		{
			"header match without header and regexp",
			Config{URL: "http://h/", FailIfHeaderNotMatches: []HeaderMatch{{Header: "Server", Regexp: mustRegexp("a")}, {}}},
			[]string{"fail_if_header_not_matches[1].header", "fail_if_header_not_matches[1].regexp"},
		},
		{"negative max_redirects", Config{URL: "http://h/", MaxRedirects: ptr(-1)}, []string{"max_redirects"}},
		{"negative body_size_limit", Config{URL: "http://h/", BodySizeLimit: -1}, []string{"body_size_limit"}},
		{"negative max_response_header_bytes", Config{URL: "http://h/", MaxResponseHeaderBytes: -1}, []string{"max_response_header_bytes"}},
		{"unknown compression", Config{URL: "http://h/", Compression: "br"}, []string{"compression"}},
		{
			"Accept-Encoding refusing the compression",
			Config{URL: "http://h/", Compression: "gzip", Headers: map[string]string{"accept-encoding": "br, gzip;q=0"}},
			[]string{"headers.accept-encoding"},
		},
		{
			"Accept-Encoding admitting the compression",
			Config{URL: "http://h/", Compression: "gzip", Headers: map[string]string{"Accept-Encoding": "br;q=1.0, gzip;q=0.9"}},
			nil,
		},
		{
			"Authorization header and bearer_token",
			Config{URL: "http://h/", BearerToken: "t", Headers: map[string]string{"Authorization": "Bearer x"}},
			[]string{"headers.Authorization"},
		},
		{"bad header name", Config{URL: "http://h/", Headers: map[string]string{"X Team": "a"}}, []string{"headers.X Team"}},
		{"bad proxy_url", Config{URL: "http://h/", ProxyURL: "ftp://127.0.0.1:21"}, []string{"proxy_url"}},
		{"credentials in proxy_url", Config{URL: "http://h/", ProxyURL: "http://u:p@127.0.0.1:3128"}, []string{"proxy_url"}},
		{"authorization and bearer_token", Config{URL: "http://h/", BearerToken: "t", Authorization: &Authorization{Credentials: "c"}}, []string{"authorization"}},
		{"authorization type Basic", Config{URL: "http://h/", Authorization: &Authorization{Type: "basic", Credentials: "c"}}, []string{"authorization.type"}},
		{"authorization without credentials", Config{URL: "http://h/", Authorization: &Authorization{Type: "Token"}}, []string{"authorization.credentials"}},
		{"authorization credentials and file", Config{URL: "http://h/", Authorization: &Authorization{Credentials: "c", CredentialsFile: "/c"}}, []string{"authorization.credentials"}},
		{"oauth2 and basic_auth", Config{URL: "http://h/", BasicAuth: &BasicAuth{Username: "u"}, OAuth2: &OAuth2{ClientID: "i", TokenURL: "http://t/"}}, []string{"oauth2"}},
		{"oauth2 without client_id and token_url", Config{URL: "http://h/", OAuth2: &OAuth2{}}, []string{"oauth2.client_id", "oauth2.token_url"}},
		{"oauth2 token_url with credentials", Config{URL: "http://h/", OAuth2: &OAuth2{ClientID: "i", TokenURL: "http://i:pw@t/"}}, []string{"oauth2.token_url"}},
		{"oauth2 secret and file", Config{URL: "http://h/", OAuth2: &OAuth2{ClientID: "i", ClientSecret: "s", ClientSecretFile: "/s", TokenURL: "http://t/"}}, []string{"oauth2.client_secret"}},
		{"no_proxy without proxy_url", Config{URL: "http://h/", NoProxy: "example.com"}, []string{"no_proxy"}},
		{"proxy_from_environment and proxy_url", Config{URL: "http://h/", ProxyFromEnvironment: true, ProxyURL: "http://127.0.0.1:3128"}, []string{"proxy_from_environment"}},
		{"proxy_from_environment and no_proxy", Config{URL: "http://h/", ProxyFromEnvironment: true, NoProxy: "example.com"}, []string{"no_proxy"}},
		{
			"proxy_connect_header without a proxy",
			Config{URL: "http://h/", ProxyConnectHeader: map[string][]probeconfig.Secret{"Proxy-Authorization": {"Basic x"}}},
			[]string{"proxy_connect_header"},
		},
		{"unknown preferred_ip_protocol", Config{URL: "http://h/", PreferredIPProtocol: "ip5"}, []string{"preferred_ip_protocol"}},
		{
			"every problem is reported",
			Config{URL: "gopher://h/", Compression: "br", PreferredIPProtocol: "ip5"},
			[]string{"compression", "preferred_ip_protocol", "url"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.config.Validate()
			if got := fieldPaths(err); !slices.Equal(got, tt.wantPaths) {
				t.Fatalf("Validate() paths = %q, want %q (error: %v)", got, tt.wantPaths, err)
			}
			if err != nil && (strings.Contains(err.Error(), "pw@") || strings.Contains(err.Error(), ":p@")) {
				t.Errorf("error shows credentials: %v", err)
			}
			if _, newErr := New(&tt.config, probes.Options{CheckID: testCheckID}); (newErr != nil) != (err != nil) {
				t.Errorf("New error %v, Validate error %v: want both or neither", newErr, err)
			}
		})
	}
}

func TestDecodeAndRedact(t *testing.T) {
	ca := testpki.NewCA(t, "Vigil Test CA")
	t.Setenv("VIGIL_TEST_HTTP_PASSWORD", "pw-from-env")
	doc := `
url: https://talk.example.com/v1/health
method: POST
headers: {Content-Type: application/json}
body: '{}'
valid_status_codes: [200, 204]
valid_http_versions: [HTTP/1.1, HTTP/2.0]
fail_if_not_ssl: true
fail_if_body_matches_regexp: [error]
fail_if_body_not_matches_regexp: ['"status":\s*"ok"']
fail_if_header_matches: [{header: X-Release, regexp: beta, allow_missing: true}]
fail_if_header_not_matches: [{header: Content-Type, regexp: json}]
follow_redirects: false
max_redirects: 0
body_size_limit: 1048576
compression: gzip
basic_auth: {username: vigil, password: "${VIGIL_TEST_HTTP_PASSWORD}"}
tls_config: {ca_file: ` + ca.PEMFile + `, min_version: TLS12}
proxy_url: http://127.0.0.1:3128
preferred_ip_protocol: ip6
ip_protocol_fallback: false
`
	var cfg Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	pl, err := cfg.plan()
	if err != nil {
		t.Fatal(err)
	}
	if pl.method != "POST" || pl.followRedirects || pl.maxRedirects != 0 || pl.bodySizeLimit != 1<<20 ||
		pl.ipProtocol != "ip6" || pl.ipProtocolFallback || pl.compression != "gzip" || len(pl.responseRules().headerMatch) != 1 ||
		!pl.responseRules().headerMatch[0].allowMissing || pl.header.Get("Accept-Encoding") != "gzip" ||
		pl.header.Get("Authorization") != "Basic dmlnaWw6cHctZnJvbS1lbnY=" || pl.crossHostHeader.Get("Authorization") != "" {
		t.Errorf("plan = %+v", pl)
	}

	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"password":"\u003csecret\u003e"`, `"valid_status_codes":[200,204]`, `"fail_if_body_matches_regexp":["error"]`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("JSON %s lacks %s", out, want)
		}
	}
	if strings.Contains(string(out), "pw-from-env") {
		t.Errorf("JSON shows the password: %s", out)
	}

	var strict Config
	dec = yaml.NewDecoder(strings.NewReader("url: http://h/\nfollow_redirect: true\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&strict); err == nil || !strings.Contains(err.Error(), "follow_redirect") {
		t.Errorf("unknown key decoded, error %v", err)
	}
}

func TestDefaults(t *testing.T) {
	pl, err := (&Config{URL: "http://127.0.0.1/"}).plan()
	if err != nil {
		t.Fatal(err)
	}
	if pl.method != "GET" || !pl.followRedirects || pl.maxRedirects != 10 || pl.bodySizeLimit != 10<<20 || pl.maxHeaderBytes != 1<<20 ||
		pl.ipProtocol != "ip4" || !pl.ipProtocolFallback || pl.compression != "" ||
		pl.header.Get("User-Agent") != userAgent || pl.header.Get("Accept-Encoding") != "" {
		t.Errorf("defaults = %+v", pl)
	}
}

// TestBodyFileBounded: body_file is read like every file a config names, a
// regular file of at most probeconfig.MaxConfigFileBytes: a device or a file
// too large is a config error naming the file, not a request body.
func TestBodyFileBounded(t *testing.T) {
	dir := t.TempDir()
	small := writeFile(t, "body.json", []byte(`{"ping":1}`))
	large := filepath.Join(dir, "large.bin")
	if err := os.WriteFile(large, make([]byte, probeconfig.MaxConfigFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file, wantErr string
	}{
		{small, ""},
		{large, "body_file: cannot read: " + large + ": larger than 4 MiB"},
		{"/dev/null", "body_file: cannot read: /dev/null: not a regular file"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			p, err := (&Config{URL: "http://127.0.0.1/", Method: "POST", BodyFile: tt.file}).plan()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("plan(): %v", err)
				}
				if string(p.body) != `{"ping":1}` {
					t.Errorf("plan() body = %q", p.body)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("plan() error = %v, want %s", err, tt.wantErr)
			}
		})
	}
}
