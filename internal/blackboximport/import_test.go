package blackboximport

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-monitoring/vigil/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestImportRealistic pins the output of a realistic import (static and
// file_sd targets, module chosen by params and by relabeling, a dropped
// target, translated keys) in a golden file, and its report line by line.
func TestImportRealistic(t *testing.T) {
	dir := filepath.Join("testdata", "realistic")
	res, err := Import(Options{
		ModulesFile:    filepath.Join(dir, "blackbox.yml"),
		PrometheusFile: filepath.Join(dir, "prometheus.yml"),
	})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join(dir, "vigil.yml.golden")
	if *update {
		if err := os.WriteFile(golden, res.Config, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Config, want) {
		t.Errorf("output differs from %s (go test -update to rewrite):\n%s", golden, res.Config)
	}
	wantProblems := []string{
		`testdata/realistic/blackbox.yml:51: module "grpc_health": note: grpc.tls_config: left out: the module makes no TLS connection, so blackbox_exporter does not use it either`,
		`testdata/realistic/prometheus.yml:8: job "node": note: not a blackbox_exporter job (metrics_path /metrics, not /probe): nothing to import`,
		`testdata/realistic/prometheus.yml:55: target "skip:10.9.9.9" of job "blackbox-infra": note: dropped by the relabel rule at testdata/realistic/prometheus.yml:57, as Prometheus would`,
	}
	if got := problemLines(res.Problems); !slices.Equal(got, wantProblems) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantProblems, "\n"))
	}
	if res.Failed() || res.Checks != 9 {
		t.Errorf("Failed() = %v, Checks = %d; want false, 9", res.Failed(), res.Checks)
	}
	cfg, err := config.Parse("vigil.yml", res.Config)
	if err != nil {
		t.Fatalf("the loader refuses the output: %v", err)
	}
	if cfg.Agent.Region != "kr-central-1" {
		t.Errorf("region = %q, want kr-central-1 (from external_labels)", cfg.Agent.Region)
	}
}

func problemLines(problems []Problem) []string {
	out := make([]string, len(problems))
	for i, p := range problems {
		out[i] = p.Error()
	}
	return out
}

// badInput is a case of TestImportBadInput.
type badInput struct {
	name           string
	modules        string
	module, target string
	relabel        string
	want           []string
}

// badInputJob is the Prometheus config of each case: a job sending the case's
// target to its module, with its extra relabel rules (fmt verbs in that order).
const badInputJob = "scrape_configs:\n" +
	"  - job_name: web\n" +
	"    metrics_path: /probe\n" +
	"    params: {module: [%s]}\n" +
	"    static_configs:\n" +
	"      - targets: ['%s']\n" +
	"    relabel_configs:\n" +
	"      - source_labels: [__address__]\n" +
	"        target_label: __param_target\n" +
	"%s"

// badInputCases are inputs that cannot be carried over, with the report each gives.
func badInputCases() []badInput {
	const goodModule = "  http_2xx:\n    prober: http\n"
	return []badInput{
		{
			name:    "unknown prober",
			modules: "modules:\n" + goodModule + "  ftp_check:\n    prober: ftp\n",
			module:  "ftp_check", target: "ftp.example.com",
			want: []string{
				`blackbox.yml:5: module "ftp_check": unknown prober "ftp": blackbox_exporter's are http, tcp, dns, icmp, grpc`,
				`prometheus.yml:6: target "ftp.example.com" of job "web": not imported: module "ftp_check" cannot move (see blackbox.yml:4)`,
				`prometheus.yml:2: job "web": no target of the job could be imported`,
				`blackbox.yml:2: module "http_2xx": note: no job sends a target to it: nothing to import`,
				`prometheus.yml: no check could be imported: no config written`,
			},
		},
		{
			name:    "target that is not a URL",
			modules: "modules:\n" + goodModule,
			module:  "http_2xx", target: "not a url",
			want: []string{
				`prometheus.yml:6: target "not a url" of job "web": not imported: the target "not a url" for module "http_2xx" (prober http) is not a URL`,
				`prometheus.yml:2: job "web": no target of the job could be imported`,
				`prometheus.yml: no check could be imported: no config written`,
			},
		},
		{
			name:    "relabel rule it cannot follow",
			modules: "modules:\n" + goodModule,
			module:  "http_2xx", target: "https://www.example.com",
			relabel: "      - source_labels: [__param_target]\n        modulus: 4\n        target_label: __tmp_hash\n        action: hashmod\n",
			want: []string{
				`prometheus.yml:10: job "web": relabel_configs: cannot follow this rule: action hashmod shards targets between Prometheus servers; ` +
					`the importer cannot know which share to import: remove the rule to import every target (and shard Vigil agents with agent.shard); no target of the job is imported`,
				`blackbox.yml:2: module "http_2xx": note: no job sends a target to it: nothing to import`,
				`prometheus.yml: no check could be imported: no config written`,
			},
		},
		{
			name:    "unknown key",
			modules: "modules:\n  http_2xx:\n    prober: http\n    http:\n      method: GET\n      oauth3:\n        client_id: x\n",
			module:  "http_2xx", target: "https://www.example.com",
			want: []string{
				`blackbox.yml:6: module "http_2xx": http.oauth3: Vigil's http check has no such key`,
				`prometheus.yml:6: target "https://www.example.com" of job "web": not imported: module "http_2xx" cannot move (see blackbox.yml:2)`,
				`prometheus.yml:2: job "web": no target of the job could be imported`,
				`prometheus.yml: no check could be imported: no config written`,
			},
		},
		{
			name:    "module not in the file",
			modules: "modules:\n" + goodModule,
			module:  "http_3xx", target: "https://www.example.com",
			want: []string{
				`prometheus.yml:6: target "https://www.example.com" of job "web": module "http_3xx" is not in blackbox.yml: the exporter would answer 400`,
				`prometheus.yml:2: job "web": no target of the job could be imported`,
				`blackbox.yml:2: module "http_2xx": note: no job sends a target to it: nothing to import`,
				`prometheus.yml: no check could be imported: no config written`,
			},
		},
	}
}

// TestImportBadInput: each input the importer cannot carry over gives one
// clear message at its file and line, and the rest is still imported.
func TestImportBadInput(t *testing.T) {
	for _, tt := range badInputCases() {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			writeFile(t, "blackbox.yml", tt.modules)
			writeFile(t, "prometheus.yml", fmt.Sprintf(badInputJob, tt.module, tt.target, tt.relabel))
			res, err := Import(Options{ModulesFile: "blackbox.yml", PrometheusFile: "prometheus.yml", Region: "r1"})
			if err != nil {
				t.Fatal(err)
			}
			if got := problemLines(res.Problems); !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if !res.Failed() || res.Config != nil {
				t.Errorf("Failed() = %v, config %q; want true and none", res.Failed(), res.Config)
			}
		})
	}
}

func TestImportNeedsPrometheus(t *testing.T) {
	_, err := Import(Options{ModulesFile: "testdata/realistic/blackbox.yml"})
	if !errors.Is(err, ErrNoPrometheus) || !strings.Contains(err.Error(), "blackbox.yml holds modules (how to probe), not targets") {
		t.Errorf("err = %v, want ErrNoPrometheus saying why", err)
	}
}

// TestImportAnchorsAndDiscovery: modules sharing a block through an anchor and
// a merge key are read as YAML says; a job's service discovery part is
// reported while its static targets are imported.
func TestImportAnchorsAndDiscovery(t *testing.T) {
	t.Chdir(t.TempDir())
	writeFile(t, "blackbox.yml", "modules:\n"+
		"  http_base: &base\n"+
		"    prober: http\n"+
		"    timeout: 4s\n"+
		"    http: &http\n"+
		"      method: HEAD\n"+
		"      valid_status_codes: [200]\n"+
		"  http_strict:\n"+
		"    <<: *base\n"+
		"    http:\n"+
		"      <<: *http\n"+
		"      fail_if_not_ssl: true\n")
	writeFile(t, "prometheus.yml", "global: {scrape_interval: 1m}\n"+
		"scrape_configs:\n"+
		"  - job_name: Web Checks\n"+
		"    metrics_path: /probe\n"+
		"    params: {module: [http_strict]}\n"+
		"    kubernetes_sd_configs: [{role: ingress}]\n"+
		"    static_configs: [{targets: ['https://talk.example.com'], labels: {region: kr}}]\n"+
		"    relabel_configs:\n"+
		"      - {source_labels: [__address__], target_label: __param_target}\n")
	res, err := Import(Options{ModulesFile: "blackbox.yml", PrometheusFile: "prometheus.yml", Region: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	wantProblems := []string{
		`prometheus.yml:6: job "Web Checks": kubernetes_sd_configs: targets found by service discovery at run time cannot be imported: list them in static_configs or a file_sd file`,
		`blackbox.yml:2: module "http_base": note: no job sends a target to it: nothing to import`,
	}
	if got := problemLines(res.Problems); !slices.Equal(got, wantProblems) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantProblems, "\n"))
	}
	cfg, err := config.Parse("vigil.yml", res.Config)
	if err != nil {
		t.Fatalf("the loader refuses the output: %v\n%s", err, res.Config)
	}
	s := cfg.Services[0]
	f := s.Features[0]
	c := f.Checks[0]
	if s.Name != "web-checks" || s.Title != "Web Checks" || f.Name != "talk-example-com" || f.Title != "https://talk.example.com" || c.Name != "http_strict" {
		t.Errorf("names: service %q (%q), feature %q (%q), check %q", s.Name, s.Title, f.Name, f.Title, c.Name)
	}
	if f.Labels["label_region"] != "kr" {
		t.Errorf("feature labels = %v, want label_region=kr (region is Vigil's)", f.Labels)
	}
	h := c.HTTP
	if h == nil || h.Method != "HEAD" || !slices.Equal(h.ValidStatusCodes, []int{200}) || !h.FailIfNotSSL || h.PreferredIPProtocol != "ip6" {
		t.Errorf("http block = %+v, want the merged keys and ip6", h)
	}
	if c.Timeout.String() != "4s" {
		t.Errorf("timeout = %s, want the module's 4s", c.Timeout)
	}
}
