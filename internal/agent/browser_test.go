package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/internal/web"
	"github.com/vigil-monitoring/vigil/sla"
)

// TestBrowserCheckScreenshot: the real agent runs a browser check in the
// real Chromium against a loopback page whose element never shows: the
// check fails, /api/v1/features names the screenshot and /artifacts serves
// it as a PNG; after shutdown no browser of the agent's pool is left.
func TestBrowserCheckScreenshot(t *testing.T) {
	testenv.NeedTool(t, "chromium", "chromium")
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><title>map</title><h1>Kakao Map</h1>`)
	}))
	defer page.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	writeFile(t, cfgFile, fmt.Sprintf(`agent: {region: kr-central-1, browser: {max_concurrent: 1}}
defaults: {interval: 30s, timeout: 4s, failure_threshold: 1}
services:
  - name: map
    features:
      - name: roadview
        checks:
          - name: page
            browser:
              url: "%s/map"
              steps: [{wait_visible: "#roadview"}]
`, page.URL))
	a, err := New(Options{ConfigFile: cfgFile, StoragePath: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	prefix := a.browser.ProfilePrefix()
	opts, err := a.WebOptions(web.Options{ListenAddress: "127.0.0.1:0"}, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := web.New(a, opts)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	var check sla.CheckStatus
	testenv.WaitFor(t, 60*time.Second, "a failed browser run with a screenshot", func() bool {
		_, body := get(t, "http://"+srv.Addr()+"/api/v1/features")
		var fs struct{ Features []sla.FeatureStatus }
		if json.Unmarshal([]byte(body), &fs) != nil || len(fs.Features) != 1 || len(fs.Features[0].Checks) != 1 {
			return false
		}
		check = fs.Features[0].Checks[0]
		return check.LastRun != nil
	})
	if check.Up || !strings.Contains(check.Error, `wait_visible "#roadview"`) || check.Screenshot == "" {
		t.Fatalf("check %+v, want a failed wait_visible with a screenshot", check)
	}
	resp, err := http.Get("http://" + srv.Addr() + "/artifacts/" + check.Screenshot)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 8)
	n, _ := resp.Body.Read(head)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || string(head[:n]) != "\x89PNG\r\n\x1a\n" {
		t.Errorf("artifact: %d %s %q, want a PNG", resp.StatusCode, resp.Header.Get("Content-Type"), head[:n])
	}
	if code, _ := get(t, "http://"+srv.Addr()+"/artifacts/..%2Fvigil.yml"); code != 404 {
		t.Errorf("artifact outside the directory: %d, want 404", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if left := processesUnder(prefix); len(left) > 0 {
		t.Errorf("browser processes left after shutdown: %v", left)
	}
}

// processesUnder lists the pids whose command line names a path under prefix.
func processesUnder(prefix string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmd), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}
