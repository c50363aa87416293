package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Paths of the blackbox_exporter compatibility rules and their tests.
const (
	compatRulesPath = "prometheus/blackbox-compat-rules.yml"
	compatTestsPath = "prometheus/blackbox-compat-rules.test.yml"
	migratingDoc    = "../docs/migrating-from-blackbox.md"
)

// TestBlackboxCompatRules checks the rules with Debian's promtool and runs
// their unit tests: the probe_* series come out of Vigil's with
// blackbox_exporter's labels and the right values.
func TestBlackboxCompatRules(t *testing.T) {
	dir := filepath.Dir(compatRulesPath)
	out, _ := runTool(t, dir, "promtool", "check", "rules", filepath.Base(compatRulesPath))
	if !strings.Contains(out, "SUCCESS: 7 rules found") {
		t.Errorf("promtool check rules: %s", out)
	}
	out, _ = runTool(t, dir, "promtool", "test", "rules", filepath.Base(compatTestsPath))
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules: %s", out)
	}
}

// TestBlackboxCompatRulesDocumented: every probe_* series the rules record is
// in the migration guide, and every vigil_* series they read is in the
// contract (so a renamed metric breaks this test, not users' dashboards).
func TestBlackboxCompatRulesDocumented(t *testing.T) {
	var rules ruleFile
	decodeFile(t, compatRulesPath, &rules)
	var records []string
	used := map[string]bool{}
	vigilName := regexp.MustCompile(`\bvigil_[a-z_]+`)
	quoted := regexp.MustCompile(`"[^"]*"`) // label names and values, not series
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			records = append(records, r.Record)
			for _, name := range vigilName.FindAllString(quoted.ReplaceAllString(r.Expr, ""), -1) {
				used[strings.TrimSuffix(strings.TrimSuffix(name, "_sum"), "_count")] = true
			}
		}
	}
	want := []string{"vigil:feature_title:info", "probe_success", "probe_duration_seconds", "probe_http_status_code",
		"probe_http_version", "probe_http_duration_seconds", "probe_ssl_earliest_cert_expiry"}
	if !slices.Equal(records, want) {
		t.Errorf("records %v, want %v", records, want)
	}
	doc, err := os.ReadFile(migratingDoc)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records[1:] {
		if !strings.Contains(string(doc), "`"+r+"`") {
			t.Errorf("%s does not mention `%s`", migratingDoc, r)
		}
	}
	design, err := os.ReadFile("../docs/DESIGN.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range used {
		if !strings.Contains(string(design), name) {
			t.Errorf("the rules read %s, which docs/DESIGN.md does not define", name)
		}
	}
}
