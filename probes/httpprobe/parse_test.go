package httpprobe_test

import (
	"strings"
	"testing"

	"github.com/vigil-monitoring/vigil/internal/config"
)

// blackboxModule is an http module's client keys as blackbox_exporter's
// documentation writes them, copied under a check's http block.
const blackboxModule = `
agent: {region: kr-central-1}
services:
  - name: talk
    features:
      - name: send
        checks:
          - name: api
            http:
              url: https://talk.example.com/health
              enable_http2: false
              oauth2:
                client_id: vigil
                client_secret: s3cret
                token_url: https://idp.example.com/oauth/token
                scopes: [health:read]
                endpoint_params: {audience: talk}
              proxy_url: http://proxy.example.com:3128
              no_proxy: localhost,10.0.0.0/8
              proxy_connect_header:
                Proxy-Authorization: [Basic dmlnaWw6cHc=]
          - name: web
            http:
              url: http://talk.example.com/
              authorization: {type: Token, credentials: abc}
              proxy_from_environment: true
`

// TestParseClientKeys: the keys parse from a config file as blackbox_exporter
// writes them; an unsupported or misspelt one, and a bad value, are errors
// naming file, line and key.
func TestParseClientKeys(t *testing.T) {
	if _, err := config.Parse("vigil.yml", []byte(blackboxModule)); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	bad := strings.NewReplacer(
		"                scopes: [health:read]", "                grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer",
		"              proxy_from_environment: true", "              proxy_from_environment: true\n              no_proxy: example.com",
	).Replace(blackboxModule)
	_, err := config.Parse("vigil.yml", []byte(bad))
	if err == nil {
		t.Fatal("Parse accepted grant_type and no_proxy with proxy_from_environment")
	}
	for _, want := range []string{
		"vigil.yml:16: services[0].features[0].checks[0].http.oauth2.grant_type: ",
		"vigil.yml:27: services[0].features[0].checks[1].http.no_proxy: cannot be set with proxy_from_environment",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the client secret: %v", err)
	}
}
