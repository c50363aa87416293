// Package parity checks Vigil's probes against the real thing (issue 18): the
// same modules run by Debian's prometheus-blackbox-exporter and by Vigil,
// against the same loopback targets, must agree with each other and with the
// expected outcome. The table of cases is written to docs/parity-blackbox.md
// (go test ./probes/parity_test/ -update) and checked against it otherwise.
package parity

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/internal/schedule"
	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/probes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var update = flag.Bool("update", false, "rewrite docs/parity-blackbox.md from this run")

// docFile is the table this test writes and checks.
const docFile = "../../docs/parity-blackbox.md"

// moduleTimeout bounds each run of either prober.
const moduleTimeout = 3 * time.Second

// parityCase is one row of the table: a blackbox_exporter module and target,
// the Vigil check that does the same, and the outcome both must give.
type parityCase struct {
	kind string // the table's section: http, tls, dns, tcp, ssh, grpc, icmp
	name string // [a-z0-9-]+: the module's and the feature's name
	what string // what the row checks, for the table
	// module is the blackbox module's body and target its /probe target;
	// check is the Vigil check's block (both one-line flow YAML).
	module, target, check string
	want                  bool
	// setup changes a target before the row runs and returns the undo.
	setup func() (undo func())
	// icmp rows need ping sockets.
	icmp bool
	// differs, when set, says why Vigil gives the opposite of want here: a
	// known difference, pinned so that a fix shows up (then drop it).
	differs string
}

// wantVigil is the outcome Vigil must give.
func (c parityCase) wantVigil() bool {
	if c.differs != "" {
		return !c.want
	}
	return c.want
}

// outcome is what each prober said about a case.
type outcome struct {
	blackbox, vigil bool
	vigilErr        string
}

func TestParityWithBlackboxExporter(t *testing.T) {
	bin := testenv.NeedTool(t, "prometheus-blackbox-exporter", "prometheus-blackbox-exporter")
	tg := startTargets(t)
	cases := parityCases(tg)
	icmpOK := icmpAvailable()

	dir := t.TempDir()
	exporter := startBlackbox(t, bin, dir, cases)
	checks := loadVigilChecks(t, dir, cases)

	results := make([]*outcome, len(cases))
	skipped := 0
	for i, c := range cases {
		t.Run(c.kind+"/"+c.name, func(t *testing.T) {
			if c.icmp && !icmpOK {
				testenv.Need(t, "ICMP echo sockets for 127.0.0.1 and ::1 (neither unprivileged nor raw); allow them with: sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"")
			}
			if c.setup != nil {
				defer c.setup()()
			}
			o := &outcome{blackbox: probeBlackbox(t, exporter, c)}
			r := schedule.RunOnce(runContext(t), checks[c.name])
			o.vigil = r.Success
			if r.Err != nil {
				o.vigilErr = r.Err.Error()
			}
			results[i] = o
			if o.blackbox != c.want || o.vigil != c.wantVigil() {
				t.Errorf("%s: want success=%v from blackbox_exporter and %v from Vigil; got %v and %v (%s)\nmodule: %s\ntarget: %s\ncheck: %s",
					c.name, c.want, c.wantVigil(), o.blackbox, o.vigil, o.vigilErr, c.module, c.target, c.check)
			}
			if c.differs != "" {
				t.Logf("KNOWN DIFFERENCE %s: %s", c.name, c.differs)
			}
		})
		if results[i] == nil {
			skipped++
		}
	}
	if skipped > 0 {
		t.Logf("SKIPPING the comparison with %s: %d rows were not run", docFile, skipped)
		return
	}
	checkDoc(t, renderTable(bin, cases, results))
}

func runContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), moduleTimeout)
	t.Cleanup(cancel)
	return ctx
}

// startBlackbox writes a blackbox.yml with one module per case and starts the
// exporter on a loopback port; it returns the exporter's base URL.
func startBlackbox(t *testing.T, bin, dir string, cases []parityCase) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("modules:\n")
	for _, c := range cases {
		fmt.Fprintf(&b, "  %s: %s\n", c.name, c.module)
	}
	cfg := filepath.Join(dir, "blackbox.yml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "--config.check", "--config.file="+cfg).CombinedOutput(); err != nil {
		t.Fatalf("blackbox_exporter refuses %s: %v\n%s\n%s", cfg, err, out, b.String())
	}
	// A TCP port that was free a moment ago (it was a UDP one's number,
	// which a TCP listener of the targets could hold: CI saw the exporter
	// fail to bind and the wait run out).
	addr, _ := closedPorts(t)
	cmd := exec.Command(bin, "--config.file="+cfg, "--web.listen-address="+addr, "--log.level=warn")
	log, err := os.Create(filepath.Join(dir, "blackbox.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited; log.Close() })
	base := "http://" + addr
	testenv.WaitFor(t, 30*time.Second, "blackbox_exporter ready at "+base, func() bool {
		select {
		case <-exited:
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("blackbox_exporter exited before it was ready:\n%s", out)
		default:
		}
		resp, err := http.Get(base + "/-/healthy")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

// probeBlackbox asks the exporter to run the case's module and returns its
// probe_success.
func probeBlackbox(t *testing.T, base string, c parityCase) bool {
	t.Helper()
	u := base + "/probe?" + url.Values{"module": {c.name}, "target": {c.target}}.Encode()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("blackbox_exporter %s: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("blackbox_exporter %s: %s", u, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "probe_success "); ok {
			return v == "1"
		}
	}
	t.Fatalf("blackbox_exporter %s: no probe_success in the answer (%v)", u, sc.Err())
	return false
}

// loadVigilChecks writes the cases as a vigil.yml (service "parity", one
// feature per case), loads it with the agent's own loader and builds each
// check's prober through the table of kinds.
func loadVigilChecks(t *testing.T, dir string, cases []parityCase) map[string]probes.Prober {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "agent:\n  region: parity\ndefaults:\n  interval: 10s\n  timeout: %s\nservices:\n  - name: parity\n    features:\n", moduleTimeout)
	for _, c := range cases {
		fmt.Fprintf(&b, "      - name: %s\n        checks:\n          - name: %s\n            %s\n", c.name, c.kind, c.check)
	}
	path := filepath.Join(dir, "vigil.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("Vigil refuses the config: %v\n%s", err, b.String())
	}
	out := map[string]probes.Prober{}
	for _, ref := range cfg.Checks() {
		p, err := ref.Check.Build(probes.Options{AgentID: "parity", CheckID: ref.ID})
		if err != nil {
			t.Fatalf("build %s: %v", ref.ID, err)
		}
		if cl, ok := p.(probes.Closer); ok {
			t.Cleanup(func() { _ = cl.Close() })
		}
		out[ref.Feature.Name] = p
	}
	if len(out) != len(cases) {
		t.Fatalf("%d checks loaded, want %d", len(out), len(cases))
	}
	return out
}

// renderTable is the Markdown of docs/parity-blackbox.md.
func renderTable(bin string, cases []parityCase, results []*outcome) string {
	version := "prometheus-blackbox-exporter"
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err == nil {
		version, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	}
	var b strings.Builder
	b.WriteString("# Parity with blackbox_exporter\n\n")
	b.WriteString("Written by `go test ./probes/parity_test/ -update` (`TestParityWithBlackboxExporter`), checked by the same test without `-update`.\n\n")
	fmt.Fprintf(&b, "The same module run by Debian's `%s` (`/probe?module=...&target=...`, its `probe_success`) and by Vigil (the equivalent check loaded by `internal/config`, built through `probes/kinds`, run once by `schedule.RunOnce`) against the same loopback targets. In every row both agree with each other and with the expected outcome%s. Timeout %v for both.\n\n", version, exceptDifferences(cases), moduleTimeout)
	b.WriteString("Where blackbox_exporter has no prober of the kind, the row uses its equivalent: Vigil's `tls` against a `tcp` module with `tls: true`; Vigil's `ssh` against a `tcp` module whose `query_response` expects `^SSH-2.0-`.\n")
	kind := ""
	for i, c := range cases {
		if c.kind != kind {
			kind = c.kind
			fmt.Fprintf(&b, "\n## %s\n\n| case | what | expected | blackbox_exporter | Vigil |\n|---|---|---|---|---|\n", kind)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", c.name, c.what, passFail(c.want), passFail(results[i].blackbox), passFail(results[i].vigil))
	}
	writeDifferences(&b, cases)
	return b.String()
}

// writeDifferences lists the rows pinned as known differences, each reason
// once with its rows.
func writeDifferences(b *strings.Builder, cases []parityCase) {
	var reasons []string
	rows := map[string][]string{}
	for _, c := range cases {
		if c.differs == "" {
			continue
		}
		if rows[c.differs] == nil {
			reasons = append(reasons, c.differs)
		}
		rows[c.differs] = append(rows[c.differs], fmt.Sprintf("`%s` (Vigil %s, expected %s)", c.name, passFail(c.wantVigil()), passFail(c.want)))
	}
	if len(reasons) == 0 {
		return
	}
	b.WriteString("\n## Known differences\n\nRows where Vigil disagrees, pinned by the test so that a fix shows up (the row's `differs` is then dropped):\n\n")
	for _, r := range reasons {
		fmt.Fprintf(b, "- %s: %s\n", strings.Join(rows[r], ", "), r)
	}
}

// exceptDifferences qualifies "every row agrees" when some rows differ.
func exceptDifferences(cases []parityCase) string {
	for _, c := range cases {
		if c.differs != "" {
			return `, except those under "Known differences" at the end`
		}
	}
	return ""
}

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "fail"
}

// checkDoc writes the table with -update and otherwise compares it with the
// file.
func checkDoc(t *testing.T, table string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(docFile, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatalf("%v (write it with: go test ./probes/parity_test/ -update)", err)
	}
	if string(have) != table {
		t.Errorf("%s is out of date (go test ./probes/parity_test/ -update); this run gives:\n%s", docFile, table)
	}
}
