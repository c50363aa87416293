package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const runbookBase = "https://github.com/vigil-monitoring/vigil/blob/main/docs/runbooks/"

// debianPackage names the package that provides each outside tool these tests run.
var debianPackage = map[string]string{
	"promtool":                "prometheus",
	"amtool":                  "prometheus-alertmanager",
	"prometheus-alertmanager": "prometheus-alertmanager",
	"systemd-analyze":         "systemd",
}

// needTool returns the path of an outside tool (see testenv.NeedTool).
func needTool(t *testing.T, name string) string {
	t.Helper()
	return testenv.NeedTool(t, name, debianPackage[filepath.Base(name)])
}

// runTool runs a tool in dir, bounded in time, and returns its standard output
// and standard error; a non-zero exit fails the test with both.
func runTool(t *testing.T, dir string, name string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, needTool(t, name), args...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s%s", name, strings.Join(args, " "), dir, err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// ruleFile is the part of a Prometheus rule file the tests look at.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	var rules ruleFile
	decodeFile(t, RulesPath, &rules)
	if len(rules.Groups) == 0 {
		t.Fatalf("%s: no rule groups", RulesPath)
	}
	return rules
}

func decodeFile(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// alertNames lists the distinct alert names of the rule file, in file order.
func alertNames(rules ruleFile) []string {
	var names []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" && !slices.Contains(names, r.Alert) {
				names = append(names, r.Alert)
			}
		}
	}
	return names
}

func TestPromtool(t *testing.T) {
	rules := 0
	for _, g := range readRules(t).Groups {
		rules += len(g.Rules)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"check rules", []string{"check", "rules", "vigil-rules.yml"}, fmt.Sprintf("SUCCESS: %d rules found", rules)},
		{"test rules", []string{"test", "rules", "vigil-rules.test.yml"}, "SUCCESS"},
		{"check config", []string{"check", "config", "prometheus.yml"}, "is valid prometheus config file syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := runTool(t, "prometheus", "promtool", tt.args...)
			if !strings.Contains(out, tt.want) {
				t.Errorf("promtool %s: output lacks %q:\n%s", strings.Join(tt.args, " "), tt.want, out)
			}
			if strings.Contains(out, "FAILED") || strings.Contains(out, "WARNING") {
				t.Errorf("promtool %s:\n%s", strings.Join(tt.args, " "), out)
			}
		})
	}
}

// TestEveryAlertIsUnitTested checks that vigil-rules.test.yml has, for every
// alert, a case where it fires and one where it must stay quiet.
func TestEveryAlertIsUnitTested(t *testing.T) {
	var tests struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	decodeFile(t, "prometheus/vigil-rules.test.yml", &tests)
	if want := []string{filepath.Base(RulesPath)}; !slices.Equal(tests.RuleFiles, want) {
		t.Errorf("rule_files = %v, want %v", tests.RuleFiles, want)
	}
	fires, quiet := map[string]int{}, map[string]int{}
	for _, group := range tests.Tests {
		for _, at := range group.AlertRuleTest {
			if len(at.ExpAlerts) > 0 {
				fires[at.Alertname]++
			} else {
				quiet[at.Alertname]++
			}
		}
	}
	for _, name := range alertNames(readRules(t)) {
		if fires[name] == 0 {
			t.Errorf("alert %s: no promtool case where it fires", name)
		}
		if quiet[name] == 0 {
			t.Errorf("alert %s: no promtool case where it must not fire", name)
		}
	}
}

// TestAlertConventions checks what every alert must carry (severity,
// summary, description, runbook) and that every runbook belongs to an alert.
func TestAlertConventions(t *testing.T) {
	rules := readRules(t)
	severities := []string{"page", "ticket", "info"}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				if !strings.HasPrefix(r.Record, "vigil:") {
					t.Errorf("group %s: recording rule %q: want the vigil: prefix", g.Name, r.Record)
				}
				continue
			}
			if !slices.Contains(severities, r.Labels["severity"]) {
				t.Errorf("alert %s: severity %q, want one of %v", r.Alert, r.Labels["severity"], severities)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("alert %s: no summary", r.Alert)
			}
			if !strings.Contains(r.Annotations["description"], "$labels.") {
				t.Errorf("alert %s: description does not name the labels of what failed: %q", r.Alert, r.Annotations["description"])
			}
			if want := runbookBase + r.Alert + ".md"; r.Annotations["runbook_url"] != want {
				t.Errorf("alert %s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
			}
		}
	}

	names := alertNames(rules)
	if len(names) != 14 {
		t.Errorf("%d alerts, want 14: %v", len(names), names)
	}
	runbooks, err := filepath.Glob("../docs/runbooks/*.md")
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, path := range runbooks {
		have = append(have, strings.TrimSuffix(filepath.Base(path), ".md"))
	}
	slices.Sort(have)
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(have, want) {
		t.Errorf("docs/runbooks has %v, want one file per alert: %v", have, want)
	}
	for _, name := range have {
		body, err := os.ReadFile(filepath.Join("../docs/runbooks", name+".md"))
		if err != nil {
			t.Fatal(err)
		}
		for _, section := range []string{"# " + name, "## Meaning", "## First checks", "## Likely causes", "## Silencing during maintenance"} {
			if !bytes.Contains(body, []byte(section)) {
				t.Errorf("docs/runbooks/%s.md: no %q", name, section)
			}
		}
	}
}

func TestAmtool(t *testing.T) {
	out, _ := runTool(t, "alertmanager", "amtool", "check-config", "alertmanager.yml")
	for _, want := range []string{"SUCCESS", "4 inhibit rules", "3 receivers"} {
		if !strings.Contains(out, want) {
			t.Errorf("amtool check-config: output lacks %q:\n%s", want, out)
		}
	}

	routes := []struct {
		labels []string
		want   string
	}{
		{[]string{"alertname=VigilFeatureDown", "severity=page", "service=talk", "feature=message"}, "vigil-pages"},
		{[]string{"alertname=VigilFeatureDegraded", "severity=ticket", "service=talk", "feature=message"}, "vigil-tickets"},
		{[]string{"alertname=VigilErrorBudgetSlowBurn", "severity=ticket", "service=pay", "feature=transfer"}, "vigil-tickets"},
		{[]string{"alertname=VigilRegionDark", "severity=page", "region=kr-central-1"}, "vigil-pages"},
		{[]string{"alertname=VigilDatacenterDark", "severity=page", "region=kr-south-1", "datacenter=pangyo"}, "vigil-pages"},
		{[]string{"alertname=VigilAgentDown", "severity=ticket", "instance=vigil:9797"}, "vigil-tickets"},
		{[]string{"alertname=VigilAgentAbsent", "severity=page", "job=vigil"}, "vigil-pages"},
		{[]string{"alertname=VigilVantageImpaired", "severity=ticket", "instance=vigil:9797", "region=kr-central-1"}, "vigil-tickets"},
		{[]string{"alertname=VigilFeatureFlapping", "severity=ticket", "service=talk", "feature=message"}, "vigil-tickets"},
		{[]string{"alertname=VigilTLSCertExpiringSoon", "severity=info"}, "vigil-info"},
		{[]string{"alertname=SomethingElse"}, "vigil-tickets"},
	}
	for _, tt := range routes {
		t.Run(strings.Join(tt.labels, ","), func(t *testing.T) {
			args := append([]string{"config", "routes", "test", "--config.file=alertmanager.yml"}, tt.labels...)
			out, _ := runTool(t, "alertmanager", "amtool", args...)
			got := strings.TrimSpace(out)
			if got != tt.want {
				t.Errorf("routed to %q, want %q", got, tt.want)
			}
		})
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startProcess starts a long-running tool that the test stops (SIGTERM, then
// SIGKILL after 5s) when it ends; its output goes to the test log on failure.
func startProcess(t *testing.T, path string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(path), output.String())
		}
	})
}

// waitHTTP polls url until it answers 200, for at most timeout.
func waitHTTP(t *testing.T, client *http.Client, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: not ready after %v: %v", url, timeout, err)
		}
		<-tick.C
	}
}

// gettableAlert is what Alertmanager's GET /api/v2/alerts says of an alert.
type gettableAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// getAlerts returns what Alertmanager's GET /api/v2/alerts says.
func getAlerts(t *testing.T, client *http.Client, base string) []gettableAlert {
	t.Helper()
	resp, err := client.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []gettableAlert
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("GET /api/v2/alerts: %v", err)
	}
	return got
}

// TestAlertmanagerInhibition runs the real Alertmanager with our config,
// posts alerts as Prometheus would and checks which ones it inhibits.
func TestAlertmanagerInhibition(t *testing.T) {
	binary := needTool(t, "prometheus-alertmanager")

	// Receivers point at a local server, never at the placeholders' hosts.
	webhook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(webhook.Close)
	config, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	config = regexp.MustCompile(`https://[a-z]+\.example\.com/hooks/vigil`).ReplaceAll(config, []byte(webhook.URL))
	dir := t.TempDir()
	configPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(configPath, config, 0o600); err != nil {
		t.Fatal(err)
	}

	base := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	startProcess(t, binary,
		"--config.file="+configPath,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+strings.TrimPrefix(base, "http://"),
		"--cluster.listen-address=", // no gossip: a single instance
	)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	waitHTTP(t, client, base+"/-/ready", 15*time.Second)

	type alert = map[string]string
	tests := []struct {
		name      string
		labels    alert
		inhibited bool
	}{
		{"region dark itself", alert{"alertname": "VigilRegionDark", "severity": "page", "region": "kr-central-1"}, false},
		{"feature down in the dark region", alert{"alertname": "VigilFeatureDown", "severity": "page", "region": "kr-central-1", "service": "talk", "feature": "message"}, true},
		{"degraded in the dark region", alert{"alertname": "VigilFeatureDegraded", "severity": "ticket", "region": "kr-central-1", "service": "map", "feature": "search"}, true},
		{"fast burn in the dark region", alert{"alertname": "VigilErrorBudgetFastBurn", "severity": "page", "region": "kr-central-1", "service": "map", "feature": "search"}, true},
		{"feature down in another region", alert{"alertname": "VigilFeatureDown", "severity": "page", "region": "kr-south-1", "service": "talk", "feature": "message"}, false},
		{"datacenter dark itself", alert{"alertname": "VigilDatacenterDark", "severity": "page", "region": "kr-west-1", "datacenter": "pangyo"}, false},
		{"feature down where a datacenter is dark", alert{"alertname": "VigilFeatureDown", "severity": "page", "region": "kr-west-1", "service": "talk", "feature": "drawer"}, true},
		{"multi-region down", alert{"alertname": "VigilFeatureDownMultiRegion", "severity": "page", "service": "mail", "feature": "receive"}, false},
		{"feature down, also down elsewhere", alert{"alertname": "VigilFeatureDown", "severity": "page", "region": "kr-south-1", "service": "mail", "feature": "receive"}, true},
		{"fast burn", alert{"alertname": "VigilErrorBudgetFastBurn", "severity": "page", "region": "kr-south-1", "service": "pay", "feature": "transfer"}, false},
		{"slow burn beside a fast one", alert{"alertname": "VigilErrorBudgetSlowBurn", "severity": "ticket", "region": "kr-south-1", "service": "pay", "feature": "transfer"}, true},
		{"slow burn alone", alert{"alertname": "VigilErrorBudgetSlowBurn", "severity": "ticket", "region": "kr-south-1", "service": "pay", "feature": "card"}, false},
		{"cert under 3 days", alert{"alertname": "VigilTLSCertExpiringSoon", "severity": "page", "region": "kr-south-1", "service": "talk", "feature": "message", "check": "api"}, false},
		{"cert ticket beside its page", alert{"alertname": "VigilTLSCertExpiringSoon", "severity": "ticket", "region": "kr-south-1", "service": "talk", "feature": "message", "check": "api"}, true},
		{"cert ticket of another check", alert{"alertname": "VigilTLSCertExpiringSoon", "severity": "ticket", "region": "kr-south-1", "service": "talk", "feature": "message", "check": "web"}, false},
		{"agent down", alert{"alertname": "VigilAgentDown", "severity": "ticket", "job": "vigil", "instance": "vigil-kr-central-1:9797"}, false},
	}

	var posted []map[string]any
	for _, tt := range tests {
		posted = append(posted, map[string]any{
			"labels":      tt.labels,
			"annotations": alert{"summary": tt.name},
			"startsAt":    time.Now().Add(-time.Minute).Format(time.RFC3339),
		})
	}
	body, err := json.Marshal(posted)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	respBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %s: %s", resp.Status, respBody)
	}

	// Alertmanager's inhibitor takes in the posted alerts on its own; wait
	// until it has marked as many as the rules should (bounded), then check
	// which ones.
	wantSuppressed := 0
	for _, tt := range tests {
		if tt.inhibited {
			wantSuppressed++
		}
	}
	var got []gettableAlert
	testenv.Poll(10*time.Second, func() bool {
		got = getAlerts(t, client, base)
		suppressed := 0
		for _, a := range got {
			if len(a.Status.InhibitedBy) > 0 {
				suppressed++
			}
		}
		return len(got) == len(tests) && suppressed >= wantSuppressed
	})
	if len(got) != len(tests) {
		t.Fatalf("Alertmanager holds %d alerts, want %d", len(got), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := slices.IndexFunc(got, func(a gettableAlert) bool { return maps.Equal(a.Labels, tt.labels) })
			if i < 0 {
				t.Fatalf("alert %v not in Alertmanager", tt.labels)
			}
			inhibited := len(got[i].Status.InhibitedBy) > 0
			if inhibited != tt.inhibited {
				t.Errorf("inhibited = %v (state %s), want %v", inhibited, got[i].Status.State, tt.inhibited)
			}
			wantState := map[bool]string{true: "suppressed", false: "active"}[tt.inhibited]
			if got[i].Status.State != wantState {
				t.Errorf("state = %q, want %q", got[i].Status.State, wantState)
			}
		})
	}
}

// kubeObject is the part of a Kubernetes manifest every check reads.
type kubeObject struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	node       yaml.Node
}

type objectMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

// readManifests decodes every document of a multi-document YAML file.
func readManifests(t *testing.T, path string) []kubeObject {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var objects []kubeObject
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var obj kubeObject
		err := dec.Decode(&obj.node)
		if errors.Is(err, io.EOF) {
			return objects
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := obj.node.Decode(&obj); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		objects = append(objects, obj)
	}
}

// decodeAs decodes the whole object into a typed view of it.
func (o kubeObject) decodeAs(t *testing.T, into any) {
	t.Helper()
	if err := o.node.Decode(into); err != nil {
		t.Fatalf("%s %s: %v", o.Kind, o.Metadata.Name, err)
	}
}

var regions = []string{"kr-central-1", "kr-south-1"}

func TestKubernetesManifests(t *testing.T) {
	want := map[string][]string{
		"namespace.yaml":      {"v1 Namespace"},
		"service.yaml":        {"v1 Service"},
		"servicemonitor.yaml": {"monitoring.coreos.com/v1 ServiceMonitor"},
		"prometheusrule.yaml": {"monitoring.coreos.com/v1 PrometheusRule"},
	}
	for _, region := range regions {
		want[region+"/configmap.yaml"] = []string{"v1 ConfigMap"}
		want[region+"/deployment.yaml"] = []string{"apps/v1 Deployment", "v1 PersistentVolumeClaim"}
	}

	var files []string
	err := filepath.WalkDir("kubernetes", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, filepath.ToSlash(strings.TrimPrefix(path, "kubernetes"+string(filepath.Separator))))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(want)); !slices.Equal(files, got) {
		t.Errorf("kubernetes/ holds %v, want %v", files, got)
	}

	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			var kinds []string
			for _, obj := range readManifests(t, filepath.Join("kubernetes", file)) {
				kinds = append(kinds, obj.APIVersion+" "+obj.Kind)
				if obj.Metadata.Name == "" {
					t.Errorf("%s: no metadata.name", obj.Kind)
				}
				wantNamespace := "vigil"
				if obj.Kind == "Namespace" {
					wantNamespace = ""
				}
				if obj.Metadata.Namespace != wantNamespace {
					t.Errorf("%s %s: namespace %q, want %q", obj.Kind, obj.Metadata.Name, obj.Metadata.Namespace, wantNamespace)
				}
				if obj.Metadata.Labels["app.kubernetes.io/name"] != "vigil" {
					t.Errorf("%s %s: no label app.kubernetes.io/name: vigil", obj.Kind, obj.Metadata.Name)
				}
			}
			if !slices.Equal(kinds, want[file]) {
				t.Errorf("kinds %v, want %v", kinds, want[file])
			}
		})
	}
}

// The typed views of the manifests that TestKubernetesWiring follows.
type (
	deploymentSpec struct {
		Spec struct {
			Replicas int `yaml:"replicas"`
			Strategy struct {
				Type string `yaml:"type"`
			} `yaml:"strategy"`
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Template struct {
				Metadata objectMeta `yaml:"metadata"`
				Spec     podSpec    `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	podSpec struct {
		SecurityContext struct {
			RunAsNonRoot bool `yaml:"runAsNonRoot"`
		} `yaml:"securityContext"`
		Containers []struct {
			Name  string   `yaml:"name"`
			Args  []string `yaml:"args"`
			Ports []struct {
				Name          string `yaml:"name"`
				ContainerPort int    `yaml:"containerPort"`
			} `yaml:"ports"`
			SecurityContext struct {
				AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
				ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
				Capabilities             struct {
					Drop []string `yaml:"drop"`
				} `yaml:"capabilities"`
			} `yaml:"securityContext"`
			VolumeMounts []struct {
				Name      string `yaml:"name"`
				MountPath string `yaml:"mountPath"`
			} `yaml:"volumeMounts"`
		} `yaml:"containers"`
		Volumes []struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
			PersistentVolumeClaim *struct {
				ClaimName string `yaml:"claimName"`
			} `yaml:"persistentVolumeClaim"`
		} `yaml:"volumes"`
	}
	serviceSpec struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name       string `yaml:"name"`
				Port       int    `yaml:"port"`
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	serviceMonitorSpec struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Endpoints []struct {
				Port        string `yaml:"port"`
				HonorLabels bool   `yaml:"honorLabels"`
				Relabelings []struct {
					Action       string   `yaml:"action"`
					TargetLabel  string   `yaml:"targetLabel"`
					SourceLabels []string `yaml:"sourceLabels"`
				} `yaml:"relabelings"`
			} `yaml:"endpoints"`
		} `yaml:"spec"`
	}
	configMapData struct {
		Data map[string]string `yaml:"data"`
	}
)

// subset reports whether every label of sel is in labels with the same value.
func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// TestKubernetesWiring follows the references between the manifests: the
// ServiceMonitor finds the Service, the Service finds the pods, the pods mount
// their region's ConfigMap and volume, and the config names the region.
func TestKubernetesWiring(t *testing.T) {
	var svc serviceSpec
	service := readManifests(t, "kubernetes/service.yaml")[0]
	service.decodeAs(t, &svc)
	var sm serviceMonitorSpec
	readManifests(t, "kubernetes/servicemonitor.yaml")[0].decodeAs(t, &sm)

	if service.Metadata.Name != "vigil" {
		t.Errorf("Service %q: the Prometheus Operator names the job after it; the rules expect job=\"vigil\"", service.Metadata.Name)
	}
	if !subset(sm.Spec.Selector.MatchLabels, service.Metadata.Labels) {
		t.Errorf("ServiceMonitor selector %v does not select the Service (labels %v)", sm.Spec.Selector.MatchLabels, service.Metadata.Labels)
	}
	if len(svc.Spec.Ports) != 1 || len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("want one Service port and one ServiceMonitor endpoint, have %d and %d", len(svc.Spec.Ports), len(sm.Spec.Endpoints))
	}
	endpoint := sm.Spec.Endpoints[0]
	if endpoint.Port != svc.Spec.Ports[0].Name {
		t.Errorf("ServiceMonitor port %q, Service port is named %q", endpoint.Port, svc.Spec.Ports[0].Name)
	}
	if !endpoint.HonorLabels {
		t.Error("ServiceMonitor: honorLabels must be true so the agent's region and service labels win")
	}
	for _, r := range endpoint.Relabelings {
		if r.TargetLabel == "region" || slices.Contains(r.SourceLabels, "region") {
			t.Errorf("ServiceMonitor relabels region (%+v): the agent sets it", r)
		}
	}

	configs := map[string]map[string]any{}
	for _, region := range regions {
		t.Run(region, func(t *testing.T) {
			objects := readManifests(t, filepath.Join("kubernetes", region, "deployment.yaml"))
			var dep deploymentSpec
			objects[0].decodeAs(t, &dep)
			pvc := objects[1]
			configMap := readManifests(t, filepath.Join("kubernetes", region, "configmap.yaml"))[0]
			var cm configMapData
			configMap.decodeAs(t, &cm)

			if want := "vigil-" + region; objects[0].Metadata.Name != want {
				t.Errorf("Deployment %q, want %q", objects[0].Metadata.Name, want)
			}
			if dep.Spec.Replicas != 1 {
				t.Errorf("replicas %d, want 1: a second replica probes everything twice", dep.Spec.Replicas)
			}
			if dep.Spec.Strategy.Type != "Recreate" {
				t.Errorf("strategy %q, want Recreate: the store is locked by one process", dep.Spec.Strategy.Type)
			}
			pod := dep.Spec.Template
			if !subset(dep.Spec.Selector.MatchLabels, pod.Metadata.Labels) {
				t.Errorf("Deployment selector %v does not select its pods %v", dep.Spec.Selector.MatchLabels, pod.Metadata.Labels)
			}
			if !subset(svc.Spec.Selector, pod.Metadata.Labels) {
				t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, pod.Metadata.Labels)
			}
			if !pod.Spec.SecurityContext.RunAsNonRoot {
				t.Error("pod: runAsNonRoot is not set")
			}
			if len(pod.Spec.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
			}
			c := pod.Spec.Containers[0]
			if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9797 || c.Ports[0].Name != svc.Spec.Ports[0].TargetPort {
				t.Errorf("container ports %+v, want 9797 named %q (the Service's targetPort)", c.Ports, svc.Spec.Ports[0].TargetPort)
			}
			sc := c.SecurityContext
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !sc.ReadOnlyRootFilesystem || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
				t.Errorf("container securityContext %+v: want no privilege escalation, a read-only root and every capability dropped", sc)
			}

			mounts := map[string]string{}
			for _, m := range c.VolumeMounts {
				mounts[m.Name] = m.MountPath
			}
			for _, v := range pod.Spec.Volumes {
				switch {
				case v.ConfigMap != nil && v.ConfigMap.Name != configMap.Metadata.Name:
					t.Errorf("volume %s: ConfigMap %q, want %q", v.Name, v.ConfigMap.Name, configMap.Metadata.Name)
				case v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName != pvc.Metadata.Name:
					t.Errorf("volume %s: claim %q, want %q", v.Name, v.PersistentVolumeClaim.ClaimName, pvc.Metadata.Name)
				}
			}
			for _, want := range []string{
				"--config.file=" + mounts["config"] + "/vigil.yml",
				"--storage.path=" + mounts["data"],
				"--web.listen-address=:9797",
			} {
				if !slices.Contains(c.Args, want) {
					t.Errorf("args %v lack %q", c.Args, want)
				}
			}

			var config map[string]any
			if err := yaml.Unmarshal([]byte(cm.Data["vigil.yml"]), &config); err != nil {
				t.Fatalf("ConfigMap %s: vigil.yml: %v", configMap.Metadata.Name, err)
			}
			agent, _ := config["agent"].(map[string]any)
			if agent["region"] != region {
				t.Errorf("ConfigMap %s: agent.region %v, want %q", configMap.Metadata.Name, agent["region"], region)
			}
			agent["region"] = "(any)"
			configs[region] = config
		})
	}
	if len(configs) == len(regions) && !reflect.DeepEqual(configs[regions[0]], configs[regions[1]]) {
		t.Errorf("the ConfigMaps of %v differ in more than agent.region: every region should watch the same features", regions)
	}
}

// TestKubernetesConfigsPassAgentCheck runs `vigil --config.check` on every
// region's config, with the agent built from this tree.
func TestKubernetesConfigsPassAgentCheck(t *testing.T) {
	mains, _ := filepath.Glob("../cmd/vigil/*.go")
	if len(mains) == 0 {
		testenv.Need(t, "cmd/vigil has no Go files yet: cannot run vigil --config.check")
	}
	dir := t.TempDir()
	binary := filepath.Join(dir, "vigil")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, "./cmd/vigil")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/vigil: %v\n%s", err, out)
	}
	for _, region := range regions {
		t.Run(region, func(t *testing.T) {
			var cm configMapData
			readManifests(t, filepath.Join("kubernetes", region, "configmap.yaml"))[0].decodeAs(t, &cm)
			path := filepath.Join(dir, region+".yml")
			if err := os.WriteFile(path, []byte(cm.Data["vigil.yml"]), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(t.Context(), binary, "--config.check", "--config.file="+path)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("vigil --config.check %s: %v\n%s", path, err, out)
			}
		})
	}
}

// TestPrometheusRuleInSync checks that kubernetes/prometheusrule.yaml is what
// go generate makes of vigil-rules.yml, and that its groups are the same rules.
func TestPrometheusRuleInSync(t *testing.T) {
	rules, err := os.ReadFile(RulesPath)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(PrometheusRulePath)
	if err != nil {
		t.Fatal(err)
	}
	generated, err := PrometheusRule(rules)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(generated, manifest) {
		t.Errorf("%s is out of date: run go generate ./deploy/", PrometheusRulePath)
	}

	var fromRules struct {
		Groups any `yaml:"groups"`
	}
	var fromManifest struct {
		Spec struct {
			Groups any `yaml:"groups"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(rules, &fromRules); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(manifest, &fromManifest); err != nil {
		t.Fatal(err)
	}
	if fromRules.Groups == nil || !reflect.DeepEqual(fromRules.Groups, fromManifest.Spec.Groups) {
		t.Errorf("%s: spec.groups differ from the groups of %s", PrometheusRulePath, RulesPath)
	}
}

func TestPrometheusRuleRejectsOtherFiles(t *testing.T) {
	tests := []struct {
		name  string
		input string
	}{
		{"not yaml", "groups: [unclosed"},
		{"no groups", "rules: []\n"},
		{"extra key", "groups: []\nextra: 1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := PrometheusRule([]byte(tt.input))
			if err == nil || !strings.HasPrefix(err.Error(), "prometheus rule file:") {
				t.Errorf("PrometheusRule(%q) = %q, %v; want a prometheus rule file error", tt.input, out, err)
			}
		})
	}
}

// TestSystemdUnit checks the unit's hardening settings, then has systemd
// itself verify it and rate its exposure, in a scratch root.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("systemd/vigil.service")
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string][]string{}
	text := strings.ReplaceAll(string(unit), "\\\n", " ")
	for line := range strings.Lines(text) {
		key, value, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && !strings.HasPrefix(key, "#") {
			settings[key] = append(settings[key], value)
		}
	}
	want := map[string]string{
		"User":                  "vigil",
		"NoNewPrivileges":       "yes",
		"ProtectSystem":         "strict",
		"ReadWritePaths":        "/var/lib/vigil",
		"StateDirectory":        "vigil",
		"CapabilityBoundingSet": "",
		"ExecReload":            "/bin/kill -HUP $MAINPID",
		"Restart":               "on-failure",
	}
	for key, value := range want {
		if got := settings[key]; !slices.Equal(got, []string{value}) {
			t.Errorf("%s=%q, want %q", key, got, value)
		}
	}
	if got := settings["ExecStart"]; len(got) != 1 || !strings.Contains(got[0], "--storage.path=/var/lib/vigil") {
		t.Errorf("ExecStart=%q: want --storage.path=/var/lib/vigil (the one writable path)", got)
	}

	systemdAnalyze := needTool(t, "systemd-analyze")
	root := t.TempDir()
	files := []struct {
		path    string
		content string
		mode    os.FileMode
	}{
		{"usr/local/bin/vigil", "#!/bin/sh\n", 0o755},
		{"bin/kill", "#!/bin/sh\n", 0o755},
		{"etc/systemd/system/vigil.service", string(unit), 0o644},
		// The targets the unit orders itself against, empty.
		{"etc/systemd/system/sysinit.target", "[Unit]\n", 0o644},
		{"etc/systemd/system/basic.target", "[Unit]\n", 0o644},
		{"etc/systemd/system/shutdown.target", "[Unit]\n", 0o644},
		{"etc/systemd/system/network-online.target", "[Unit]\n", 0o644},
		{"etc/systemd/system/multi-user.target", "[Unit]\n", 0o644},
	}
	for _, f := range files {
		path := filepath.Join(root, f.path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(f.content), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if out, errOut := runTool(t, root, systemdAnalyze, "--root="+root, "--man=no", "verify", "vigil.service"); out+errOut != "" {
		t.Errorf("systemd-analyze verify vigil.service:\n%s%s", out, errOut)
	}
	// Exposure 0 (locked down) to 10 (unprotected); 2.0 and above fails.
	out, _ := runTool(t, root, systemdAnalyze, "--root="+root, "security", "--offline=true", "--threshold=19", "vigil.service")
	if !strings.Contains(out, "Overall exposure level for vigil.service") {
		t.Errorf("systemd-analyze security: no exposure level:\n%s", out)
	}
}
