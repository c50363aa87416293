package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// billionLaughs is the classic alias bomb: nine levels of nine aliases, a
// billion nodes from a file of about a kilobyte, under key (indented by
// indent) so that the walk reaches it.
func billionLaughs(levels int) string {
	var b strings.Builder
	b.WriteString(`l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [", i, i)
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// bombs places the bomb where each part of loading would expand it.
func bombs() map[string]string {
	laughs := billionLaughs(9)
	indented := "    " + strings.ReplaceAll(strings.TrimSpace(laughs), "\n", "\n    ")
	return map[string]string{
		"top level": laughs,
		"in a feature's labels": "agent: {region: r}\nservices:\n  - name: s\n    features:\n      - name: f\n        labels:\n" +
			strings.ReplaceAll(indented, "    ", "          ") + "\n        checks: *l8\n",
		"schema shaped": schemaBomb(),
	}
}

// schemaBomb is a bomb every level of which is valid config: 30 services of 30
// features of 30 checks of an http block, 27,000 checks from 2 KB.
func schemaBomb() string {
	var b strings.Builder
	b.WriteString("agent: {region: r}\nservices:\n  - name: s0\n    features:\n      - name: f0\n        checks:\n")
	b.WriteString("          - &c {name: c, http: {url: \"http://127.0.0.1/\", valid_status_codes: [200, 201, 202]}}\n")
	for i := 1; i < 30; i++ {
		b.WriteString("          - *c\n")
	}
	b.WriteString("      - &f {name: f1, checks: [")
	for i := 0; i < 30; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("*c")
	}
	b.WriteString("]}\n")
	for i := 1; i < 30; i++ {
		b.WriteString("      - *f\n")
	}
	b.WriteString("  - &s {name: s1, features: [")
	for i := 0; i < 30; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("*f")
	}
	b.WriteString("]}\n")
	for i := 1; i < 30; i++ {
		b.WriteString("  - *s\n")
	}
	return b.String()
}

// TestAliasBombFailsFast: an alias bomb is refused with the file, line and key
// of the alias that passed the limit, and refusing it costs little memory
// (measured as bytes allocated, not time).
func TestAliasBombFailsFast(t *testing.T) {
	for name, yml := range bombs() {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Parse("vigil.yml", []byte(yml))
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("an alias bomb was accepted")
			}
			if !strings.Contains(err.Error(), "nodes through aliases (alias bomb?)") || !strings.HasPrefix(err.Error(), "vigil.yml:") {
				t.Errorf("error %q does not name the alias bomb with file and line", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 50<<20 {
				t.Errorf("refusing a %d-byte bomb allocated %d MB, want < 50 MB", len(yml), alloc>>20)
			}
			t.Logf("%d bytes: %v", len(yml), err)
		})
	}
}

// TestSharedAnchorWithinLimit: sharing an http block among 10,000 checks is
// what anchors are for, and stays well inside the alias limit.
func TestSharedAnchorWithinLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("agent: {region: r}\nservices:\n  - name: s\n    features:\n      - name: f\n        checks:\n")
	b.WriteString(`          - {name: c0, http: &h {url: "http://127.0.0.1/", method: GET, valid_status_codes: [200, 204], headers: {Accept: application/json, X-Probe: vigil}, fail_if_body_not_matches_regexp: ['ok']}}` + "\n")
	for i := 1; i < 10000; i++ {
		fmt.Fprintf(&b, "          - {name: c%d, http: *h}\n", i)
	}
	cfg, err := Parse("vigil.yml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cfg.Checks()); n != 10000 {
		t.Fatalf("got %d checks, want 10000", n)
	}
}

func TestAliasCycleAndSizeRefused(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"cycle", "agent: {region: r}\nservices: &s [*s]\n", "vigil.yml:2: services[0]: alias *s refers to a node that contains it"},
		{"too large", "agent: {region: r}\n#" + strings.Repeat("x", MaxConfigBytes) + "\n", "vigil.yml: config is larger than 16 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("vigil.yml", []byte(tt.yaml))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

// TestReadConfigBounded: the file is read whole when it fits, to one byte
// past the bound when it does not, whatever its size against the buffer
// sized from Stat.
func TestReadConfigBounded(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 511, 512, 513, 100_000, MaxConfigBytes, MaxConfigBytes + 1, MaxConfigBytes + 4096} {
		file := filepath.Join(dir, fmt.Sprintf("c%d.yml", n))
		data := bytes.Repeat([]byte("x"), n)
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readConfig(file)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(n, MaxConfigBytes+1); len(got) != want || !bytes.Equal(got, data[:want]) {
			t.Errorf("%d bytes: read %d, want %d", n, len(got), want)
		}
	}
	if _, err := Load(filepath.Join(dir, fmt.Sprintf("c%d.yml", MaxConfigBytes+1))); err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Errorf("Load of a file past the bound: %v", err)
	}
}
