package slo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/internal/config"
)

// ImportError is a problem with one OpenSLO document: the file, the
// document's index in it (1-based), the line and the field.
type ImportError struct {
	File     string
	Document int
	Line     int
	Field    string
	Msg      string
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: document %d", e.File, e.Document)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

var (
	vigilNameRe = regexp.MustCompile(`^[a-z0-9_-]+$`)
	durationRe  = regexp.MustCompile(`^([1-9][0-9]*)([mhdwMQY])$`)
)

// The OpenSLO budgeting methods that map onto Vigil's time-based
// availability: the share of good occurrences or good time slices is the
// objective either way.
var budgetingMethods = map[string]bool{"Occurrences": true, "Timeslices": true}

// ImportOpenSLO reads the SLO documents of an OpenSLO v1 YAML stream (other
// kinds are skipped) as Vigil objectives: the feature is the
// vigil.dev/feature annotation or metadata.name, the service the
// vigil.dev/service annotation or spec.service, the objective the one
// objective's target, the window the time window (rolling m/h/d/w, or
// calendar 1M or 1w starting at a midnight of a 1st or of a Monday in its
// timeZone). Every problem is reported, each naming file, document and field.
func ImportOpenSLO(file string, data []byte) ([]Objective, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []Objective
	var errs []error
	seen := map[string]int{}
	for index := 1; ; index++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, &ImportError{File: file, Document: index, Msg: fmt.Sprintf("not YAML: %v", err)})
			break
		}
		r := &docReader{file: file, index: index}
		o, ok := r.objective(&doc)
		errs = append(errs, r.errs...)
		if !ok {
			continue
		}
		key := o.Service + "/" + o.Feature
		if first, dup := seen[key]; dup {
			errs = append(errs, &ImportError{File: file, Document: index, Line: doc.Line, Field: "metadata.name",
				Msg: fmt.Sprintf("feature %s is also in document %d: Vigil keeps one objective per feature", key, first)})
			continue
		}
		seen[key] = index
		out = append(out, o)
	}
	if len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no OpenSLO SLO document (kind: SLO) in it", file)
	}
	return out, nil
}

// docReader reads one document, collecting its problems.
type docReader struct {
	file  string
	index int
	errs  []error
}

func (r *docReader) fail(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	r.errs = append(r.errs, &ImportError{File: r.file, Document: r.index, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// get returns the value under key of mapping n, nil if n is no mapping or
// lacks it.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// str reads a required (or optional) string at field.
func (r *docReader) str(parent *yaml.Node, key, field string, required bool) string {
	n := get(parent, key)
	if n == nil || n.Tag == "!!null" {
		if required {
			r.fail(parent, field, "is required")
		}
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		r.fail(n, field, "must be a single value")
		return ""
	}
	return n.Value
}

// objective reads doc; ok is false for another kind or a bad SLO.
func (r *docReader) objective(doc *yaml.Node) (Objective, bool) {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		r.fail(root, "", "is not a mapping (an OpenSLO object)")
		return Objective{}, false
	}
	if kind := r.str(root, "kind", "kind", true); kind != "SLO" {
		return Objective{}, false
	}
	if v := r.str(root, "apiVersion", "apiVersion", true); v != "" && v != "openslo/v1" {
		r.fail(get(root, "apiVersion"), "apiVersion", "%q: only openslo/v1 is read", v)
	}
	before := len(r.errs)
	meta, spec := get(root, "metadata"), get(root, "spec")
	if spec == nil {
		r.fail(root, "spec", "is required")
		return Objective{}, false
	}
	var o Objective
	annotations := get(meta, "annotations")
	o.Feature = r.str(annotations, annotationFeature, "metadata.annotations."+annotationFeature, false)
	featureField := "metadata.annotations." + annotationFeature
	if o.Feature == "" {
		o.Feature, featureField = r.str(meta, "name", "metadata.name", true), "metadata.name"
	}
	o.Title = r.str(meta, "displayName", "metadata.displayName", false)
	o.Service = r.str(annotations, annotationService, "metadata.annotations."+annotationService, false)
	serviceField := "metadata.annotations." + annotationService
	if o.Service == "" {
		o.Service, serviceField = r.str(spec, "service", "spec.service", true), "spec.service"
	}
	for _, n := range []struct{ value, field string }{{o.Feature, featureField}, {o.Service, serviceField}} {
		if n.value != "" && !vigilNameRe.MatchString(n.value) {
			r.fail(meta, n.field, "%q is not a Vigil name ([a-z0-9_-]+)", n.value)
		}
	}
	if m := r.str(spec, "budgetingMethod", "spec.budgetingMethod", true); m != "" && !budgetingMethods[m] {
		r.fail(get(spec, "budgetingMethod"), "spec.budgetingMethod", "%q does not map onto Vigil's time-based availability (Occurrences or Timeslices do)", m)
	}
	r.objectiveTarget(spec, &o)
	r.timeWindow(spec, &o)
	return o, len(r.errs) == before
}

// objectiveTarget reads spec.objectives: exactly one, with a target ratio.
func (r *docReader) objectiveTarget(spec *yaml.Node, o *Objective) {
	objs := get(spec, "objectives")
	if objs == nil || objs.Kind != yaml.SequenceNode || len(objs.Content) == 0 {
		r.fail(spec, "spec.objectives", "needs one objective with a target")
		return
	}
	if len(objs.Content) > 1 {
		r.fail(objs, "spec.objectives", "has %d objectives: Vigil keeps one per feature", len(objs.Content))
		return
	}
	field := "spec.objectives[0].target"
	t := r.str(objs.Content[0], "target", field, true)
	if t == "" {
		return
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v > 0 && v < 1) {
		r.fail(get(objs.Content[0], "target"), field, "%q is not a ratio in (0, 1) such as 0.999", t)
		return
	}
	o.Objective = percentOf(v)
}

// timeWindow reads spec.timeWindow: one rolling or calendar window.
func (r *docReader) timeWindow(spec *yaml.Node, o *Objective) {
	tws := get(spec, "timeWindow")
	if tws == nil || tws.Kind != yaml.SequenceNode || len(tws.Content) != 1 {
		r.fail(spec, "spec.timeWindow", "needs exactly one time window")
		return
	}
	tw := tws.Content[0]
	const field = "spec.timeWindow[0]"
	d := r.str(tw, "duration", field+".duration", true)
	if d == "" {
		return
	}
	m := durationRe.FindStringSubmatch(d)
	if m == nil {
		r.fail(get(tw, "duration"), field+".duration", "%q is not an OpenSLO duration such as 30d or 1M", d)
		return
	}
	n, _ := strconv.Atoi(m[1])
	rolling := false
	if v := get(tw, "isRolling"); v != nil {
		b, err := strconv.ParseBool(v.Value)
		if err != nil {
			r.fail(v, field+".isRolling", "%q is not true or false", v.Value)
			return
		}
		rolling = b
	}
	if rolling {
		unit := map[string]time.Duration{"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		if unit == 0 {
			r.fail(get(tw, "duration"), field+".duration", "%q: a rolling window in Vigil has a fixed length (m, h, d or w), not months, quarters or years", d)
			return
		}
		if w := time.Duration(n) * unit; w < time.Hour {
			r.fail(get(tw, "duration"), field+".duration", "%q: Vigil's SLO window is at least 1h", d)
		} else {
			o.Window = config.RollingWindow(w)
		}
		return
	}
	switch d {
	case "1M":
		o.Window = config.SLOWindow{Calendar: config.CalendarMonth}
	case "1w":
		o.Window = config.SLOWindow{Calendar: config.CalendarWeek}
	default:
		r.fail(get(tw, "duration"), field+".duration", "calendar window %q: Vigil's calendar windows are 1M (calendar-month) and 1w (calendar-week)", d)
		return
	}
	cal := get(tw, "calendar")
	if cal == nil {
		r.fail(tw, field+".calendar", "is required for a calendar window (isRolling: false)")
		return
	}
	zone := r.str(cal, "timeZone", field+".calendar.timeZone", true)
	loc, err := time.LoadLocation(zone)
	if zone == "" || err != nil {
		if zone != "" {
			r.fail(get(cal, "timeZone"), field+".calendar.timeZone", "unknown time zone %q", zone)
		}
		return
	}
	if zone != "UTC" {
		o.Timezone = zone
	}
	start := r.str(cal, "startTime", field+".calendar.startTime", true)
	if start == "" {
		return
	}
	t, err := time.ParseInLocation(openSLOStartLayout, start, loc)
	if err != nil {
		t, err = time.ParseInLocation("2006-01-02T15:04:05Z", start, loc)
	}
	if err != nil {
		r.fail(get(cal, "startTime"), field+".calendar.startTime", "%q is not a date and time such as 2026-01-01 00:00:00", start)
		return
	}
	if h, mi, s := t.Clock(); h != 0 || mi != 0 || s != 0 || (d == "1M" && t.Day() != 1) || (d == "1w" && t.Weekday() != time.Monday) {
		r.fail(get(cal, "startTime"), field+".calendar.startTime", "%q: Vigil's calendar periods start at midnight of the 1st (1M) or of a Monday (1w) in their zone", start)
	}
}

// fragment types: the keys of vigil.yml that an objective sets.
type (
	fragmentConfig struct {
		Services []fragmentService `yaml:"services"`
	}
	fragmentService struct {
		Name     string            `yaml:"name"`
		Features []fragmentFeature `yaml:"features"`
	}
	fragmentFeature struct {
		Name  string      `yaml:"name"`
		Title string      `yaml:"title,omitempty"`
		SLO   fragmentSLO `yaml:"slo"`
	}
	fragmentSLO struct {
		Objective float64 `yaml:"objective"`
		Window    string  `yaml:"window"`
		Timezone  string  `yaml:"timezone,omitempty"`
	}
)

// Fragment writes objectives as the services block of vigil.yml (names,
// titles and slo keys), for merging into a config whose features then need
// their checks. source names where they came from, in a comment.
func Fragment(objectives []Objective, source string) ([]byte, error) {
	var cfg fragmentConfig
	index := map[string]int{}
	for _, o := range objectives {
		i, ok := index[o.Service]
		if !ok {
			i = len(cfg.Services)
			index[o.Service] = i
			cfg.Services = append(cfg.Services, fragmentService{Name: o.Service})
		}
		cfg.Services[i].Features = append(cfg.Services[i].Features, fragmentFeature{Name: o.Feature, Title: o.Title,
			SLO: fragmentSLO{Objective: o.Objective, Window: o.Window.String(), Timezone: o.Timezone}})
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Objectives imported from %s by `vigil slo import --format openslo`.\n", source)
	b.WriteString("# Merge into vigil.yml: each feature needs its checks (and the config its agent block).\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return nil, fmt.Errorf("slo import: write config fragment: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("slo import: write config fragment: %w", err)
	}
	return b.Bytes(), nil
}
