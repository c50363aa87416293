package slo

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/internal/config"
)

// The formats Export writes.
const (
	FormatOpenSLO = "openslo"
	FormatSloth   = "sloth"
	FormatPyrra   = "pyrra"
)

// Formats lists the formats Export writes, for usage texts.
func Formats() []string { return []string{FormatOpenSLO, FormatSloth, FormatPyrra} }

// Export writes objectives in format as a stream of YAML documents. Notes
// say what a format could not carry exactly (a calendar window for a tool
// that has none); the documents hold the closest equivalent and a comment.
func Export(objectives []Objective, format string) (out []byte, notes []string, err error) {
	var docs []any
	switch format {
	case FormatOpenSLO:
		docs, err = openSLODocuments(objectives)
	case FormatSloth:
		docs, notes = slothDocuments(objectives)
	case FormatPyrra:
		docs, notes = pyrraDocuments(objectives)
	default:
		return nil, nil, fmt.Errorf("slo export: unknown format %q (want %s)", format, strings.Join(Formats(), ", "))
	}
	if err != nil {
		return nil, nil, err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, nil, fmt.Errorf("slo export %s: %w", format, err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, nil, fmt.Errorf("slo export %s: %w", format, err)
	}
	return b.Bytes(), notes, nil
}

// dnsName makes a Vigil name (or two joined) a DNS-1123 label, as
// Kubernetes-style metadata.name wants: '_' becomes '-', ends trimmed.
func dnsName(parts ...string) string {
	s := strings.ReplaceAll(strings.Join(parts, "-"), "_", "-")
	s = strings.Trim(s, "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	if s == "" {
		s = "vigil"
	}
	return s
}

// OpenSLO v1 documents, as in the specification's SLO and SLI kinds.
type (
	openSLOMetadata struct {
		Name        string            `yaml:"name"`
		DisplayName string            `yaml:"displayName,omitempty"`
		Annotations map[string]string `yaml:"annotations,omitempty"`
	}
	openSLOService struct {
		APIVersion string          `yaml:"apiVersion"`
		Kind       string          `yaml:"kind"`
		Metadata   openSLOMetadata `yaml:"metadata"`
		Spec       struct {
			Description string `yaml:"description,omitempty"`
		} `yaml:"spec"`
	}
	openSLOMetricSource struct {
		MetricSource struct {
			Type string            `yaml:"type"`
			Spec map[string]string `yaml:"spec"`
		} `yaml:"metricSource"`
	}
	openSLOSLI struct {
		APIVersion string          `yaml:"apiVersion"`
		Kind       string          `yaml:"kind"`
		Metadata   openSLOMetadata `yaml:"metadata"`
		Spec       struct {
			ThresholdMetric openSLOMetricSource `yaml:"thresholdMetric"`
		} `yaml:"spec"`
	}
	openSLOCalendar struct {
		StartTime string `yaml:"startTime"`
		TimeZone  string `yaml:"timeZone"`
	}
	openSLOTimeWindow struct {
		Duration  string           `yaml:"duration"`
		IsRolling bool             `yaml:"isRolling"`
		Calendar  *openSLOCalendar `yaml:"calendar,omitempty"`
	}
	openSLOObjective struct {
		DisplayName string  `yaml:"displayName,omitempty"`
		Op          string  `yaml:"op,omitempty"`
		Value       float64 `yaml:"value"`
		Target      float64 `yaml:"target"`
	}
	openSLOSLO struct {
		APIVersion string          `yaml:"apiVersion"`
		Kind       string          `yaml:"kind"`
		Metadata   openSLOMetadata `yaml:"metadata"`
		Spec       struct {
			Description     string              `yaml:"description,omitempty"`
			Service         string              `yaml:"service"`
			IndicatorRef    string              `yaml:"indicatorRef"`
			BudgetingMethod string              `yaml:"budgetingMethod"`
			TimeWindow      []openSLOTimeWindow `yaml:"timeWindow"`
			Objectives      []openSLOObjective  `yaml:"objectives"`
		} `yaml:"spec"`
	}
)

// The annotations that carry Vigil's own names through OpenSLO (whose
// metadata.name is a DNS label, where Vigil's names may hold '_').
const (
	annotationService = "vigil.dev/service"
	annotationFeature = "vigil.dev/feature"
)

// The first period the calendar windows count from: any period start will
// do for OpenSLO's calendar.startTime; these are midnight of a 1st and of a
// Monday.
var (
	calendarMonthStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	calendarWeekStart  = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
)

// openSLOStartLayout is calendar.startTime's layout in the specification:
// a date and time without a zone (the zone is timeZone).
const openSLOStartLayout = "2006-01-02 15:04:05"

func openSLOTimeWindowOf(o Objective) (openSLOTimeWindow, error) {
	zone := o.Timezone
	if zone == "" {
		zone = "UTC"
	}
	switch o.Window.Calendar {
	case config.CalendarMonth:
		return openSLOTimeWindow{Duration: "1M", Calendar: &openSLOCalendar{StartTime: calendarMonthStart.Format(openSLOStartLayout), TimeZone: zone}}, nil
	case config.CalendarWeek:
		return openSLOTimeWindow{Duration: "1w", Calendar: &openSLOCalendar{StartTime: calendarWeekStart.Format(openSLOStartLayout), TimeZone: zone}}, nil
	}
	d, err := shorthand(o.Window.Rolling)
	if err != nil {
		return openSLOTimeWindow{}, fmt.Errorf("slo export openslo: %s/%s: window %s: %w", o.Service, o.Feature, o.Window, err)
	}
	return openSLOTimeWindow{Duration: d, IsRolling: true}, nil
}

// shorthand writes d in OpenSLO's duration shorthand (m, h, d, w) in the
// largest unit that divides it.
func shorthand(d time.Duration) (string, error) {
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}} {
		if d > 0 && d%u.d == 0 {
			return fmt.Sprintf("%d%s", d/u.d, u.suffix), nil
		}
	}
	return "", fmt.Errorf("not a whole number of minutes, which OpenSLO's durations need")
}

// openSLODocuments: a Service per service, then per feature its SLI and its
// SLO. The SLI is a threshold metric: a sample of vigil_feature_up ≥ 1 is
// good; budgeting by occurrences counts samples.
func openSLODocuments(objectives []Objective) ([]any, error) {
	var docs []any
	services := map[string]bool{}
	for _, o := range objectives {
		if !services[o.Service] {
			services[o.Service] = true
			s := openSLOService{APIVersion: "openslo/v1", Kind: "Service",
				Metadata: openSLOMetadata{Name: dnsName(o.Service), DisplayName: o.ServiceTitle,
					Annotations: map[string]string{annotationService: o.Service}}}
			s.Spec.Description = "Vigil service " + o.Service
			docs = append(docs, s)
		}
		name := dnsName(o.Service, o.Feature)
		annotations := map[string]string{annotationService: o.Service, annotationFeature: o.Feature}
		sli := openSLOSLI{APIVersion: "openslo/v1", Kind: "SLI",
			Metadata: openSLOMetadata{Name: name + "-up", Annotations: annotations}}
		sli.Spec.ThresholdMetric.MetricSource.Type = "Prometheus"
		sli.Spec.ThresholdMetric.MetricSource.Spec = map[string]string{"query": o.selector()}
		tw, err := openSLOTimeWindowOf(o)
		if err != nil {
			return nil, err
		}
		slo := openSLOSLO{APIVersion: "openslo/v1", Kind: "SLO",
			Metadata: openSLOMetadata{Name: name, DisplayName: o.Title, Annotations: annotations}}
		slo.Spec.Description = o.describe()
		slo.Spec.Service = dnsName(o.Service)
		slo.Spec.IndicatorRef = sli.Metadata.Name
		slo.Spec.BudgetingMethod = "Occurrences"
		slo.Spec.TimeWindow = []openSLOTimeWindow{tw}
		slo.Spec.Objectives = []openSLOObjective{{DisplayName: "not down", Op: "gte", Value: 1, Target: o.ratio()}}
		docs = append(docs, sli, slo)
	}
	return docs, nil
}

// Sloth prometheus/v1 specs (github.com/slok/sloth/pkg/prometheus/api/v1).
type (
	slothSpec struct {
		Version string            `yaml:"version"`
		Service string            `yaml:"service"`
		Labels  map[string]string `yaml:"labels,omitempty"`
		SLOs    []slothSLO        `yaml:"slos"`
	}
	slothSLO struct {
		Name        string            `yaml:"name"`
		Objective   float64           `yaml:"objective"`
		Description string            `yaml:"description,omitempty"`
		Labels      map[string]string `yaml:"labels,omitempty"`
		SLI         struct {
			Raw struct {
				ErrorRatioQuery string `yaml:"error_ratio_query"`
			} `yaml:"raw"`
		} `yaml:"sli"`
		Alerting slothAlerting `yaml:"alerting"`
	}
	slothAlerting struct {
		Name        string     `yaml:"name"`
		PageAlert   slothAlert `yaml:"page_alert"`
		TicketAlert slothAlert `yaml:"ticket_alert"`
	}
	slothAlert struct {
		Labels map[string]string `yaml:"labels,omitempty"`
	}
)

// slothPeriods are the SLO periods Sloth ships alert windows for.
var slothPeriods = map[time.Duration]bool{28 * 24 * time.Hour: true, 30 * 24 * time.Hour: true}

// slothDocuments: one spec per service. Sloth's spec has no window: the
// period is `sloth generate --default-slo-period` (30d by default), so a
// feature whose window differs is noted.
func slothDocuments(objectives []Objective) ([]any, []string) {
	var docs []any
	var notes []string
	index := map[string]int{}
	var specs []*slothSpec
	for _, o := range objectives {
		i, ok := index[o.Service]
		if !ok {
			i = len(specs)
			index[o.Service] = i
			specs = append(specs, &slothSpec{Version: "prometheus/v1", Service: slothName(o.Service),
				Labels: map[string]string{"vigil_service": o.Service}})
		}
		s := slothSLO{Name: slothName(o.Feature), Objective: o.Objective, Description: o.describe(),
			Labels: map[string]string{"vigil_feature": o.Feature}}
		s.SLI.Raw.ErrorRatioQuery = fmt.Sprintf("1 - avg_over_time(%s[{{.window}}])", o.selector())
		s.Alerting = slothAlerting{Name: alertName(o.Service, o.Feature),
			PageAlert: slothAlert{Labels: map[string]string{"severity": "page"}}, TicketAlert: slothAlert{Labels: map[string]string{"severity": "ticket"}}}
		specs[i].SLOs = append(specs[i].SLOs, s)
		if d, exact := o.rollingEquivalent(); !exact || !slothPeriods[d] || d != 30*24*time.Hour {
			notes = append(notes, fmt.Sprintf("%s/%s: window %s: Sloth's spec has no window; generate with --default-slo-period=%s%s",
				o.Service, o.Feature, o.windowText(), shortDuration(d), slothCaveat(exact, d)))
		}
	}
	for _, s := range specs {
		docs = append(docs, s)
	}
	return docs, notes
}

func slothCaveat(exact bool, d time.Duration) string {
	switch {
	case !exact:
		return " (Sloth has no calendar windows: a rolling window of about the period's length)"
	case !slothPeriods[d]:
		return " and a windows file for it (Sloth ships alert windows for 28d and 30d only)"
	}
	return ""
}

// slothName makes a Vigil name one Sloth accepts
// (^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$).
func slothName(name string) string {
	s := strings.Trim(name, "-_")
	if len(s) < 2 {
		s = "vigil-" + name
		s = strings.Trim(s, "-_")
	}
	return s
}

// alertName is an alert name for a feature: VigilSLO plus its names in
// camel case.
func alertName(service, feature string) string {
	var b strings.Builder
	b.WriteString("VigilSLO")
	for _, part := range strings.FieldsFunc(service+"-"+feature, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func shortDuration(d time.Duration) string {
	s, err := shorthand(d)
	if err != nil {
		return d.String()
	}
	return s
}

// Pyrra pyrra.dev/v1alpha1 ServiceLevelObjective, as documented.
type (
	pyrraSLO struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name   string            `yaml:"name"`
			Labels map[string]string `yaml:"labels,omitempty"`
		} `yaml:"metadata"`
		Spec struct {
			Target      string `yaml:"target"`
			Window      string `yaml:"window"`
			Description string `yaml:"description,omitempty"`
			Indicator   struct {
				BoolGauge struct {
					Metric   string   `yaml:"metric"`
					Grouping []string `yaml:"grouping,omitempty"`
				} `yaml:"bool_gauge"`
			} `yaml:"indicator"`
		} `yaml:"spec"`
	}
)

// pyrraDocuments: one ServiceLevelObjective per feature with a bool_gauge
// indicator on vigil_feature_up, grouped by region (each agent judges from
// its own region). Pyrra has no calendar windows (its issue 1576).
func pyrraDocuments(objectives []Objective) ([]any, []string) {
	var docs []any
	var notes []string
	for _, o := range objectives {
		p := pyrraSLO{APIVersion: "pyrra.dev/v1alpha1", Kind: "ServiceLevelObjective"}
		p.Metadata.Name = dnsName(o.Service, o.Feature)
		p.Metadata.Labels = map[string]string{"vigil.dev/service": dnsName(o.Service), "vigil.dev/feature": dnsName(o.Feature)}
		p.Spec.Target = fmt.Sprint(o.Objective)
		d, exact := o.rollingEquivalent()
		p.Spec.Window = shortDuration(d)
		p.Spec.Description = o.describe()
		p.Spec.Indicator.BoolGauge.Metric = o.selector()
		p.Spec.Indicator.BoolGauge.Grouping = []string{"region"}
		if !exact {
			notes = append(notes, fmt.Sprintf("%s/%s: window %s: Pyrra has no calendar windows; written as the rolling %s",
				o.Service, o.Feature, o.windowText(), p.Spec.Window))
		}
		docs = append(docs, p)
	}
	return docs, notes
}
