package workload

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/internal/schedule"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPlannedAndLateness(t *testing.T) {
	c := HTTP(2, 10*time.Second, 0, 0, []string{"127.0.0.2:1"}, nil).Checks[1]
	off := c.Offset
	if c.ID != "svc000/f00001/http" || off != schedule.Offset(c.ID, c.Interval, 25*time.Millisecond) {
		t.Fatalf("%s: Offset = %v, want the agent's on a 25 ms grid (0.2 runs a second)", c.ID, off)
	}
	if c.Spread != schedule.Offset(c.ID, c.Interval, 0) || c.Spread < off || c.Spread-off >= 25*time.Millisecond {
		t.Fatalf("%s: Spread = %v, want the offset before rounding (%v)", c.ID, c.Spread, schedule.Offset(c.ID, c.Interval, 0))
	}
	// A slot: a wall-clock multiple of the interval plus the offset.
	slot := time.Unix(1_800_000_000, 0).Add(off)
	tests := []struct {
		name     string
		from, to time.Time
		want     int64
	}{
		{"slot at the end counts", slot.Add(-time.Second), slot, 1},
		{"slot at the start does not", slot, slot.Add(time.Second), 0},
		{"one interval holds one slot", slot.Add(-time.Millisecond), slot.Add(c.Interval - time.Millisecond), 1},
		{"three intervals", slot.Add(-time.Millisecond), slot.Add(3*c.Interval - time.Millisecond), 3},
		{"empty window", slot, slot, 0},
		{"backwards window", slot, slot.Add(-time.Minute), 0},
	}
	for _, tt := range tests {
		if got := Planned(c, tt.from, tt.to); got != tt.want {
			t.Errorf("%s: Planned = %d, want %d", tt.name, got, tt.want)
		}
	}
	for _, late := range []time.Duration{0, 3 * time.Millisecond, 9 * time.Second} {
		if got := Lateness(c, slot.Add(2*c.Interval+late)); got != late {
			t.Errorf("Lateness(slot+2i+%v) = %v", late, got)
		}
	}
	if floorDiv(-1, 10) != -1 || floorMod(-1, 10) != 9 || floorDiv(10, 10) != 1 {
		t.Error("floorDiv/floorMod do not round down")
	}
}

func TestHTTPWorkload(t *testing.T) {
	w := HTTP(250, 10*time.Second, 4, 30*time.Second, []string{"127.0.0.2:1", "127.0.0.3:2"}, []string{"127.0.0.10:5", "127.0.0.10:6"})
	if len(w.Checks) != 254 {
		t.Fatalf("%d checks, want 254", len(w.Checks))
	}
	if got, want := w.Rate(), 25+4.0/30; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("Rate = %v, want %v", got, want)
	}
	if c := w.Checks[101]; c.ID != "svc001/f00101/http" || c.Target != "http://127.0.0.3:2/" || c.Fidelity {
		t.Errorf("check 101 = %+v", c)
	}
	if c := w.Checks[253]; c.ID != "fidelity/slow003/http" || c.Target != "http://127.0.0.10:6/slow50" || !c.Fidelity || c.Interval != 30*time.Second {
		t.Errorf("last check = %+v", c)
	}
}

// TestTCPAndICMPWorkloads checks the ids, targets and offsets of the issue 18
// workloads.
func TestTCPAndICMPWorkloads(t *testing.T) {
	tcp := TCP(250, 10*time.Second, []string{"127.0.0.2:1", "127.0.0.3:2"})
	icmp := ICMP(250, 10*time.Second, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"})
	for _, tt := range []struct {
		w          *Workload
		id, target string
	}{{tcp, "tcp001/f00101/tcp", "127.0.0.3:2"}, {icmp, "icmp001/f00101/icmp", "127.0.0.4"}} {
		if len(tt.w.Checks) != 250 || tt.w.Rate() < 24.999 || tt.w.Rate() > 25.001 {
			t.Errorf("%s: %d checks at %v/s, want 250 at 25/s", tt.w.Kind, len(tt.w.Checks), tt.w.Rate())
		}
		c := tt.w.Checks[101]
		if c.ID != tt.id || c.Target != tt.target || c.Offset != schedule.Offset(c.ID, c.Interval, schedule.Grid(25)) {
			t.Errorf("%s: check 101 = %+v, want %s on %s at the agent's offset", tt.w.Kind, c, tt.id, tt.target)
		}
	}
}

// TestVigilConfigLoads checks the generated configs with Vigil's own loader.
func TestVigilConfigLoads(t *testing.T) {
	addrs := []string{"127.0.0.2:8001"}
	for _, w := range []*Workload{HTTP(150, 10*time.Second, 2, 30*time.Second, addrs, nil), DNS(120, time.Second, addrs),
		TCP(130, 10*time.Second, addrs), ICMP(110, 10*time.Second, []string{"127.0.0.2", "127.0.0.3"})} {
		t.Run(w.Kind, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vigil.yml")
			if err := os.WriteFile(path, []byte(VigilConfig(w)), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatalf("generated config does not load: %v", err)
			}
			refs := cfg.Checks()
			if len(refs) != len(w.Checks) {
				t.Fatalf("%d checks loaded, want %d", len(refs), len(w.Checks))
			}
			for i, ref := range refs {
				c := w.Checks[i]
				if ref.ID != c.ID || ref.Interval != c.Interval || ref.Timeout != w.Timeout || ref.Check.Kind() != w.Kind {
					t.Fatalf("check %d loaded as %s every %v (timeout %v, %s), want %s every %v (timeout %v, %s)",
						i, ref.ID, ref.Interval, ref.Timeout, ref.Check.Kind(), c.ID, c.Interval, w.Timeout, w.Kind)
				}
			}
		})
	}
}

// TestBlackboxConfigChecks has blackbox_exporter validate its config.
func TestBlackboxConfigChecks(t *testing.T) {
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
	path := filepath.Join(t.TempDir(), "blackbox.yml")
	if err := os.WriteFile(path, []byte(BlackboxConfig(5*time.Second, 800*time.Millisecond)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--config.check", "--config.file="+path).CombinedOutput()
	if err != nil {
		t.Fatalf("blackbox_exporter --config.check: %v\n%s", err, out)
	}
}
