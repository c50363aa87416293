package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSLOCommand: export to OpenSLO and import it back through the
// command line, and the exit codes of bad use.
func TestSLOCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vigil.yml")
	if err := os.WriteFile(cfg, []byte(`agent: {region: kr-central-1}
services:
  - name: pay
    features:
      - name: transfer
        slo: {objective: 99.95, window: calendar-month, timezone: Asia/Seoul}
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"slo", "export", "--format=openslo", "--config.file=" + cfg}, &out, &errOut); code != exitOK {
		t.Fatalf("export: exit %d: %s", code, errOut.String())
	}
	slos := filepath.Join(dir, "slos.yaml")
	if err := os.WriteFile(slos, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"slo", "import", "--format=openslo", slos}, &out, &errOut); code != exitOK {
		t.Fatalf("import: exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"name: pay", "name: transfer", "objective: 99.95", "window: calendar-month", "timezone: Asia/Seoul"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("fragment lacks %q:\n%s", want, out.String())
		}
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec: {service: s, budgetingMethod: Occurrences, timeWindow: [{duration: 30d, isRolling: true}], objectives: [{target: 2}]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"slo"}, exitUsage, "usage:"},
		{[]string{"slo", "export", "--format=nobl9", "--config.file=" + cfg}, exitUsage, "--format must be one of openslo, sloth, pyrra"},
		{[]string{"slo", "import", "--format=sloth", slos}, exitUsage, "--format must be openslo"},
		{[]string{"slo", "import", "--format=openslo"}, exitUsage, "give one OpenSLO file"},
		{[]string{"slo", "import", "--format=openslo", bad}, exitFailure, bad + ": document 1 (line 4): spec.objectives[0].target: \"2\" is not a ratio"},
		{[]string{"slo", "export", "--format=sloth", "--config.file=" + cfg}, exitOK, "note: pay/transfer: window calendar-month in Asia/Seoul: Sloth's spec has no window"},
	}
	for _, c := range cases {
		out.Reset()
		errOut.Reset()
		if code := run(c.args, &out, &errOut); code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("vigil %s: exit %d, stderr %q; want %d and %q", strings.Join(c.args, " "), code, errOut.String(), c.code, c.want)
		}
	}
}
