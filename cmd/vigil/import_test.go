package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportBlackbox runs `vigil import blackbox` on the realistic test
// files, then `vigil --config.check` on what it wrote; and the usage errors.
func TestImportBlackbox(t *testing.T) {
	testdata := filepath.Join("..", "..", "internal", "blackboximport", "testdata", "realistic")
	var stdout, stderr bytes.Buffer
	code := run([]string{"import", "blackbox", "--modules", filepath.Join(testdata, "blackbox.yml"),
		"--prometheus", filepath.Join(testdata, "prometheus.yml"), "--region", "kr-south-1"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr.String())
	}
	if !strings.HasSuffix(stderr.String(), "vigil import blackbox: 9 checks imported\n") {
		t.Errorf("stderr does not end with the count:\n%s", stderr.String())
	}
	out := filepath.Join(t.TempDir(), "vigil.yml")
	if err := os.WriteFile(out, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var checkOut, checkErr bytes.Buffer
	if code := run([]string{"--config.check", "--config.file=" + out}, &checkOut, &checkErr); code != exitOK {
		t.Fatalf("--config.check exit %d:\n%s%s", code, checkOut.String(), checkErr.String())
	}
	if got := checkOut.String() + checkErr.String(); !strings.Contains(got, "ok, 3 services, 9 checks") {
		t.Errorf("--config.check says %q, want ok, 3 services, 9 checks", got)
	}
	if !strings.Contains(stdout.String(), "  region: kr-south-1\n") {
		t.Errorf("--region not used:\n%s", stdout.String())
	}

	usage := []struct {
		args []string
		want string
	}{
		{[]string{"import"}, "vigil import blackbox --modules"},
		{[]string{"import", "blackbox", "--prometheus", "p.yml"}, "--modules is required"},
		{[]string{"import", "blackbox", "--modules", "b.yml"}, "--prometheus is required: blackbox.yml holds modules (how to probe), not targets (what to probe)"},
	}
	for _, u := range usage {
		var so, se bytes.Buffer
		if code := run(u.args, &so, &se); code != exitUsage || !strings.Contains(se.String(), u.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", u.args, code, se.String(), exitUsage, u.want)
		}
	}
}
