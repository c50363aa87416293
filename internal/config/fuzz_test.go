package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser. It must never panic, must
// answer either a config whose every check has a fingerprint or errors naming
// the file, and must stay within its own bounds: the nodes it expands to
// (which is what decoding allocates for) are at most the bound's limit, and the
// nodes as written grow no faster than the input.
func FuzzParse(f *testing.F) {
	addFileSeeds(f)
	for _, seed := range []string{
		minimal, anchored, manyErrors, confirmations, billionLaughs(9), schemaBomb(),
		"", "\x00", "agent: [unclosed\n", "services: &s [*s]\n", "a: &a {b: *a}\n",
		"agent: {region: r}\nservices:\n  - &s {name: s, features: [{name: f, checks: [{name: c, <<: {dns: {server: '127.0.0.1:53', query_name: x}}}]}]}\n  - <<: *s\n    name: t\n",
		"agent: {region: r}\ndefaults: {interval: 0s, timeout: 0s, failure_threshold: 0}\n",
		"? [a, b]\n: c\n", "--- |\n  text\n", "agent: !!binary aGVsbG8=\n", "- - - - - - -\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := newParser("fuzz.yml")
		cfg, err := p.parse(data)
		if limit := p.written + max(minAliasNodes, aliasNodesPerNode*p.written); p.nodes > limit {
			t.Fatalf("expanded to %d nodes, over the limit %d", p.nodes, limit)
		}
		if p.written > 2*len(data)+8 {
			t.Fatalf("%d bytes were %d nodes", len(data), p.written)
		}
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %v (%T) is not config.Errors", err, err)
			}
			for _, e := range errs {
				if e.File != "fuzz.yml" || e.Msg == "" || strings.ContainsRune(e.Error(), 0) && !strings.ContainsRune(string(data), 0) {
					t.Fatalf("error %q lacks its file or message", e.Error())
				}
			}
			return
		}
		if cfg == nil {
			t.Fatal("no config and no error")
		}
		for _, ref := range append(cfg.Checks(), cfg.Canaries()...) {
			if len(ref.Check.Fingerprint) != 24 || ref.Interval <= 0 || ref.Timeout <= 0 || ref.Timeout >= ref.Interval {
				t.Fatalf("check %s: fingerprint %q, interval %s, timeout %s", ref.ID, ref.Check.Fingerprint, ref.Interval, ref.Timeout)
			}
			if !confirmationValid(ref.Check) {
				t.Fatalf("check %s: thresholds %d/%d, window %+v", ref.ID, ref.Check.FailureThreshold, ref.Check.RecoveryThreshold, ref.Check.FailureWindow)
			}
		}
	})
}

// confirmationValid: what validation leaves of a check's thresholds and window
// is within what the SLA engine takes.
func confirmationValid(ch *Check) bool {
	inRange := func(n int) bool { return n >= 1 && n <= MaxRuns }
	w := ch.FailureWindow
	return inRange(ch.FailureThreshold) && inRange(ch.RecoveryThreshold) &&
		(w == nil || inRange(w.Failures) && inRange(w.Runs) && w.Failures <= w.Runs)
}

// addFileSeeds seeds f with every example config and test fixture.
func addFileSeeds(f *testing.F) {
	for _, pattern := range []string{"../../examples/*.yml", "testdata/*.yml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}
