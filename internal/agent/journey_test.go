package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/web"
)

// jsonText undoes encoding/json's escapes of <, > and &.
var jsonText = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")

// TestJourneySecretsStayHidden runs a journey whose login token (extracted,
// secret: true) and password (from the environment) a failing step echoes in
// its URL: neither appears in the logs, /api, /metrics or the status page,
// which show <secret> instead. Issue 19's secrets test.
func TestJourneySecretsStayHidden(t *testing.T) {
	const password = "agent-journey-password"
	t.Setenv("VIGIL_AGENT_JOURNEY_PASSWORD", password)
	var mu sync.Mutex
	var tokens []string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			var b [16]byte
			rand.Read(b[:])
			token := hex.EncodeToString(b[:])
			mu.Lock()
			tokens = append(tokens, token)
			mu.Unlock()
			fmt.Fprintf(w, `{"token":%q}`, token)
		default:
			http.Error(w, "no", http.StatusForbidden)
		}
	}))
	defer app.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	writeFile(t, cfgFile, fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 200ms, timeout: 150ms, failure_threshold: 1}
services:
  - name: talk
    features:
      - name: message-send-receive
        checks:
          - name: flow
            journey:
              steps:
                - name: login
                  http: {url: "%[1]s/login", method: POST, body: '{"password":"${VIGIL_AGENT_JOURNEY_PASSWORD}"}'}
                  extract: [{var: token, json: "$.token", secret: true}]
                - name: send
                  http: {url: "%[1]s/send?token=${token}&pw=${VIGIL_AGENT_JOURNEY_PASSWORD}"}
`, app.URL))
	var logs lockedBuffer
	a, err := New(Options{ConfigFile: cfgFile, StoragePath: filepath.Join(dir, "data"),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	srv := web.New(a, web.Options{ListenAddress: "127.0.0.1:0", Region: "kr-central-1"})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()
	base := "http://" + srv.Addr()
	want := "step 2 send: GET " + app.URL + "/send?token=<secret>&pw=<secret>: status 403 not 2xx"
	eventually(t, 5*time.Second, "the journey's error in /api", func() bool {
		_, body := get(t, base+"/api/v1/features")
		return strings.Contains(jsonText.Replace(body), want)
	})
	_, api := get(t, base+"/api/v1/features")
	api = jsonText.Replace(api)
	_, metrics := get(t, base+"/metrics")
	_, page := get(t, base+"/")
	if !strings.Contains(metrics, `vigil_journey_step_up{check="flow",feature="message-send-receive",kind="journey",region="kr-central-1",service="talk",step="send"} 0`) {
		t.Errorf("/metrics lacks the failing step's series")
	}
	if !strings.Contains(logs.String(), "&pw=<secret>") {
		t.Errorf("the logs lack the redacted error:\n%s", logs.String())
	}
	mu.Lock()
	secrets := append([]string{password}, tokens...)
	mu.Unlock()
	if len(secrets) < 2 {
		t.Fatal("no token was issued")
	}
	for where, text := range map[string]string{"logs": logs.String(), "/api/v1/features": api, "/metrics": metrics, "the status page": page} {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("secret %q appears in %s", s, where)
			}
		}
	}
}
