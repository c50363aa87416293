package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const anchored = `agent: {region: kr-central-1}
services:
  - name: talk
    features:
      - name: send
        checks:
          - name: a
            http: &h {url: "http://127.0.0.1:8080/health", valid_status_codes: [200]}
          - name: b
            http: *h
          - name: c
            http: {url: "http://127.0.0.1:8080/other"}
`

func fingerprints(t *testing.T, yml string) []string {
	t.Helper()
	cfg, err := Parse("vigil.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ref := range cfg.Checks() {
		out = append(out, ref.Check.Fingerprint)
	}
	return out
}

// TestFingerprintFollowsAliases: changing an anchor's URL changes the
// fingerprint of every check that uses it, the alias's too, and no other.
func TestFingerprintFollowsAliases(t *testing.T) {
	before := fingerprints(t, anchored)
	after := fingerprints(t, strings.Replace(anchored, "8080/health", "9090/health", 1))
	if before[0] == after[0] {
		t.Error("the check holding the anchor kept its fingerprint")
	}
	if before[1] == after[1] {
		t.Error("the check using the alias kept its fingerprint: a reload would keep probing the old URL")
	}
	if before[2] != after[2] {
		t.Error("an unrelated check got a new fingerprint")
	}
	// How it is written does not matter, only what it says.
	restyled := strings.Replace(anchored, `http: {url: "http://127.0.0.1:8080/other"}`, "http:\n              url: 'http://127.0.0.1:8080/other'  # same", 1)
	if got := fingerprints(t, restyled); got[2] != before[2] {
		t.Error("restyling a check changed its fingerprint")
	}
}

// TestFingerprintReadsSecretFiles: rewriting a file that a *_file key names
// changes the fingerprint of the checks that use it, so a reload rebuilds them.
func TestFingerprintReadsSecretFiles(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("old-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := fmt.Sprintf(`agent: {region: kr-central-1}
services:
  - name: talk
    features:
      - name: send
        checks:
          - name: a
            http: {url: "http://127.0.0.1:8080/", bearer_token_file: %q}
          - name: b
            http: {url: "http://127.0.0.1:8080/"}
`, token)
	before := fingerprints(t, yml)
	if err := os.WriteFile(token, []byte("new-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	after := fingerprints(t, yml)
	if before[0] == after[0] {
		t.Error("rewriting bearer_token_file kept the check's fingerprint: a reload would keep the old token")
	}
	if before[1] != after[1] {
		t.Error("a check without the file got a new fingerprint")
	}
}

// TestFingerprintsAreCheap: fingerprints are hashed from the node tree, not
// marshalled to YAML per check: about one allocation per check (its hex
// string) at 2,000 checks.
func TestFingerprintsAreCheap(t *testing.T) {
	var b strings.Builder
	b.WriteString("agent: {region: r, labels: {dc: x}}\ndefaults: {interval: 30s}\nservices:\n")
	for s := 0; s < 20; s++ {
		fmt.Fprintf(&b, "  - name: s%d\n    features:\n      - name: f\n        slo: {objective: 99.9}\n        checks:\n", s)
		for c := 0; c < 100; c++ {
			fmt.Fprintf(&b, "          - {name: c%d, http: {url: \"http://127.0.0.1/%d\", valid_status_codes: [200], headers: {Accept: x}}}\n", c, c)
		}
	}
	p := newParser("vigil.yml")
	doc, err := p.document([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	p.walk(doc, typeOfConfig, "")
	cfg := p.decode(doc)
	if cfg == nil || len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	allocs := testing.AllocsPerRun(5, func() { p.fingerprints(doc, cfg) })
	if allocs > 2000*1.2 {
		t.Errorf("fingerprinting 2,000 checks took %.0f allocations, want about one per check", allocs)
	}
}

// BenchmarkParse10k loads a config of 10,000 http checks.
func BenchmarkParse10k(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("agent: {region: bench}\ndefaults: {timeout: 5s}\nservices:\n")
	for s := 0; s < 100; s++ {
		fmt.Fprintf(&sb, "  - name: s%d\n    features:\n", s)
		for f := 0; f < 100; f++ {
			fmt.Fprintf(&sb, "      - name: f%d\n        checks:\n          - name: http\n            interval: 10s\n            http: {url: \"http://127.0.0.1:8080/%d/%d\"}\n", f, s, f)
		}
	}
	data := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("vigil.yml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMergeKeys: a check may take its settings from another through a merge
// key, and follows it on reload like an alias.
func TestMergeKeys(t *testing.T) {
	yml := `agent: {region: kr-central-1}
services:
  - name: talk
    features:
      - name: send
        checks:
          - &base {name: a, interval: 10s, http: {url: "http://127.0.0.1:8080/health"}}
          - <<: *base
            name: b
`
	cfg, err := Parse("vigil.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	checks := cfg.Checks()
	if len(checks) != 2 || checks[1].ID != "talk/send/b" || checks[1].Check.HTTP == nil ||
		checks[1].Check.HTTP.URL != "http://127.0.0.1:8080/health" || checks[1].Interval != 10*time.Second {
		t.Fatalf("merged check = %+v", checks[1])
	}
	before := fingerprints(t, yml)
	after := fingerprints(t, strings.Replace(yml, "8080/health", "9090/health", 1))
	if before[1] == after[1] {
		t.Error("the check merging the changed one kept its fingerprint")
	}
	if _, err := Parse("vigil.yml", []byte(strings.Replace(yml, "name: b", "name: b\n            intervall: 5s", 1))); err == nil ||
		!strings.Contains(err.Error(), `vigil.yml:10: services[0].features[0].checks[1].intervall: unknown key`) {
		t.Errorf("a misspelled key beside a merge key: err = %v", err)
	}
}
