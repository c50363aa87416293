package driver

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/bench/internal/target"
	"github.com/vigil-monitoring/vigil/bench/internal/workload"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestReadProbeResult(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		success bool
		dur     float64
		wantErr bool
	}{
		{"passed", "# HELP probe_success x\nprobe_success 1\nprobe_duration_seconds 0.0512\n", true, 0.0512, false},
		{"failed", "probe_duration_seconds 0.002\nprobe_success 0\n", false, 0.002, false},
		{"no duration", "probe_success 1\n", false, 0, true},
		{"bad duration", "probe_success 1\nprobe_duration_seconds x\n", false, 0, true},
	}
	for _, tt := range tests {
		ok, d, err := ReadProbeResult(strings.NewReader(tt.body))
		if (err != nil) != tt.wantErr || (!tt.wantErr && (ok != tt.success || d != tt.dur)) {
			t.Errorf("%s: got %v %v %v", tt.name, ok, d, err)
		}
	}
}

func TestNewRejects(t *testing.T) {
	good := Target{Module: "m", Target: "t", Interval: time.Second}
	for name, opts := range map[string]Options{
		"no exporter": {Targets: []Target{good}, Duration: time.Second},
		"no targets":  {Exporter: "http://127.0.0.1:1", Duration: time.Second},
		"bad offset":  {Exporter: "http://127.0.0.1:1", Duration: time.Second, Targets: []Target{{Interval: time.Second, Offset: time.Second}}},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

// TestRunAgainstBlackbox drives the real blackbox_exporter at targets that
// pass, one that answers in 50 ms and one that refuses connections.
func TestRunAgainstBlackbox(t *testing.T) {
	bin := os.Getenv("VIGIL_TEST_BLACKBOX")
	if bin == "" {
		bin = "/usr/bin/prometheus-blackbox-exporter"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("blackbox_exporter not found at %s (VIGIL_TEST_BLACKBOX): %v", bin, err)
		}
		t.Skipf("SKIPPING: blackbox_exporter not found at %s (set VIGIL_TEST_BLACKBOX): %v", bin, err)
	}
	servers, err := target.ServeHTTP([]string{"127.0.0.2"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer servers.Close()
	refused := closedPort(t)

	cfg := filepath.Join(t.TempDir(), "blackbox.yml")
	if err := os.WriteFile(cfg, []byte(workload.BlackboxConfig(2*time.Second, time.Second)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := closedPort(t)
	cmd := exec.Command(bin, "--config.file="+cfg, "--web.listen-address="+addr, "--log.level=warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	waitListening(t, addr)

	interval := 500 * time.Millisecond
	targets := []Target{
		{Module: "http_2xx", Target: "http://" + servers.Addrs[0] + "/", Interval: interval},
		{Module: "http_2xx", Target: "http://" + servers.Addrs[1] + "/", Interval: interval, Offset: 100 * time.Millisecond},
		{Module: "http_2xx", Target: "http://" + servers.Addrs[0] + target.SlowPath, Interval: interval, Offset: 200 * time.Millisecond, Fidelity: true},
		{Module: "http_2xx", Target: "http://" + refused + "/", Interval: interval, Offset: 300 * time.Millisecond},
	}
	d, err := New(Options{Exporter: "http://" + addr, Targets: targets, Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res := d.Run(context.Background())
	// Four slots per target in 2 s (offsets 0-300 ms, every 500 ms).
	if res.Sent != 16 || res.Succeeded != 12 || res.Failed != 4 || res.Errors != 0 || res.Skipped != 0 {
		t.Errorf("sent %d, succeeded %d, failed %d, errors %d, skipped %d; want 16, 12, 4, 0, 0 (first error: %s)",
			res.Sent, res.Succeeded, res.Failed, res.Errors, res.Skipped, res.FirstError)
	}
	if !strings.Contains(res.FirstError, refused) {
		t.Errorf("first error %q does not name the refusing target %s", res.FirstError, refused)
	}
	if len(res.FidelityDurations) != 4 {
		t.Fatalf("%d fidelity durations, want 4", len(res.FidelityDurations))
	}
	for _, dur := range res.FidelityDurations {
		if dur < target.SlowDelay.Seconds() || dur > 1 {
			t.Errorf("fidelity probe took %vs, want 0.05 to 1", dur)
		}
	}
}

// closedPort returns a loopback address nothing listens on (just closed).
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// waitListening polls addr until it accepts, for at most 10 s.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("blackbox_exporter not listening on %s within 10s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a starting process, bounded above
	}
}
