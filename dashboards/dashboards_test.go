package dashboards

import (
	"bytes"
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// loadFiles decodes every dashboard JSON file of this directory.
func loadFiles(t *testing.T) map[string]*Dashboard {
	t.Helper()
	paths, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no dashboard JSON files")
	}
	files := map[string]*Dashboard{}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		var d Dashboard
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		files[path] = &d
	}
	return files
}

func TestFilesAreGenerated(t *testing.T) {
	files := loadFiles(t)
	var want []string
	for _, d := range All() {
		want = append(want, d.FileName())
		data, err := d.JSON()
		if err != nil {
			t.Fatalf("dashboard %s: %v", d.UID, err)
		}
		onDisk, err := os.ReadFile(d.FileName())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, onDisk) {
			t.Errorf("%s is out of date: run go generate ./dashboards/", d.FileName())
		}
	}
	var have []string
	for path := range files {
		have = append(have, path)
	}
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		t.Errorf("JSON files %v, want %v", have, want)
	}
}

var variableRef = regexp.MustCompile(`\$\{?(\w+)\}?`)

// TestStructure checks what Grafana needs to import the dashboards and what
// Vigil's dashboards promise: the data source as a variable, the region,
// service and feature variables, panels with queries, unique ids, no overlaps.
func TestStructure(t *testing.T) {
	wantVariables := map[string][]string{
		"vigil-overview": {"datasource", "region", "service", "feature"},
		"vigil-feature":  {"datasource", "region", "service", "feature", "check"},
		"vigil-regions":  {"datasource", "region", "service", "feature"},
		"vigil-agent":    {"datasource", "region", "instance"},
	}
	uids := map[string]string{}
	for path, d := range loadFiles(t) {
		t.Run(path, func(t *testing.T) {
			if d.UID == "" || !strings.HasPrefix(d.Title, "Vigil / ") {
				t.Errorf("uid %q, title %q: want a uid and a title starting with \"Vigil / \"", d.UID, d.Title)
			}
			if d.FileName() != path {
				t.Errorf("uid %q is kept in %s, want %s", d.UID, path, d.FileName())
			}
			if other, ok := uids[d.UID]; ok {
				t.Errorf("uid %q is also used by %s", d.UID, other)
			}
			uids[d.UID] = path

			var names []string
			for _, v := range d.Templating.List {
				names = append(names, v.Name)
				switch {
				case v.Type == "datasource":
					if v.Query != "prometheus" {
						t.Errorf("variable %s: data source type %q, want prometheus", v.Name, v.Query)
					}
				case v.Type != "query" || *v.Datasource != *datasource || !strings.HasPrefix(v.Query, "label_values("):
					t.Errorf("variable %s: want a label_values query on ${datasource}, have %+v", v.Name, v)
				}
			}
			if !slices.Equal(names, wantVariables[d.UID]) {
				t.Errorf("variables %v, want %v", names, wantVariables[d.UID])
			}

			ids, titles := map[int]bool{}, map[string]bool{}
			var cells []GridPos
			for _, p := range d.Panels {
				if ids[p.ID] || p.ID <= 0 {
					t.Errorf("panel %q: id %d is not unique and positive", p.Title, p.ID)
				}
				ids[p.ID] = true
				if titles[p.Title] {
					t.Errorf("panel title %q is used twice", p.Title)
				}
				titles[p.Title] = true
				g := p.GridPos
				if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
					t.Errorf("panel %q: gridPos %+v is off the 24-column grid", p.Title, g)
				}
				for _, other := range cells {
					if g.X < other.X+other.W && other.X < g.X+g.W && g.Y < other.Y+other.H && other.Y < g.Y+g.H {
						t.Errorf("panel %q at %+v overlaps a panel at %+v", p.Title, g, other)
					}
				}
				cells = append(cells, g)
				if p.Type == "row" {
					continue
				}
				if p.Title == "" || p.Datasource == nil || *p.Datasource != *datasource {
					t.Errorf("panel %d %q: want a title and the ${datasource} data source, have %+v", p.ID, p.Title, p.Datasource)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q: no query", p.Title)
				}
				refIDs := map[string]bool{}
				for _, target := range p.Targets {
					if target.Expr == "" || target.Datasource == nil || *target.Datasource != *datasource {
						t.Errorf("panel %q: query %s: want an expr on ${datasource}, have %+v", p.Title, target.RefID, target)
					}
					if refIDs[target.RefID] || target.RefID == "" {
						t.Errorf("panel %q: refId %q is not unique", p.Title, target.RefID)
					}
					refIDs[target.RefID] = true
					for _, m := range variableRef.FindAllStringSubmatch(target.Expr, -1) {
						if !strings.HasPrefix(m[1], "__") && !slices.Contains(names, m[1]) {
							t.Errorf("panel %q: query uses $%s, which is not a variable of the dashboard", p.Title, m[1])
						}
					}
				}
			}
			for _, a := range d.Annotations.List {
				if a.Expr == "" || *a.Datasource != *datasource {
					t.Errorf("annotation %q: want an expr on ${datasource}", a.Name)
				}
			}
		})
	}
}

// mayBeEmpty lists the queries that return nothing while all is well, and why.
var mayBeEmpty = map[string]string{
	"Vigil / Overview/Open outages by feature/A": "no feature has an open outage",
	"Vigil / Feature/annotation Outages":         "no outage, so no annotation",
}

// basicEmpty lists the panels that are empty with metrics.profile: basic,
// whose families are in standard and full only (internal/export/profile.go).
var basicEmpty = map[string]string{
	"Vigil / Overview/Availability against objective/B":         "vigil_sla_objective_ratio is configuration, not in basic",
	"Vigil / Feature/Objective/A":                               "vigil_sla_objective_ratio is configuration, not in basic",
	"Vigil / Feature/Phases of the last run/A":                  "no phases in basic",
	"Vigil / Feature/HTTP status code/A":                        "no kind-specific series in basic",
	"Vigil / Feature/DNS answer records/A":                      "no kind-specific series in basic",
	"Vigil / Feature/Message round trip p50 / p95/A":            "no kind-specific series in basic",
	"Vigil / Feature/Message round trip p50 / p95/B":            "no kind-specific series in basic",
	"Vigil / Feature/Messages lost, duplicated, reordered/A":    "no kind-specific series in basic",
	"Vigil / Feature/Messages lost, duplicated, reordered/B":    "no kind-specific series in basic",
	"Vigil / Feature/Messages lost, duplicated, reordered/C":    "no kind-specific series in basic",
	"Vigil / Feature/Downtime, degraded and unmonitored time/A": "no lifetime SLA counters in basic",
	"Vigil / Feature/Downtime, degraded and unmonitored time/B": "no lifetime SLA counters in basic",
	"Vigil / Feature/Downtime, degraded and unmonitored time/C": "no lifetime SLA counters in basic",
	"Vigil / Feature/Last outage lasted/A":                      "no vigil_outage_last_duration_seconds in basic",
	"Vigil / Regions/Failed runs per region/A":                  "basic writes a result's runs_total series once it happened: no failure, no series",
}

// messagingPanels need the messaging check, which needs a NATS server.
var messagingPanels = []string{
	"Vigil / Feature/Message round trip p50 / p95",
	"Vigil / Feature/Messages lost, duplicated, reordered",
}

// landscape is what the agent under test watches: an HTTPS server, a plain
// HTTP server and a DNS server, all on loopback, and NATS if it is there.
type landscape struct {
	tlsURL, httpURL, dnsAddr, caFile, natsURL string
}

func startLandscape(t *testing.T, dir string) landscape {
	t.Helper()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	tlsServer := httptest.NewTLSServer(ok)
	t.Cleanup(tlsServer.Close)
	plain := httptest.NewServer(ok)
	t.Cleanup(plain.Close)

	caFile := filepath.Join(dir, "ca.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsServer.Certificate().Raw})
	if _, err := x509.ParseCertificate(tlsServer.Certificate().Raw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}

	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := dns.NewServeMux()
	mux.HandleFunc("talk.vigil.test.", func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Answer = append(m.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A:   net.IPv4(127, 0, 0, 1),
		})
		_ = w.WriteMsg(m)
	})
	started := make(chan struct{})
	server := &dns.Server{PacketConn: conn, Handler: mux, NotifyStartedFunc: func() { close(started) }}
	served := make(chan error, 1)
	go func() { served <- server.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-served:
		t.Fatalf("dns server: %v", err)
	}
	t.Cleanup(func() {
		_ = server.Shutdown()
		<-served
	})

	l := landscape{tlsURL: tlsServer.URL, httpURL: plain.URL, dnsAddr: conn.LocalAddr().String(), caFile: caFile}
	natsURL := cmp.Or(os.Getenv("VIGIL_TEST_NATS_URL"), "nats://127.0.0.1:4222")
	if u, err := url.Parse(natsURL); err == nil {
		if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
			c.Close()
			l.natsURL = natsURL
		}
	}
	return l
}

// agentConfig is the vigil.yml of the agent under test (docs/DESIGN.md,
// "Config"): one service, two features, checks every second.
func (l landscape) agentConfig() string {
	nats := ""
	if l.natsURL != "" {
		nats = fmt.Sprintf(`
          - name: roundtrip
            messaging: {protocol: nats, url: %q, topic: vigil.test.dashboards, messages: 2}`, l.natsURL)
	}
	return fmt.Sprintf(`agent:
  region: kr-central-1
defaults:
  interval: 1s
  timeout: 500ms
services:
  - name: talk
    title: Talk
    labels: {datacenter: pangyo}
    features:
      - name: message
        title: "Messages: send / receive"
        slo: {objective: 99.9, window: 30d}
        checks:
          - name: api
            http:
              url: %s/v1/health
              valid_status_codes: [200]
              fail_if_body_not_matches_regexp: ['"status":\s*"ok"']
              tls_config: {ca_file: %q}
          - name: dns
            dns: {server: %q, query_name: talk.vigil.test, query_type: A, valid_rcodes: [NOERROR]}%s
      - name: notify
        title: Notifications
        slo: {objective: 99.5, window: 7d}
        checks:
          - name: api
            http: {url: %s/notify, valid_status_codes: [200]}
`, l.tlsURL, l.caFile, l.dnsAddr, nats, l.httpURL)
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// prometheusAPI queries a Prometheus over its HTTP API.
type prometheusAPI struct{ base string }

// apiResponse is the envelope of every Prometheus API answer.
type apiResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

func (p prometheusAPI) get(path string, params url.Values) (json.RawMessage, error) {
	resp, err := client.Get(p.base + path + "?" + params.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r apiResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("GET %s: %s: %w", path, resp.Status, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("GET %s: %s: %s", path, r.ErrorType, r.Error)
	}
	return r.Data, nil
}

// query runs an instant query and returns how many series or values it gave.
func (p prometheusAPI) query(expr string) (int, error) {
	data, err := p.get("/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return 0, err
	}
	var result struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &result); err != nil {
		return 0, err
	}
	if result.ResultType != "vector" {
		return 0, fmt.Errorf("result type %s, want vector", result.ResultType)
	}
	var series []json.RawMessage
	err = json.Unmarshal(result.Result, &series)
	return len(series), err
}

// labelValues answers Grafana's label_values(selector, label).
func (p prometheusAPI) labelValues(selector, label string) ([]string, error) {
	data, err := p.get("/api/v1/label/"+label+"/values", url.Values{"match[]": {selector}})
	if err != nil {
		return nil, err
	}
	var values []string
	err = json.Unmarshal(data, &values)
	return values, err
}

// pollQuery runs expr until it returns data or the deadline passes. A query
// Prometheus rejects fails at once: no wait makes it parse.
func (p prometheusAPI) pollQuery(expr string, deadline time.Time) (int, error) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := p.query(expr)
		if err != nil || n > 0 || time.Now().After(deadline) {
			return n, err
		}
		<-tick.C
	}
}

var labelValuesQuery = regexp.MustCompile(`^label_values\((.+), (\w+)\)$`)

// substitute replaces Grafana's variables in expr as Grafana would with the
// given values; an unknown variable is an error.
func substitute(expr string, values map[string]string) (string, error) {
	var missing []string
	out := variableRef.ReplaceAllStringFunc(expr, func(ref string) string {
		name := variableRef.FindStringSubmatch(ref)[1]
		v, ok := values[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("unknown variables %v in %q", missing, expr)
	}
	return out, nil
}

// TestQueriesAgainstRunningAgent builds and runs the agent against real HTTP
// and DNS servers, has a real Prometheus scrape it (with vigil-rules.yml
// loaded, for the recorded series), and runs every variable, panel and
// annotation query of every dashboard: each must parse and return data,
// except those in mayBeEmpty.
//
// It runs once per metrics profile the agent can export (metrics.profile):
// the dashboards must work with basic too, less the panels basicEmpty lists.
func TestQueriesAgainstRunningAgent(t *testing.T) {
	for _, profile := range []string{"standard", "basic"} {
		t.Run(profile, func(t *testing.T) { queriesAgainstRunningAgent(t, profile) })
	}
}

func queriesAgainstRunningAgent(t *testing.T, profile string) {
	prometheus := testenv.NeedTool(t, "prometheus", "prometheus")
	if mains, _ := filepath.Glob("../cmd/vigil/*.go"); len(mains) == 0 {
		testenv.Need(t, "cmd/vigil has no Go files yet: no agent to scrape")
	}
	dir := t.TempDir()

	agent := filepath.Join(dir, "vigil")
	buildCtx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(buildCtx, "go", "build", "-o", agent, "./cmd/vigil")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/vigil: %v\n%s", err, out)
	}

	land := startLandscape(t, dir)
	if land.natsURL == "" {
		t.Logf("NATS is not reachable (VIGIL_TEST_NATS_URL, default nats://127.0.0.1:4222): the messaging panels will be skipped")
	}
	agentConfig := filepath.Join(dir, "vigil.yml")
	text := strings.Replace(land.agentConfig(), "  region: kr-central-1\n", "  region: kr-central-1\n  metrics: {profile: "+profile+"}\n", 1)
	if err := os.WriteFile(agentConfig, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	agentAddr := testenv.FreeAddr(t)
	agentExited := testenv.StartProcess(t, agent,
		"--config.file="+agentConfig,
		"--web.listen-address="+agentAddr,
		"--storage.path="+filepath.Join(dir, "data"),
		"--log.level=warn",
	)
	testenv.WaitReady(t, "http://"+agentAddr+"/-/ready", 20*time.Second, agentExited)

	rulesFile, err := filepath.Abs("../deploy/prometheus/vigil-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	promConfig := filepath.Join(dir, "prometheus.yml")
	err = os.WriteFile(promConfig, fmt.Appendf(nil, `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: vigil
    honor_labels: true
    static_configs:
      - targets: [%q]
`, rulesFile, agentAddr), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	promAddr := testenv.FreeAddr(t)
	promExited := testenv.StartProcess(t, prometheus,
		"--config.file="+promConfig,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr,
	)
	testenv.WaitReady(t, "http://"+promAddr+"/-/ready", 20*time.Second, promExited)
	prom := prometheusAPI{base: "http://" + promAddr}

	// Data is there once the rules have recorded, the histograms have two
	// scrapes to take a rate of, and every check has passed: then the
	// landscape works and "empty" means "all is well".
	deadline := time.Now().Add(30 * time.Second)
	for _, expr := range []string{
		`vigil:feature_up:min_by_region`,
		`sum(rate(vigil_check_duration_seconds_count[1m])) > 0`,
		`min(vigil_check_up) == 1`,
	} {
		if n, err := prom.pollQuery(expr, deadline); err != nil || n == 0 {
			failing, _ := prom.get("/api/v1/query", url.Values{"query": {`vigil_check_up == 0`}})
			t.Fatalf("no data from the agent within 30s: %s gave %d series, %v; failing checks: %s", expr, n, err, failing)
		}
	}

	// The rules run on the agent's real series: each must evaluate without
	// error, and none may alert on a healthy landscape.
	t.Run("rules", func(t *testing.T) {
		data, err := prom.get("/api/v1/rules", nil)
		if err != nil {
			t.Fatal(err)
		}
		var rules struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
					State     string `json:"state"`
				} `json:"rules"`
			} `json:"groups"`
		}
		if err := json.Unmarshal(data, &rules); err != nil {
			t.Fatal(err)
		}
		count := 0
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				count++
				if r.Health != "ok" {
					t.Errorf("rule %s/%s: health %q: %s", g.Name, r.Name, r.Health, r.LastError)
				}
				if r.State != "" && r.State != "inactive" {
					t.Errorf("alert %s is %s on a healthy landscape", r.Name, r.State)
				}
			}
		}
		ruleFile, err := os.ReadFile(rulesFile)
		if err != nil {
			t.Fatal(err)
		}
		if want := len(regexp.MustCompile(`(?m)^\s*- (alert|record): `).FindAll(ruleFile, -1)); count != want {
			t.Errorf("Prometheus loaded %d rules, want the %d of vigil-rules.yml", count, want)
		}
	})

	values := map[string]string{
		"__rate_interval": "1m",
		"__interval":      "15s",
		"__range":         "5m",
		"datasource":      "prometheus",
	}
	deadline = time.Now().Add(30 * time.Second)
	for _, d := range All() {
		t.Run(d.UID, func(t *testing.T) {
			vars := map[string]string{}
			for k, v := range values {
				vars[k] = v
			}
			for _, v := range d.Templating.List {
				if v.Type != "query" {
					continue
				}
				m := labelValuesQuery.FindStringSubmatch(v.Query)
				if m == nil {
					t.Fatalf("variable %s: %q is not label_values(selector, label)", v.Name, v.Query)
				}
				selector, err := substitute(m[1], vars)
				if err != nil {
					t.Fatalf("variable %s: %v", v.Name, err)
				}
				found, err := prom.labelValues(selector, m[2])
				if err != nil || len(found) == 0 {
					t.Fatalf("variable %s: label_values(%s, %s) = %v, %v; want values", v.Name, selector, m[2], found, err)
				}
				// "All" for multi-value variables, as a user would start.
				vars[v.Name] = found[0]
				if v.IncludeAll {
					vars[v.Name] = v.AllValue
				}
			}

			type namedQuery struct{ name, panel, expr string }
			var queries []namedQuery
			for _, p := range d.Panels {
				for _, target := range p.Targets {
					queries = append(queries, namedQuery{d.Title + "/" + p.Title + "/" + target.RefID, d.Title + "/" + p.Title, target.Expr})
				}
			}
			for _, a := range d.Annotations.List {
				queries = append(queries, namedQuery{d.Title + "/annotation " + a.Name, "", a.Expr})
			}
			for _, q := range queries {
				t.Run(q.name, func(t *testing.T) {
					if land.natsURL == "" && slices.Contains(messagingPanels, q.panel) {
						testenv.Need(t, "NATS is not reachable: no messaging check, no data for %s", q.panel)
					}
					expr, err := substitute(q.expr, vars)
					if err != nil {
						t.Fatal(err)
					}
					reason, emptyOK := mayBeEmpty[q.name]
					if r, ok := basicEmpty[q.name]; ok && profile == "basic" {
						reason, emptyOK = r, true
					}
					wait := deadline
					if emptyOK {
						wait = time.Now() // parse it, do not wait for data
					}
					n, err := prom.pollQuery(expr, wait)
					if err != nil {
						t.Fatalf("query %s: %v", expr, err)
					}
					if n == 0 && !emptyOK {
						t.Errorf("query returned no data:\n%s", expr)
					}
					if n == 0 && emptyOK {
						t.Logf("empty, as expected: %s", reason)
					}
				})
			}
		})
	}
}
