package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-monitoring/vigil/internal/globalview"
	"github.com/vigil-monitoring/vigil/internal/testenv"
)

// TestGlobalConfigErrorsExit1: a mistake in vigil global's file is
// reported with file, line and key, exit 1.
func TestGlobalConfigErrorsExit1(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "global.yml")
	if err := os.WriteFile(cfg, []byte("nats:\n  url: nats://127.0.0.1:4222\nmin_region: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(vigilBin, "global", "--config.file="+cfg).CombinedOutput()
	if code := exitCode(err); code != 1 || !strings.Contains(string(out), cfg+`:3: min_region: unknown key "min_region" (did you mean "min_regions"?)`) {
		t.Errorf("exit %d, output %s; want 1 and the file, line and key", code, out)
	}
	out, err = exec.Command(vigilBin, "report", "--scope=global").CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "needs --nats.url or --config.file") {
		t.Errorf("report --scope=global without a source: exit %d, %s; want 2", code, out)
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestGlobalRoleFollowsTwoRealAgents: two vigil agents (regions a and b)
// publish to a stream of this test; `vigil global` shows the feature up
// in both regions on its API and /metrics, and `vigil report
// --scope=global` replays the stream into a report naming both regions.
func TestGlobalRoleFollowsTwoRealAgents(t *testing.T) {
	natsURL := requireNATS(t)
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	stream, prefix := "VIGILCMDTEST_"+strings.ToUpper(id), "vct"+id
	t.Cleanup(func() { deleteTestStream(t, natsURL, stream) })
	target := http.NewServeMux()
	target.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	api := startLoopbackHTTP(t, target)
	dir := t.TempDir()
	for _, region := range []string{"a", "b"} {
		cfg := fmt.Sprintf(`agent: {region: %s}
global: {url: %q, stream: %s, subject_prefix: %s}
defaults: {interval: 1s, timeout: 500ms, failure_threshold: 1, recovery_threshold: 1}
services:
  - name: talk
    features:
      - name: send
        checks: [{name: api, http: {url: %q}}]
`, region, natsURL, stream, prefix, api)
		startProcess(t, filepath.Join(dir, region), []byte(cfg), "--config.file=%s", "--web.listen-address="+testenv.FreeAddr(t),
			"--storage.path="+filepath.Join(dir, region, "data"))
	}
	addr := testenv.FreeAddr(t)
	startProcess(t, filepath.Join(dir, "global"), []byte(fmt.Sprintf("nats: {url: %q, stream: %s, subject_prefix: %s}\n",
		natsURL, stream, prefix)), "global", "--config.file=%s", "--web.listen-address="+addr)

	var body struct {
		Features []globalview.FeatureStatus `json:"features"`
		CaughtUp bool                       `json:"caught_up"`
	}
	testenv.WaitFor(t, 30*time.Second, "talk/send up in regions a and b", func() bool {
		resp, err := http.Get("http://" + addr + "/api/v1/global/features")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if json.NewDecoder(resp.Body).Decode(&body) != nil || len(body.Features) != 1 {
			return false
		}
		f := body.Features[0]
		return f.State == globalview.StateUp && len(f.Regions) == 2 && f.Regions[0].State == "up" && f.Regions[1].State == "up"
	})
	metrics := scrape(addr)
	for _, want := range []string{
		`vigil_global_feature_state{feature="send",service="talk",state="up"} 1`,
		`vigil_global_region_state{feature="send",region="b",service="talk",state="up"} 1`,
		`vigil_global_agent_last_heartbeat_timestamp_seconds{agent="a-0",region="a"}`,
		`vigil_global_replay_caught_up 1`,
		`vigil_build_info{`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("vigil global's /metrics lacks %s", want)
		}
	}
	out, err := exec.Command(vigilBin, "report", "--scope=global", "--nats.url="+natsURL, "--nats.stream="+stream,
		"--nats.subject-prefix="+prefix, "--from=1h", "--format=json").Output()
	if err != nil {
		t.Fatalf("vigil report --scope=global: %v %s", err, stderrOf(err))
	}
	var rep globalview.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if strings.Join(rep.Regions, ",") != "a,b" || len(rep.Features) != 1 || rep.Features[0].DowntimeSeconds != 0 {
		t.Errorf("global report: %s", out)
	}
}

// startProcess writes cfg to dir/<name>.yml and runs vigil with args
// (%s in an arg is the config's path) until the test ends.
func startProcess(t *testing.T, dir string, cfg []byte, args ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(file, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	for i, a := range args {
		args[i] = strings.Replace(a, "%s", file, 1)
	}
	var stderr syncBuffer
	cmd := exec.Command(vigilBin, args...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("vigil %s:\n%s", strings.Join(args, " "), stderr.String())
		}
	})
}

func startLoopbackHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	addr := testenv.FreeAddr(t)
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.ListenAndServe() }()
	t.Cleanup(func() { _ = srv.Close() })
	testenv.WaitFor(t, 5*time.Second, "the target", func() bool {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return err == nil
	})
	return "http://" + addr + "/health"
}

func deleteTestStream(t *testing.T, url, stream string) {
	nc, err := nats.Connect(url)
	if err != nil {
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = js.DeleteStream(ctx, stream)
}
