package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// TestReportCommandFormats runs `vigil report` on a real store with a
// config whose sla: block gives contract figures: every format twice gives
// the same bytes, and the digest is the SHA-256 of --format=records.
func TestReportCommandFormats(t *testing.T) {
	dir := t.TempDir()
	storage := filepath.Join(dir, "data")
	e, err := sla.Open(sla.Options{Path: storage, Region: "kr-central-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Configure([]sla.FeatureSpec{{Service: "talk", Feature: "send", Objective: 0.999, Window: 30 * 24 * time.Hour,
		FailureThreshold: 1, RecoveryThreshold: 1, Checks: []sla.CheckSpec{{Name: "api", Kind: "http", Interval: time.Hour, Timeout: time.Second}}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "vigil.yml")
	if err := os.WriteFile(cfg, []byte(`agent: {region: kr-central-1}
services:
  - name: talk
    sla: {objective: 99.5, timezone: Asia/Seoul, covered_hours: ["Mon-Fri 09:00-18:00"], credits: [{below: 99.5, credit: 10}]}
    features:
      - {name: send, checks: [{name: api, http: {url: "http://127.0.0.1:1/"}}]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []byte {
		t.Helper()
		args = append([]string{"report", "--storage.path=" + storage, "--config.file=" + cfg, "--from=2026-11", "--to=2026-11"}, args...)
		cmd := exec.Command(vigilBin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("vigil %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}
	for format, prefix := range map[string]string{"markdown": "# SLA report", "csv": "region,", "json": "{", "html": "<!DOCTYPE html>", "pdf": "%PDF-"} {
		a, b := run("--format="+format), run("--format="+format)
		if !bytes.HasPrefix(a, []byte(prefix)) || !bytes.Equal(a, b) {
			t.Errorf("--format=%s: %.20q, same bytes twice: %v", format, a, bytes.Equal(a, b))
		}
	}
	sum := sha256.Sum256(run("--format=records"))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	md := run("--format=markdown")
	if !bytes.Contains(md, []byte(digest)) || !bytes.Contains(md, []byte("Mon-Fri 09:00-18:00 Asia/Seoul")) {
		t.Errorf("markdown lacks the digest %s of --format=records or the contract:\n%s", digest, md)
	}
	if got := run("--format=json", "--generated-at=2026-12-01T09:00:00+09:00"); !bytes.Contains(got, []byte(`"generated_at": "2026-12-01T00:00:00Z"`)) {
		t.Errorf("--generated-at not used:\n%.300s", got)
	}
	cmd := exec.Command(vigilBin, "report", "--storage.path="+storage, "--config.file="+filepath.Join(dir, "none.yml"))
	if out, _ := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 1 || !bytes.Contains(out, []byte("none.yml")) {
		t.Errorf("missing --config.file: exit %d %s", cmd.ProcessState.ExitCode(), out)
	}
}
