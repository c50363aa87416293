package agent

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// request is what a loopback target saw of one probe.
type request struct{ path, marker, authorization string }

// recordingTarget answers 200 and sends every request it sees to a channel
// (dropping them when the test is not reading).
func recordingTarget(t *testing.T) (*httptest.Server, <-chan request) {
	t.Helper()
	seen := make(chan request, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case seen <- request{r.URL.Path, r.Header.Get("X-Marker"), r.Header.Get("Authorization")}:
		default:
		}
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

// waitFor reads requests until one satisfies want, or fails at the deadline.
func waitFor(t *testing.T, seen <-chan request, limit time.Duration, what string, want func(request) bool) {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	var last request
	for {
		select {
		case r := <-seen:
			if want(r) {
				return
			}
			last = r
		case <-deadline.C:
			t.Fatalf("no request %s within %s (last seen: %+v)", what, limit, last)
		}
	}
}

func startAgent(t *testing.T, cfgFile string) *Agent {
	t.Helper()
	a, err := New(Options{ConfigFile: cfgFile, StoragePath: filepath.Join(filepath.Dir(cfgFile), "data")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return a
}

// TestReloadFollowsAliases: a check that takes its settings through a YAML
// alias is rebuilt when the anchor changes (issue 14: it kept probing with the
// old settings because its fingerprint hashed the alias, not what it names).
func TestReloadFollowsAliases(t *testing.T) {
	srv, seen := recordingTarget(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	config := func(marker string) string {
		return fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 100ms, timeout: 50ms}
services:
  - name: talk
    features:
      - name: send
        checks:
          - name: a
            http: {url: "%[1]s/a", headers: &marker {X-Marker: %[2]s}}
          - name: b
            http: {url: "%[1]s/b", headers: *marker}
`, srv.URL, marker)
	}
	writeFile(t, cfgFile, config("before"))
	a := startAgent(t, cfgFile)
	waitFor(t, seen, 5*time.Second, "from b before the reload", func(r request) bool { return r.path == "/b" && r.marker == "before" })

	writeFile(t, cfgFile, config("after"))
	if err := a.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	waitFor(t, seen, 5*time.Second, "from the aliased check b with the anchor's new value", func(r request) bool {
		return r.path == "/b" && r.marker == "after"
	})
}

// TestReloadRereadsSecretFiles: rewriting a bearer_token_file and reloading
// (the config itself unchanged) sends the new token from the next request on.
func TestReloadRereadsSecretFiles(t *testing.T) {
	srv, seen := recordingTarget(t)
	dir := t.TempDir()
	cfgFile, tokenFile := filepath.Join(dir, "vigil.yml"), filepath.Join(dir, "token")
	writeFile(t, tokenFile, "old-token\n")
	writeFile(t, cfgFile, fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 100ms, timeout: 50ms}
services:
  - name: talk
    features:
      - name: send
        checks:
          - name: api
            http: {url: "%s/api", bearer_token_file: %q}
`, srv.URL, tokenFile))
	a := startAgent(t, cfgFile)
	waitFor(t, seen, 5*time.Second, "with the old token", func(r request) bool { return r.authorization == "Bearer old-token" })

	writeFile(t, tokenFile, "new-token\n")
	if err := a.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	waitFor(t, seen, 5*time.Second, "with the rewritten token", func(r request) bool {
		return strings.HasSuffix(r.authorization, "new-token")
	})
}
