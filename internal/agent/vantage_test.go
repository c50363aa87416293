package agent

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/sla"
)

// The config's bounds and defaults are the engine's.
func TestConfigBoundsAreTheEngines(t *testing.T) {
	if config.MaxRuns != sla.MaxWindowRuns {
		t.Errorf("config.MaxRuns = %d, sla.MaxWindowRuns = %d", config.MaxRuns, sla.MaxWindowRuns)
	}
	if got := (sla.Flap{Changes: config.DefaultFlapChanges, Window: config.DefaultFlapWindow}); got != sla.DefaultFlap {
		t.Errorf("config's default flap %+v, sla.DefaultFlap %+v", got, sla.DefaultFlap)
	}
}

const confirmationConfig = `agent:
  region: kr-central-1
  canary_require: quorum(1)
  canaries:
    - name: gateway
      failure_threshold: 1
      tcp: {target: "127.0.0.1:1"}
    - name: resolver
      failure_window: {failures: 2, runs: 3}
      dns: {server: "127.0.0.1:53", query_name: example.com}
defaults: {failure_threshold: 3, recovery_threshold: 4, flap: {changes: 8}}
services:
  - name: talk
    features:
      - name: send
        failure_window: {failures: 3, runs: 5}
        flap: {window: 1h}
        checks:
          - name: a
            http: {url: "http://127.0.0.1:8080/a"}
          - name: b
            failure_threshold: 2
            recovery_threshold: 1
            http: {url: "http://127.0.0.1:8080/b"}
`

// TestSpecsCarryConfirmation: FeatureSpecs and VantageSpec hand the engine
// each check's resolved thresholds and window, the feature's flap, and the
// canaries with their requirement.
func TestSpecsCarryConfirmation(t *testing.T) {
	cfg, err := config.Parse("vigil.yml", []byte(confirmationConfig))
	if err != nil {
		t.Fatal(err)
	}
	features := FeatureSpecs(cfg.Checks())
	if len(features) != 1 {
		t.Fatalf("got %d features, want 1", len(features))
	}
	f := features[0]
	if f.FailureThreshold != 3 || f.RecoveryThreshold != 4 || f.Flap != (sla.Flap{Changes: 8, Window: time.Hour}) {
		t.Errorf("feature thresholds %d/%d flap %+v, want 3/4 flap {8 1h}", f.FailureThreshold, f.RecoveryThreshold, f.Flap)
	}
	wantChecks := []sla.CheckSpec{
		{Name: "a", Kind: "http", Interval: 30 * time.Second, Timeout: 10 * time.Second,
			FailureThreshold: 3, RecoveryThreshold: 4, FailureWindow: sla.FailureWindow{Failures: 3, Runs: 5}},
		{Name: "b", Kind: "http", Interval: 30 * time.Second, Timeout: 10 * time.Second,
			FailureThreshold: 2, RecoveryThreshold: 1},
	}
	if fmt.Sprint(f.Checks) != fmt.Sprint(wantChecks) {
		t.Errorf("checks\n got %+v\nwant %+v", f.Checks, wantChecks)
	}

	v := VantageSpec(cfg.Canaries())
	want := sla.VantageSpec{
		Require:          sla.Require{Mode: sla.RequireQuorum, N: 1},
		FailureThreshold: 3, RecoveryThreshold: 4,
		Canaries: []sla.CheckSpec{
			{Name: "gateway", Kind: "tcp", Interval: 30 * time.Second, Timeout: 10 * time.Second, FailureThreshold: 1, RecoveryThreshold: 4},
			{Name: "resolver", Kind: "dns", Interval: 30 * time.Second, Timeout: 10 * time.Second,
				FailureThreshold: 3, RecoveryThreshold: 4, FailureWindow: sla.FailureWindow{Failures: 2, Runs: 3}},
		},
	}
	if fmt.Sprintf("%+v", v) != fmt.Sprintf("%+v", want) {
		t.Errorf("vantage\n got %+v\nwant %+v", v, want)
	}
	if v := VantageSpec(nil); len(v.Canaries) != 0 {
		t.Errorf("no canaries gave %+v, want the vantage off", v)
	}
}

// exposition is the agent's /metrics text.
func exposition(t *testing.T, a *Agent) string {
	t.Helper()
	var b bytes.Buffer
	if err := a.Exposition().Write(&b, false); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func canarySeries(name, check, kind string) string {
	return fmt.Sprintf(`%s{check=%q,feature="vantage",kind=%q,region="kr-central-1",service="_agent"}`, name, check, kind)
}

// TestCanaryRunsLikeACheck: a canary (a real loopback HTTP server) is
// scheduled and probed like any check, also in a shard that holds none of the
// features, its metrics carry service="_agent", feature="vantage", and its
// results reach the engine's vantage.
func TestCanaryRunsLikeACheck(t *testing.T) {
	var status atomic.Int32
	status.Store(200)
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(gateway.Close)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	writeFile(t, cfgFile, fmt.Sprintf(`agent:
  region: kr-central-1
  canaries:
    - name: gateway
      http: {url: "%[1]s/gw"}
defaults: {interval: 100ms, timeout: 50ms}
services:
  - name: talk
    features:
      - name: send
        checks:
          - name: api
            http: {url: "%[1]s/api"}
`, gateway.URL))
	// A shard without the feature: the canary runs in every shard.
	shard := &config.Shard{Count: 2}
	if inShard("talk/send", shard) {
		shard.Index = 1
	}
	a, err := New(Options{ConfigFile: cfgFile, StoragePath: filepath.Join(dir, "data"), Shard: shard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, a) })

	up := canarySeries("vigil_check_up", "gateway", "http")
	eventually(t, 5*time.Second, "the canary up in /metrics", func() bool {
		v, ok := metricValue(t, exposition(t, a), up)
		return ok && v == 1
	})
	body := exposition(t, a)
	if n, _ := metricValue(t, body, `vigil_checks_configured{region="kr-central-1"}`); n != 1 {
		t.Errorf("vigil_checks_configured = %v, want 1 (the canary; the feature is in the other shard)", n)
	}
	if strings.Contains(body, `service="talk"`) {
		t.Error("the other shard's feature is exported")
	}
	if a.sched.Len() != 1 {
		t.Errorf("%d jobs scheduled, want the canary alone", a.sched.Len())
	}

	eventually(t, 5*time.Second, "the canary's run in the engine's vantage", func() bool {
		v := a.Engine().Vantage()
		return len(v.Canaries) == 1 && v.Canaries[0].LastRun != nil
	})
	v := a.Engine().Vantage()
	if !v.Configured || !v.Up || v.Canaries[0].Name != "gateway" || v.Canaries[0].Kind != "http" || !v.Canaries[0].Up {
		t.Errorf("vantage = %+v, want configured, up, with canary gateway (http) up", v)
	}

	// The gateway fails: its failed runs reach the engine and impair the
	// vantage once confirmed (2 failed runs in a row, the default).
	status.Store(503)
	eventually(t, 5*time.Second, "the vantage impaired", func() bool { return !a.Engine().Vantage().Up })
	v = a.Engine().Vantage()
	if c := v.Canaries[0]; c.Up || !strings.Contains(c.Error, "503") {
		t.Errorf("canary = %+v, want down with the 503 as its error", c)
	}
	if !strings.Contains(v.Reason, "gateway") {
		t.Errorf("vantage reason %q does not name the canary", v.Reason)
	}
}

func shutdown(t *testing.T, a *Agent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestReloadChangesCanary: a reload that changes a canary rebuilds it (its
// probe sends the new settings), one that removes it stops it and drops its
// series, one that adds it back schedules it again.
func TestReloadChangesCanary(t *testing.T) {
	srv, seen := recordingTarget(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	config := func(canaries string) string {
		return fmt.Sprintf(`agent:
  region: kr-central-1
%[2]sdefaults: {interval: 100ms, timeout: 50ms}
services:
  - name: talk
    features:
      - name: send
        checks:
          - name: api
            http: {url: "%[1]s/api"}
`, srv.URL, canaries)
	}
	canary := func(marker string) string {
		return fmt.Sprintf("  canaries:\n    - name: gw\n      http: {url: \"%s/gw\", headers: {X-Marker: %s}}\n", srv.URL, marker)
	}
	writeFile(t, cfgFile, config(canary("before")))
	a := startAgent(t, cfgFile)
	waitFor(t, seen, 5*time.Second, "from the canary before the reload", func(r request) bool { return r.path == "/gw" && r.marker == "before" })

	writeFile(t, cfgFile, config(canary("after")))
	if err := a.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	waitFor(t, seen, 5*time.Second, "from the changed canary", func(r request) bool { return r.path == "/gw" && r.marker == "after" })
	if a.sched.Len() != 2 {
		t.Errorf("%d jobs after changing the canary, want 2", a.sched.Len())
	}

	up := canarySeries("vigil_check_up", "gw", "http")
	writeFile(t, cfgFile, config(""))
	if err := a.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if a.sched.Len() != 1 {
		t.Errorf("%d jobs after removing the canary, want 1", a.sched.Len())
	}
	if body := exposition(t, a); strings.Contains(body, `service="_agent"`) {
		t.Errorf("a removed canary is still exported (%s)", up)
	}
	if n, _ := metricValue(t, exposition(t, a), `vigil_checks_configured{region="kr-central-1"}`); n != 1 {
		t.Errorf("vigil_checks_configured = %v after removing the canary, want 1", n)
	}
	if v := a.Engine().Vantage(); v.Configured || len(v.Canaries) != 0 {
		t.Errorf("vantage after removing the canaries = %+v, want off", v)
	}

	writeFile(t, cfgFile, config(canary("again")))
	if err := a.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	waitFor(t, seen, 5*time.Second, "from the canary added back", func(r request) bool { return r.path == "/gw" && r.marker == "again" })
	eventually(t, 5*time.Second, "the canary added back exported", func() bool {
		v, ok := metricValue(t, exposition(t, a), up)
		return ok && v == 1
	})
	if v := a.Engine().Vantage(); !v.Configured || len(v.Canaries) != 1 || v.Canaries[0].Name != "gw" {
		t.Errorf("vantage after adding the canary back = %+v, want canary gw", v)
	}
}
