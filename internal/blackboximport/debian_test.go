package blackboximport

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/internal/testenv"
)

// targetFor is a target each prober takes, for the Prometheus config the
// tests write around a real modules file.
var targetFor = map[string]string{
	"http": "https://www.example.com/health",
	"tcp":  "mail.example.com:25",
	"dns":  "10.0.0.53",
	"icmp": "10.0.0.1",
	"grpc": "grpc.example.com:8443",
}

// writePrometheus writes a Prometheus config sending one target to every
// module of modulesFile: http modules through a file_sd file, the others
// from static_configs, each job naming its module in params.
func writePrometheus(t *testing.T, modulesFile string) string {
	t.Helper()
	data, err := os.ReadFile(modulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Modules yaml.Node `yaml:"modules"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 30s\nscrape_configs:\n")
	relabel := "    relabel_configs:\n" +
		"      - {source_labels: [__address__], target_label: __param_target}\n" +
		"      - {source_labels: [__param_target], target_label: instance}\n" +
		"      - {target_label: __address__, replacement: '127.0.0.1:9115'}\n"
	for i := 0; i+1 < len(file.Modules.Content); i += 2 {
		name := file.Modules.Content[i].Value
		var m struct {
			Prober string `yaml:"prober"`
		}
		if err := file.Modules.Content[i+1].Decode(&m); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  - job_name: %s\n    metrics_path: /probe\n    params: {module: [%s]}\n", name, name)
		if m.Prober == "http" {
			sd := filepath.Join(dir, name+".json")
			writeFile(t, sd, fmt.Sprintf(`[{"targets": [%q], "labels": {"env": "prod"}}]`, targetFor[m.Prober]))
			fmt.Fprintf(&b, "    file_sd_configs:\n      - files: [%s]\n", filepath.Base(sd))
		} else {
			fmt.Fprintf(&b, "    static_configs:\n      - targets: [%q]\n", targetFor[m.Prober])
		}
		b.WriteString(relabel)
	}
	path := filepath.Join(dir, "prometheus.yml")
	writeFile(t, path, b.String())
	return path
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

var moduleRe = regexp.MustCompile(`module "([^"]+)"`)

// cannotMove lists the modules named by the problems that are not notes,
// each once, with the first reason.
func cannotMove(problems []Problem) map[string]string {
	out := map[string]string{}
	for _, p := range problems {
		if p.Note {
			continue
		}
		m := moduleRe.FindStringSubmatch(p.Subject + " " + p.Msg)
		if m == nil {
			continue
		}
		if _, seen := out[m[1]]; !seen {
			out[m[1]] = p.Error()
		}
	}
	return out
}

// TestImportDebianModules imports the modules files Debian's
// prometheus-blackbox-exporter ships, each with a target for every module:
// the output loads, holds a check for every module that can move, and the
// report names exactly the modules that cannot, with the reason.
func TestImportDebianModules(t *testing.T) {
	tests := []struct {
		file string
		// cannot maps each module that cannot move to parts of its reason.
		cannot map[string][]string
		checks int
	}{
		{
			file: "/usr/share/doc/prometheus-blackbox-exporter/examples/example.yml",
			cannot: map[string][]string{
				// Debian's example names a CA file no machine has.
				"http_custom_ca_example": {
					`example.yml:54: module "http_custom_ca_example": not imported for target "https://www.example.com/health" of job "http_custom_ca_example" (`,
					`http_custom_ca_example.json:1): Vigil refuses the check: http.tls_config.ca_file: cannot read: /certs/my_cert.crt: no such file or directory`,
				},
			},
			checks: 15,
		},
		{file: "/etc/prometheus/blackbox.yml", cannot: map[string][]string{}, checks: 10},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			if _, err := os.Stat(tt.file); err != nil {
				testenv.Need(t, "%s (apt-get install prometheus-blackbox-exporter): %v", tt.file, err)
			}
			res, err := Import(Options{ModulesFile: tt.file, PrometheusFile: writePrometheus(t, tt.file), Region: "kr-central-1"})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range res.Problems {
				t.Log(p.Error())
			}
			got := cannotMove(res.Problems)
			if !slices.Equal(sortedMapKeys(got), sortedMapKeys(tt.cannot)) {
				t.Errorf("modules that cannot move: got %v, want %v", sortedMapKeys(got), sortedMapKeys(tt.cannot))
			}
			for name, parts := range tt.cannot {
				for _, want := range parts {
					if !strings.Contains(got[name], want) {
						t.Errorf("module %s: reason %q does not hold %q", name, got[name], want)
					}
				}
			}
			if res.Checks != tt.checks {
				t.Errorf("checks = %d, want %d", res.Checks, tt.checks)
			}
			cfg, err := config.Parse("vigil.yml", res.Config)
			if err != nil {
				t.Fatalf("the loader refuses the output: %v\n%s", err, res.Config)
			}
			if n := len(cfg.Checks()); n != tt.checks {
				t.Errorf("the loader sees %d checks, want %d", n, tt.checks)
			}
		})
	}
}

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
