package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// TestDamagedStoreExits1: the agent and `vigil report` on a store whose
// page headers were overwritten, cut in half or empty exit 1 with what to
// do, not 2 with a panic.
func TestDamagedStoreExits1(t *testing.T) {
	good := func(t *testing.T, dir string) []byte {
		clock := &fixedClock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
		e, err := sla.Open(sla.Options{Path: dir, Region: "kr-central-1", Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		var specs []sla.FeatureSpec
		for _, name := range []string{"message", "drawer", "rooms", "channel", "mail", "map"} {
			specs = append(specs, sla.FeatureSpec{Service: "talk", Feature: name, Objective: 0.999, Window: 30 * 24 * time.Hour,
				FailureThreshold: 1, RecoveryThreshold: 1,
				Checks: []sla.CheckSpec{{Name: "api", Kind: "http", Interval: 10 * time.Second, Timeout: 5 * time.Second}}})
		}
		if err := e.Configure(specs); err != nil {
			t.Fatal(err)
		}
		for i := range 6 {
			clock.t = clock.t.Add(10 * time.Second)
			for _, s := range specs {
				e.Observe("talk", s.Feature, "api", sla.Observation{Start: clock.t, Success: i%2 == 1, Error: "connection refused"})
			}
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, "vigil.db"))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}(t, t.TempDir())
	ps := os.Getpagesize()
	tests := []struct {
		name   string
		damage func([]byte) []byte
		want   string
	}{
		{"page headers overwritten", func(b []byte) []byte {
			for off := 2 * ps; off+16 <= len(b); off += ps {
				clear(b[off : off+16])
			}
			return b
		}, "file is damaged (page "},
		{"cut in half", func(b []byte) []byte { return b[:len(b)/2] }, "file is damaged (cut off: "},
		{"empty", func([]byte) []byte { return nil }, "is empty (0 bytes): it was probably cut off by a crash or a full disk"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "vigil.db")
			if err := os.WriteFile(file, tc.damage(append([]byte(nil), good...)), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"report", "--storage.path=" + dir},
				{"--config.file=../../examples/minimal.yml", "--storage.path=" + dir, "--web.listen-address=127.0.0.1:0"},
			} {
				// An agent that takes the store for a good one keeps running.
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, vigilBin, args...)
				out, _ := cmd.CombinedOutput()
				hint := "restore it from a backup"
				if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), file) ||
					!strings.Contains(string(out), tc.want) || !strings.Contains(string(out), hint) || strings.Contains(string(out), "panic") {
					t.Errorf("vigil %s: exit %d, output:\n%s\nwant exit 1 naming %s with %q and %q", strings.Join(args, " "), code, out, file, tc.want, hint)
				}
			}
		})
	}
}
