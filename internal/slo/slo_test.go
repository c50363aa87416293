package slo

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	openslo "github.com/OpenSLO/oslo/pkg/manifest/v1"
	slothv1 "github.com/slok/sloth/pkg/prometheus/api/v1"
	yamlv3 "gopkg.in/yaml.v3"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/internal/testenv"
)

// testConfig has every kind of window: rolling 30d, 28d and 7d, calendar
// months and weeks in zones, and names with '_' (not DNS labels).
const testConfig = `agent: {region: kr-central-1}
defaults:
  slo: {objective: 99.9}
services:
  - name: talk
    title: KakaoTalk
    features:
      - name: message-send-receive
        title: "Messages: send / receive"
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
      - name: talk_drawer
        slo: {objective: 99.95, window: 28d}
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
  - name: pay
    features:
      - name: transfer
        slo: {objective: 99.99, window: calendar-month, timezone: Asia/Seoul}
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
      - name: card
        slo: {objective: 99.5, window: calendar-week, timezone: Europe/Berlin}
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
      - name: refund
        slo: {objective: 99.0000001, window: calendar-month}
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
      - name: statement
        slo: {window: 7d}
        checks: [{name: api, http: {url: "http://127.0.0.1:8080/"}}]
`

func objectives(t *testing.T) []Objective {
	t.Helper()
	cfg, err := config.Parse("vigil.yml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	return FromConfig(cfg)
}

// splitDocs splits a YAML stream into its documents' bytes.
func splitDocs(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("exported YAML: %v", err)
		}
		b, err := yaml.Marshal(&n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

// strictOpenSLO decodes doc into v with OpenSLO's own Go types
// (github.com/OpenSLO/oslo), refusing fields they do not know.
func strictOpenSLO(t *testing.T, doc []byte, v any) {
	t.Helper()
	dec := yamlv3.NewDecoder(bytes.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("OpenSLO document does not decode into %T: %v\n%s", v, err, doc)
	}
}

// TestOpenSLOExport: the documents decode into OpenSLO's own types and hold
// what the specification requires: an SLI per feature, and an SLO that
// refers to it with one time window and one objective.
func TestOpenSLOExport(t *testing.T) {
	objs := objectives(t)
	out, notes, err := Export(objs, FormatOpenSLO)
	if err != nil || len(notes) != 0 {
		t.Fatalf("Export: %v, notes %v", err, notes)
	}
	slis := map[string]openslo.SLI{}
	var slos []openslo.SLO
	services := 0
	for _, doc := range splitDocs(t, out) {
		var head openslo.ObjectGeneric
		strictOpenSLO(t, doc, &struct {
			openslo.ObjectGeneric `yaml:",inline"`
			Rest                  map[string]any `yaml:",inline"`
		}{})
		if err := yamlv3.Unmarshal(doc, &head); err != nil {
			t.Fatal(err)
		}
		if head.APIVersion != openslo.APIVersion {
			t.Errorf("apiVersion %q, want %q", head.APIVersion, openslo.APIVersion)
		}
		switch head.Kind {
		case openslo.KindService:
			var s openslo.Service
			strictOpenSLO(t, doc, &s)
			services++
		case openslo.KindSLI:
			var s openslo.SLI
			strictOpenSLO(t, doc, &s)
			slis[s.Metadata.Name] = s
		case openslo.KindSLO:
			var s openslo.SLO
			strictOpenSLO(t, doc, &s)
			slos = append(slos, s)
		default:
			t.Errorf("unexpected kind %q", head.Kind)
		}
	}
	if services != 2 || len(slis) != len(objs) || len(slos) != len(objs) {
		t.Fatalf("%d services, %d SLIs, %d SLOs; want 2, %d, %d", services, len(slis), len(slos), len(objs), len(objs))
	}
	dns := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	for i, s := range slos {
		o := objs[i]
		sli, ok := slis[*s.Spec.IndicatorRef]
		switch {
		case !ok:
			t.Errorf("%s: indicatorRef %q names no SLI", s.Metadata.Name, *s.Spec.IndicatorRef)
		case sli.Spec.ThresholdMetric == nil || sli.Spec.ThresholdMetric.MetricSource.MetricSourceSpec["query"] != o.selector():
			t.Errorf("%s: SLI %+v, want a threshold metric on %s", s.Metadata.Name, sli.Spec, o.selector())
		}
		if !dns.MatchString(s.Metadata.Name) || len(s.Spec.TimeWindow) != 1 || len(s.Spec.Objectives) != 1 ||
			s.Spec.BudgetingMethod != "Occurrences" || s.Spec.Objectives[0].Target != o.ratio() || s.Spec.Objectives[0].Op != "gte" {
			t.Errorf("SLO %+v does not state %+v", s, o)
		}
		tw := s.Spec.TimeWindow[0]
		if o.Window.Calendar != "" && (tw.IsRolling || tw.Calendar == nil) {
			t.Errorf("%s: calendar window written as %+v", s.Metadata.Name, tw)
		}
	}
	if tw := slos[2].Spec.TimeWindow[0]; tw.Duration != "1M" || tw.Calendar.TimeZone != "Asia/Seoul" || tw.Calendar.StartTime != "2026-01-01 00:00:00" {
		t.Errorf("pay/transfer's window %+v %+v, want 1M from 2026-01-01 00:00:00 in Asia/Seoul", tw, tw.Calendar)
	}
}

// TestOpenSLORoundTrip: export → import gives the same objectives, and the
// imported fragment, once features have checks, is a config the agent loads
// with those objectives.
func TestOpenSLORoundTrip(t *testing.T) {
	objs := objectives(t)
	out, _, err := Export(objs, FormatOpenSLO)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ImportOpenSLO("slos.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	want := slices(objs, func(o Objective) Objective { o.ServiceTitle = ""; return o })
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("round trip\n got %+v\nwant %+v", back, want)
	}

	frag, err := Fragment(back, "slos.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(frag, &doc); err != nil {
		t.Fatalf("fragment is not YAML: %v\n%s", err, frag)
	}
	doc["agent"] = map[string]any{"region": "kr-central-1"}
	for _, s := range doc["services"].([]any) {
		for _, f := range s.(map[string]any)["features"].([]any) {
			f.(map[string]any)["checks"] = []any{map[string]any{"name": "api", "http": map[string]any{"url": "http://127.0.0.1:8080/"}}}
		}
	}
	merged, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("merged.yml", merged)
	if err != nil {
		t.Fatalf("the fragment with checks is refused: %v\n%s", err, frag)
	}
	if got := slices(FromConfig(cfg), func(o Objective) Objective { o.ServiceTitle = ""; return o }); !reflect.DeepEqual(got, want) {
		t.Errorf("config from the fragment\n got %+v\nwant %+v", got, want)
	}
}

func slices(in []Objective, f func(Objective) Objective) []Objective {
	out := make([]Objective, len(in))
	for i, o := range in {
		out[i] = f(o)
	}
	return out
}

// The rules Sloth's validation applies (pkg/common/validation, not
// imported: its model package brings in Kubernetes' apimachinery).
var (
	slothNameRe   = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$`)
	slothWindowRe = regexp.MustCompile(`{{ *\.window *}}`)
)

// TestSlothExport: the specs decode into Sloth's own prometheus/v1 types
// with no unknown field, pass the rules Sloth validates by, and their
// queries, the window filled in, are PromQL that promtool accepts.
func TestSlothExport(t *testing.T) {
	objs := objectives(t)
	out, notes, err := Export(objs, FormatSloth)
	if err != nil {
		t.Fatal(err)
	}
	wantNotes := []string{"talk/talk_drawer: window 4w", "pay/transfer: window calendar-month in Asia/Seoul", "pay/card: window calendar-week in Europe/Berlin",
		"pay/refund: window calendar-month in UTC", "pay/statement: window 1w"}
	if len(notes) != len(wantNotes) {
		t.Errorf("notes %q, want one for each of %q", notes, wantNotes)
	}
	for i := range min(len(notes), len(wantNotes)) {
		if !strings.HasPrefix(notes[i], wantNotes[i]) {
			t.Errorf("note %q, want it to start %q", notes[i], wantNotes[i])
		}
	}
	var queries []string
	n := 0
	for _, doc := range splitDocs(t, out) {
		var spec slothv1.Spec
		decodeJSONStrict(t, doc, &spec)
		if spec.Version != slothv1.Version || !slothNameRe.MatchString(spec.Service) {
			t.Errorf("spec version %q service %q", spec.Version, spec.Service)
		}
		for _, s := range spec.SLOs {
			o := objs[n]
			n++
			if !slothNameRe.MatchString(s.Name) || s.Objective != o.Objective || s.Objective <= 0 || s.Objective > 100 {
				t.Errorf("SLO %q objective %v, want a Sloth name and %v", s.Name, s.Objective, o.Objective)
			}
			if s.SLI.Raw == nil || s.SLI.Events != nil || s.SLI.Plugin != nil || !slothWindowRe.MatchString(s.SLI.Raw.ErrorRatioQuery) {
				t.Errorf("SLO %q SLI %+v: want one raw query with {{.window}}", s.Name, s.SLI)
				continue
			}
			if s.Alerting.Name == "" || s.Alerting.PageAlert.Labels["severity"] != "page" || s.Alerting.TicketAlert.Labels["severity"] != "ticket" {
				t.Errorf("SLO %q alerting %+v", s.Name, s.Alerting)
			}
			queries = append(queries, slothWindowRe.ReplaceAllString(s.SLI.Raw.ErrorRatioQuery, "5m"))
		}
	}
	if n != len(objs) {
		t.Fatalf("%d SLOs in the specs, want %d", n, len(objs))
	}
	checkPromQL(t, queries)
}

// decodeJSONStrict decodes a YAML document into v as Sloth does (YAML to
// JSON, then its JSON tags), refusing unknown fields.
func decodeJSONStrict(t *testing.T, doc []byte, v any) {
	t.Helper()
	var generic any
	if err := yaml.Unmarshal(doc, &generic); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("document does not decode into %T: %v\n%s", v, err, doc)
	}
}

// checkPromQL has promtool (Debian's prometheus) parse each query as a
// recording rule.
func checkPromQL(t *testing.T, queries []string) {
	t.Helper()
	promtool := testenv.NeedTool(t, "promtool", "prometheus")
	var b strings.Builder
	b.WriteString("groups:\n  - name: vigil-slo-export\n    rules:\n")
	for i, q := range queries {
		b.WriteString("      - record: vigil:slo_export_" + strconv.Itoa(i) + "\n        expr: " + strconv.Quote(q) + "\n")
	}
	file := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s\n%s", err, out, b.String())
	}
}

// pyrraSLOSchema is pyrra.dev/v1alpha1 ServiceLevelObjective as Pyrra
// documents it (not imported: its module is a Kubernetes controller).
type pyrraSLOSchema struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace,omitempty"`
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Description string `json:"description,omitempty"`
		Target      string `json:"target"`
		Window      string `json:"window"`
		Indicator   struct {
			Ratio     *json.RawMessage `json:"ratio,omitempty"`
			Latency   *json.RawMessage `json:"latency,omitempty"`
			BoolGauge *struct {
				Metric   string   `json:"metric"`
				Grouping []string `json:"grouping,omitempty"`
			} `json:"bool_gauge,omitempty"`
		} `json:"indicator"`
		Alerting *json.RawMessage `json:"alerting,omitempty"`
	} `json:"spec"`
}

// TestPyrraExport: each document fits Pyrra's documented schema: target a
// percentage string, window a Prometheus duration, one indicator (a
// bool_gauge on the feature's vigil_feature_up) and a DNS-label name.
func TestPyrraExport(t *testing.T) {
	objs := objectives(t)
	out, notes, err := Export(objs, FormatPyrra)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 3 {
		t.Errorf("notes %q, want one per calendar window (3)", notes)
	}
	dns := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	windows := []string{"30d", "4w", "30d", "1w", "30d", "1w"}
	var queries []string
	for i, doc := range splitDocs(t, out) {
		var p pyrraSLOSchema
		decodeJSONStrict(t, doc, &p)
		o := objs[i]
		target, err := strconv.ParseFloat(p.Spec.Target, 64)
		if p.APIVersion != "pyrra.dev/v1alpha1" || p.Kind != "ServiceLevelObjective" || !dns.MatchString(p.Metadata.Name) ||
			err != nil || target != o.Objective || p.Spec.Window != windows[i] {
			t.Errorf("document %d: %+v; want target %v window %s", i, p, o.Objective, windows[i])
		}
		if _, err := time.ParseDuration(strings.Replace(strings.Replace(p.Spec.Window, "w", "h", 1), "d", "h", 1)); err != nil {
			t.Errorf("window %q is no duration", p.Spec.Window)
		}
		if g := p.Spec.Indicator.BoolGauge; g == nil || p.Spec.Indicator.Ratio != nil || p.Spec.Indicator.Latency != nil || g.Metric != o.selector() {
			t.Errorf("document %d: indicator %+v, want a bool_gauge on %s", i, p.Spec.Indicator, o.selector())
		} else {
			queries = append(queries, g.Metric)
		}
	}
	checkPromQL(t, queries)
}

// TestImportOpenSLOErrors: each problem names the file, the document and
// the field (with its line).
func TestImportOpenSLOErrors(t *testing.T) {
	const head = "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: send}\nspec:\n  service: talk\n  budgetingMethod: Occurrences\n"
	const window = "  timeWindow: [{duration: 30d, isRolling: true}]\n"
	const objective = "  objectives: [{target: 0.999}]\n"
	cases := []struct {
		name, doc, want string
	}{
		{"target out of range", head + window + "  objectives: [{target: 1.5}]\n",
			`slos.yaml: document 2 (line 13): spec.objectives[0].target: "1.5" is not a ratio in (0, 1)`},
		{"two objectives", head + window + "  objectives: [{target: 0.9}, {target: 0.99}]\n",
			`slos.yaml: document 2 (line 13): spec.objectives: has 2 objectives: Vigil keeps one per feature`},
		{"ratio timeslices", strings.Replace(head, "Occurrences", "RatioTimeslices", 1) + window + objective,
			`slos.yaml: document 2 (line 11): spec.budgetingMethod: "RatioTimeslices" does not map`},
		{"quarter", head + "  timeWindow: [{duration: 1Q, isRolling: false, calendar: {startTime: \"2026-01-01 00:00:00\", timeZone: UTC}}]\n" + objective,
			`slos.yaml: document 2 (line 12): spec.timeWindow[0].duration: calendar window "1Q": Vigil's calendar windows are 1M (calendar-month) and 1w (calendar-week)`},
		{"month not from the 1st", head + "  timeWindow: [{duration: 1M, isRolling: false, calendar: {startTime: \"2026-01-15 00:00:00\", timeZone: Asia/Seoul}}]\n" + objective,
			`slos.yaml: document 2 (line 12): spec.timeWindow[0].calendar.startTime: "2026-01-15 00:00:00": Vigil's calendar periods start at midnight`},
		{"unknown zone", head + "  timeWindow: [{duration: 1w, isRolling: false, calendar: {startTime: \"2026-01-05 00:00:00\", timeZone: Mars/Olympus}}]\n" + objective,
			`slos.yaml: document 2 (line 12): spec.timeWindow[0].calendar.timeZone: unknown time zone "Mars/Olympus"`},
		{"rolling month", head + "  timeWindow: [{duration: 1M, isRolling: true}]\n" + objective,
			`slos.yaml: document 2 (line 12): spec.timeWindow[0].duration: "1M": a rolling window in Vigil has a fixed length`},
		{"not a Vigil name", strings.Replace(head, "name: send", "name: Send.Mail", 1) + window + objective,
			`slos.yaml: document 2 (line 8): metadata.name: "Send.Mail" is not a Vigil name`},
		{"no target", head + window + "  objectives: [{displayName: x}]\n",
			`slos.yaml: document 2 (line 13): spec.objectives[0].target: is required`},
		{"v1alpha", strings.Replace(head, "openslo/v1", "openslo/v1alpha", 1) + window + objective,
			`slos.yaml: document 2 (line 6): apiVersion: "openslo/v1alpha": only openslo/v1 is read`},
	}
	for _, c := range cases {
		// Document 1 is an SLI, which import skips.
		data := "apiVersion: openslo/v1\nkind: SLI\nmetadata: {name: x}\nspec: {}\n---\n" + c.doc
		_, err := ImportOpenSLO("slos.yaml", []byte(data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v\nwant it to contain %s", c.name, err, c.want)
		}
	}
	if _, err := ImportOpenSLO("slos.yaml", []byte(head+window+objective+"---\n"+head+window+objective)); err == nil ||
		!strings.Contains(err.Error(), "document 2 (line 9): metadata.name: feature talk/send is also in document 1") {
		t.Errorf("duplicate feature: %v", err)
	}
	got, err := ImportOpenSLO("slos.yaml", []byte(strings.Replace(head, "Occurrences", "Timeslices", 1)+
		"  timeWindow: [{duration: 1w, isRolling: false, calendar: {startTime: \"2026-01-05T00:00:00Z\", timeZone: Europe/Berlin}}]\n"+objective))
	want := []Objective{{Service: "talk", Feature: "send", Objective: 99.9, Window: config.SLOWindow{Calendar: config.CalendarWeek}, Timezone: "Europe/Berlin"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Timeslices, calendar week from a Monday in oslo's startTime form: %+v, %v; want %+v", got, err, want)
	}
}
